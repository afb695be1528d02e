/**
 * Idempotency keys and the Slurm job names that carry them.
 *
 * A key is `<workflow id>/<step>`, e.g. `cryoet/demo/c1/TS_01/align`. It must be stable
 * across retries: built from the workflow id and the step, never from the attempt
 * number, so a retried submit activity finds the job an earlier attempt already
 * submitted (sbatch may succeed while the SSH channel dies before we read the id).
 * The key travels as the job name: `cryoet.` + the key with `/` turned into `.`.
 */
import { CryoError, ErrorType } from '../errors.js';
import { assertSafeName } from './names.js';

/** Prefix on every job name we submit, so our jobs are recognisable in `squeue`. */
export const JOB_NAME_PREFIX = 'cryoet.';

/**
 * One segment of a key. No `.`: it is the separator in the job name, and allowing it in
 * segments would let `a.b/c` and `a/b.c` map to the same job name (and re-attach to
 * another step's job).
 */
export const KEY_SEGMENT = /^[A-Za-z0-9_-]+$/;

function assertKey(key: string, what: string): void {
  const bad = key.split('/').find((segment) => !KEY_SEGMENT.test(segment));
  if (bad !== undefined) {
    throw new CryoError(
      ErrorType.NameInvalid,
      `${what} ${JSON.stringify(key)}: segment ${JSON.stringify(bad)} is not allowed; ` +
        `use '/'-separated segments of letters, digits, '_' or '-' ('.' is reserved as the job-name separator)`,
      { what, key },
    );
  }
}

/**
 * The idempotency key for one step of one workflow: `${workflowId}/${step}`.
 * Pass the workflow id and a fixed step name, never the attempt number: the key must be
 * the same on every retry. The step is a single segment. Throws `NameInvalid` if a
 * segment is outside {@link KEY_SEGMENT} or the resulting job name would be too long.
 */
export function jobKey(workflowId: string, step: string): string {
  assertKey(workflowId, 'workflow id');
  // One segment only: a `/` in the step would let ('x/a', 'b') and ('x', 'a/b') share a key.
  if (!KEY_SEGMENT.test(step)) {
    throw new CryoError(
      ErrorType.NameInvalid,
      `step ${JSON.stringify(step)}: expected one segment of letters, digits, '_' or '-'`,
      { what: 'step', step },
    );
  }
  const key = `${workflowId}/${step}`;
  jobNameFor(key);
  return key;
}

/**
 * The Slurm job name for a key: {@link JOB_NAME_PREFIX} + the key with `/` replaced by
 * `.`, e.g. `cryoet/demo/c1/TS_01/align` → `cryoet.cryoet.demo.c1.TS_01.align`. The
 * prefix is always added (no special case for keys that already start with `cryoet/`)
 * so the mapping stays one-to-one. Throws `NameInvalid` for a malformed key or a name
 * over the length limit.
 */
export function jobNameFor(key: string): string {
  assertKey(key, 'job key');
  const name = JOB_NAME_PREFIX + key.replaceAll('/', '.');
  assertSafeName(name, 'job name');
  return name;
}

/**
 * The key a job name carries, or `undefined` when the name is not one of ours
 * (another user's job, or a name {@link jobNameFor} could not have produced).
 */
export function keyFromJobName(name: string): string | undefined {
  if (!name.startsWith(JOB_NAME_PREFIX)) return undefined;
  const segments = name.slice(JOB_NAME_PREFIX.length).split('.');
  if (!segments.every((segment) => KEY_SEGMENT.test(segment))) return undefined;
  return segments.join('/');
}
