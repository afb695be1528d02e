/**
 * Every failure type cryoet-temporal throws, in one list.
 *
 * The names travel as `ApplicationFailure.type` through Temporal, so workflows and
 * retry policies can match on them. Bad input is never retryable; transient faults
 * (SSH resets, scheduler timeouts) are.
 */
export const ErrorType = {
  /** temporal.yaml (or another config file) failed validation. Not retryable. */
  ConfigInvalid: 'ConfigInvalid',
  /** A name that would reach a shell or a Slurm field is not in the safe grammar. Not retryable. */
  NameInvalid: 'NameInvalid',
  /** A named cluster is not in temporal.yaml. Not retryable. */
  ClusterUnknown: 'ClusterUnknown',
  /** The SSH server presented a host key that known_hosts does not list. Not retryable. */
  HostKeyRejected: 'HostKeyRejected',
  /** SSH connection could not be made or dropped mid-command. Retryable. */
  SshUnavailable: 'SshUnavailable',
  /** A remote command ran past its timeout. Retryable. */
  CommandTimeout: 'CommandTimeout',
  /** sbatch refused the job for a reason that resubmitting will not fix. Not retryable. */
  SubmitRejected: 'SubmitRejected',
  /** sbatch printed something that is not `<id>` or `<id>;<cluster>`. Retryable. */
  SubmitOutputUnreadable: 'SubmitOutputUnreadable',
  /** The scheduler status call failed; the last known state is kept. Retryable. */
  StatusQueryFailed: 'StatusQueryFailed',
  /** A Slurm job ended in a failed state (FAILED, TIMEOUT, OUT_OF_MEMORY, ...). */
  JobFailed: 'JobFailed',
  /** A job ended COMPLETED but its result marker is missing or says non-zero. */
  ResultMarkerMissing: 'ResultMarkerMissing',
  /** Every placement rung hung; the message lists each rung and its pending reason. Not retryable. */
  LadderExhausted: 'LadderExhausted',
  /** A file the job should have written is not there. */
  OutputMissing: 'OutputMissing',
  /**
   * An output folder on the cluster cannot be created or written (a path part is a file,
   * no permission, read-only, full). Not retryable.
   */
  OutputUnwritable: 'OutputUnwritable',
  /** A campaign input (file, field or file content) is missing or malformed. Not retryable. */
  InputInvalid: 'InputInvalid',
  /** A tool ran and exited non-zero, or wrote output that cannot be used. Not retryable. */
  ToolFailed: 'ToolFailed',
  /**
   * A job queued behind other jobs (`--dependency=afterok`) can never start: one of them
   * ended other than COMPLETED (failed, lost its node, cancelled). Not retryable; the caller
   * submits the step again once its inputs are ready.
   */
  DependencyFailed: 'DependencyFailed',
  /**
   * One step of a campaign (`<id>/refine`) was cancelled on its own; the campaign cannot go
   * on without it. Not retryable.
   */
  StepCancelled: 'StepCancelled',
} as const;

export type ErrorTypeName = (typeof ErrorType)[keyof typeof ErrorType];

/** Error types a retry policy must never retry. */
export const nonRetryableErrorTypes: readonly ErrorTypeName[] = [
  ErrorType.ConfigInvalid,
  ErrorType.NameInvalid,
  ErrorType.ClusterUnknown,
  ErrorType.HostKeyRejected,
  ErrorType.SubmitRejected,
  ErrorType.LadderExhausted,
  ErrorType.InputInvalid,
  ErrorType.ToolFailed,
  ErrorType.OutputUnwritable,
  ErrorType.DependencyFailed,
  ErrorType.StepCancelled,
];

/**
 * An error raised outside the Temporal sandbox (config loading, SSH) that carries one of
 * the types above. Activities turn it into an ApplicationFailure with the same type.
 */
export class CryoError extends Error {
  constructor(
    readonly type: ErrorTypeName,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = type;
  }

  get nonRetryable(): boolean {
    return nonRetryableErrorTypes.includes(this.type);
  }
}

/** The innermost message of a failure and its causes (child, activity): what actually went wrong. */
export function innermostMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let message = e?.message ?? String(err);
  while (e?.cause) {
    e = e.cause as { message?: string; cause?: unknown };
    if (e?.message) message = e.message;
  }
  return message;
}

/** Whether a failure or any of its causes (child, activity) has error type `type`. */
export function hasErrorType(err: unknown, type: ErrorTypeName): boolean {
  for (let e = err as { type?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type === type) return true;
  }
  return false;
}
