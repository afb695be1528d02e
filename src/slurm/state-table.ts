/**
 * The one translation from Slurm's job states and pending reasons to our moves.
 *
 * Slurm's spelling stays on the left, our lower-case vocabulary on the right. Live
 * jobs are read from squeue (`%T`, `%r`); the same names come from sacct `State`,
 * where they may carry `CANCELLED by <uid>` or a `+` suffix.
 */

/**
 * What the workflow does next with a job:
 * - `pending`: wait; an ordinary queue wait.
 * - `hang-candidate`: waiting for capacity that may never come; the hang clock runs.
 * - `running`: the job holds resources; its final state is still to come.
 * - `done`: ended COMPLETED; still needs a clean result marker to count as success.
 * - `failed-retryable`: ended for a limit that a retry with more time or memory may fix.
 * - `failed-final`: ended (or can never start); the workflow decides what to do.
 * - `lost`: the job's resources went away (node, boot, preemption); resubmit, maybe elsewhere.
 */
export type JobMove = 'pending' | 'hang-candidate' | 'running' | 'done' | 'failed-retryable' | 'failed-final' | 'lost';

/** Every job state squeue `%T` and sacct `State` print (Slurm 22.05 and later). */
export type SlurmStateName =
  | 'BOOT_FAIL'
  | 'CANCELLED'
  | 'COMPLETED'
  | 'COMPLETING'
  | 'CONFIGURING'
  | 'DEADLINE'
  | 'FAILED'
  | 'NODE_FAIL'
  | 'OUT_OF_MEMORY'
  | 'PENDING'
  | 'PREEMPTED'
  | 'RUNNING'
  | 'REQUEUED'
  | 'REQUEUE_FED'
  | 'REQUEUE_HOLD'
  | 'RESIZING'
  | 'RESV_DEL_HOLD'
  | 'REVOKED'
  | 'SIGNALING'
  | 'SPECIAL_EXIT'
  | 'STAGE_OUT'
  | 'STOPPED'
  | 'SUSPENDED'
  | 'TIMEOUT';

/** Slurm job state → our move. Exhaustive: the type makes a missing state a compile error. */
export const SLURM_STATES: Readonly<Record<SlurmStateName, JobMove>> = {
  // Refined by the pending reason; see PENDING_REASONS.
  PENDING: 'pending',
  // Allocated but the node is still booting. A CLOUD node that never boots sits here for
  // ResumeTimeout and then the job is requeued to ReqNodeNotAvail: the same capacity
  // wait, so the hang clock starts now rather than one ResumeTimeout later.
  CONFIGURING: 'hang-candidate',
  RUNNING: 'running',
  // Resources are still held and the final state (COMPLETED, TIMEOUT, ...) is to come.
  COMPLETING: 'running',
  RESIZING: 'running',
  SIGNALING: 'running',
  // Burst-buffer stage-out after the script ended; the final state is still to come.
  STAGE_OUT: 'running',
  // Suspended/stopped jobs keep their id and resume in place: not a failure, and
  // submitting a copy would run the step twice.
  SUSPENDED: 'pending',
  STOPPED: 'pending',
  // Requeue states keep the job id and come back as PENDING. Following them avoids a
  // duplicate submission (STYLE §6: one owner for retries, never submit a copy); count the
  // reclaim from the reset submit time (%V) instead.
  REQUEUED: 'pending',
  REQUEUE_FED: 'pending',
  // Held after a requeue (scontrol requeuehold): waits for a release like JobHeldAdmin.
  REQUEUE_HOLD: 'pending',
  // Held because its reservation was deleted; an admin release or cancel decides.
  RESV_DEL_HOLD: 'pending',
  // Federation: a sibling cluster started the job under the same id; keep following it.
  REVOKED: 'pending',
  COMPLETED: 'done',
  // The command itself failed (non-zero exit); retrying blindly repeats the same error.
  FAILED: 'failed-final',
  // Distinct from FAILED so the workflow can retry with more time or more memory.
  TIMEOUT: 'failed-retryable',
  OUT_OF_MEMORY: 'failed-retryable',
  // Someone (we, on workflow cancellation, or an admin) chose to stop it.
  CANCELLED: 'failed-final',
  // Missed its --deadline; a resubmission would carry the same deadline.
  DEADLINE: 'failed-final',
  // A site EpilogSlurmctld flagged the exit as special and held the job: a site decision.
  SPECIAL_EXIT: 'failed-final',
  // The hardware went away, not the command: resubmit (another node or rung).
  NODE_FAIL: 'lost',
  BOOT_FAIL: 'lost',
  // Only seen as a final state when the site preempts by cancelling; REQUEUE preemption
  // shows as PENDING with the same id.
  PREEMPTED: 'lost',
};

/**
 * Pending reason (`%r`) → move, for jobs in state PENDING. Reasons not listed fall back
 * to the prefix rules in `classifyPendingReason`, then to `pending`.
 */
export const PENDING_REASONS: Readonly<Record<string, JobMove>> = {
  // Capacity that may never arrive: a pinned GPU type whose nodes never boot shows as
  // ReqNodeNotAvail (measured: `ReqNodeNotAvail, UnavailableNodes:c1`).
  ReqNodeNotAvail: 'hang-candidate',
  Resources: 'hang-candidate',
  'Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions': 'hang-candidate',
  NodeDown: 'hang-candidate',
  FrontEndDown: 'hang-candidate',
  // "Outside the partition's current limits" also means its nodes are DOWN or DRAINED.
  PartitionNodeLimit: 'hang-candidate',
  PartitionDown: 'hang-candidate',
  PartitionInactive: 'hang-candidate',
  PartitionConfig: 'hang-candidate',
  PowerUpNode: 'hang-candidate',
  // A launch failure on a node; the job waits for a node that works.
  JobLaunchFailure: 'hang-candidate',
  SystemFailure: 'hang-candidate',
  // Ordinary waits: queue order, begin time, dependencies, holds, limits that clear as
  // other jobs end. Held jobs are not capacity waits: a release is a person's decision.
  None: 'pending',
  Priority: 'pending',
  BeginTime: 'pending',
  Dependency: 'pending',
  JobHeldAdmin: 'pending',
  JobHeldUser: 'pending',
  Cleaning: 'pending',
  Prolog: 'pending',
  WaitingForScheduling: 'pending',
  Reservation: 'pending',
  Licenses: 'pending',
  AssociationJobLimit: 'pending',
  AssociationResourceLimit: 'pending',
  AssociationTimeLimit: 'pending',
  QOSJobLimit: 'pending',
  QOSResourceLimit: 'pending',
  QOSTimeLimit: 'pending',
  QOSUsageThreshold: 'pending',
  // Can never start as submitted: waiting would hang forever.
  DependencyNeverSatisfied: 'failed-final',
  BadConstraints: 'failed-final',
  PartitionTimeLimit: 'failed-final',
  InvalidAccount: 'failed-final',
  InvalidQOS: 'failed-final',
  AccountNotAllowed: 'failed-final',
  QOSNotAllowed: 'failed-final',
};

// Families of reasons, checked after the exact table, in order.
const REASON_RULES: readonly (readonly [RegExp, JobMove])[] = [
  // A requeued job whose launch failed is held by Slurm: a node fault, not a user hold.
  [/^launch failed/i, 'hang-candidate'],
  // Per-job maxima (QOSMaxGRESPerJob, AssocMaxWallDurationPerJobLimit, ...) and QOS
  // minima never clear while the job stays as submitted; a smaller rung might fit.
  [/^(Assoc|QOS)Max\w*PerJob/, 'failed-final'],
  [/^QOSMin/, 'failed-final'],
  // Group and per-user limits clear as other jobs end.
  [/^(Assoc|QOS)(Grp|Max)/, 'pending'],
];

// Own keys only: a reason such as `toString` must not find Object.prototype's.
function reasonMove(reason: string): JobMove | undefined {
  return Object.hasOwn(PENDING_REASONS, reason) ? PENDING_REASONS[reason] : undefined;
}

/** Move for a PENDING job's reason; `undefined` or an unknown reason is an ordinary wait. */
export function classifyPendingReason(reason: string | undefined): JobMove {
  const text = reason?.trim().replace(/^\((.*)\)$/, '$1') ?? '';
  if (text === '') return 'pending';
  const exact = reasonMove(text);
  if (exact !== undefined) return exact;
  // `ReqNodeNotAvail, UnavailableNodes:c1` and similar carry details after a comma.
  const head = reasonMove(text.split(',')[0]?.trim() ?? '');
  if (head !== undefined) return head;
  return REASON_RULES.find(([pattern]) => pattern.test(text))?.[1] ?? 'pending';
}

/** Result of {@link classifyJob}. */
export interface JobClassification {
  /** What to do next. */
  readonly move: JobMove;
  /** The normalised state name, e.g. `CANCELLED` for `cancelled by 0`. */
  readonly state: string;
  /** False when the state is not in {@link SLURM_STATES}; the caller logs it once. */
  readonly known: boolean;
}

/** `CANCELLED by 0` → `CANCELLED`, `COMPLETED+` → `COMPLETED`, `running` → `RUNNING`. */
export function normaliseState(raw: string): string {
  const first = raw.trim().split(/\s+/)[0] ?? '';
  return first.replace(/\++$/, '').toUpperCase();
}

function isKnownState(state: string): state is SlurmStateName {
  return Object.hasOwn(SLURM_STATES, state);
}

/**
 * Classify a job from its state and, for PENDING, its reason. An unknown state maps to
 * `pending` with `known: false`: waiting is safe, and the caller logs the raw string
 * and job id once (Nextflow's map silently drops unknown codes, snakemake-slurm once
 * read UNKNOWN as success).
 */
export function classifyJob(state: string, reason?: string): JobClassification {
  const name = normaliseState(state);
  if (!isKnownState(name)) return { move: 'pending', state: name, known: false };
  const move = name === 'PENDING' ? classifyPendingReason(reason) : SLURM_STATES[name];
  return { move, state: name, known: true };
}

/**
 * States after which a job never changes again, so a watcher may stop asking about it.
 * Narrower than "the move is final": SPECIAL_EXIT and the hold states stay in the queue
 * and can be released, and a PENDING job with DependencyNeverSatisfied must still be
 * cancelled. NODE_FAIL and PREEMPTED are final only because we submit `--no-requeue`;
 * a requeued job shows PENDING under the same id instead (measured on 22.05).
 */
export const FINAL_STATES: ReadonlySet<SlurmStateName> = new Set<SlurmStateName>([
  'BOOT_FAIL',
  'CANCELLED',
  'COMPLETED',
  'DEADLINE',
  'FAILED',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'TIMEOUT',
]);

/** Whether `state` (raw or normalised, e.g. `CANCELLED by 0`) is in {@link FINAL_STATES}. */
export function isFinalState(state: string): boolean {
  const name = normaliseState(state);
  return isKnownState(name) && FINAL_STATES.has(name);
}

/** What one observation of a job says: state, pending reason, nodes. */
export interface JobStateView {
  readonly state: string;
  readonly reason?: string;
  readonly nodes?: string;
}

/** Whether two observations say the same thing (a change in any field is news). */
export function sameJobState(a: JobStateView | undefined, b: JobStateView | undefined): boolean {
  return a !== undefined && b !== undefined && a.state === b.state && a.reason === b.reason && a.nodes === b.nodes;
}
