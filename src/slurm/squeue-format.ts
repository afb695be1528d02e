/**
 * The one `squeue` call the status watcher makes, and the lookup by job name used to
 * re-attach to a job a previous attempt submitted.
 */
import { CryoError, ErrorType } from '../errors.js';
import { assertSafeName } from './names.js';

/**
 * Fields, `|`-separated: job id, name, state, reason, node list, start time, submit time.
 * `%T` gives the long state name (`PENDING`), `%r` the bare reason without parentheses.
 */
export const SQUEUE_FORMAT = '%i|%j|%T|%r|%N|%S|%V';

/** A job id we may ask about: `123`, or one array task `123_4`. */
export const JOB_ID_PATTERN = /^[0-9]+(_[0-9]+)?$/;

/**
 * argv for one bulk status call: `squeue -h -t all -j <ids> -o SQUEUE_FORMAT`.
 * `-t all` keeps finished jobs (for `MinJobAge` seconds) in the output. Duplicate ids are
 * dropped. Throws `NameInvalid` for an empty list (the watcher should skip the call) or
 * an id outside {@link JOB_ID_PATTERN}. Note: squeue silently drops unknown ids from a
 * list, but a single unknown id makes it exit 1 "Invalid job id specified".
 */
export function buildSqueueArgs(jobIds: readonly string[]): string[] {
  if (jobIds.length === 0) {
    throw new CryoError(ErrorType.NameInvalid, 'squeue job ids: empty list; skip the call when no job is active', {
      jobIds,
    });
  }
  for (const id of jobIds) {
    if (!JOB_ID_PATTERN.test(id)) {
      throw new CryoError(
        ErrorType.NameInvalid,
        `job id ${JSON.stringify(id)}: expected digits, or digits_digits for an array task`,
        {
          jobId: id,
        },
      );
    }
  }
  return ['squeue', '-h', '-t', 'all', '-j', [...new Set(jobIds)].join(','), '-o', SQUEUE_FORMAT];
}

/**
 * argv to find jobs by name, finished ones included:
 * `squeue -h -t all --name <name> -o SQUEUE_FORMAT`. Used before sbatch to re-attach to
 * a job an earlier attempt submitted. Throws `NameInvalid` for an unsafe name.
 */
export function buildSqueueByNameArgs(jobName: string): string[] {
  assertSafeName(jobName, 'job name');
  return ['squeue', '-h', '-t', 'all', '--name', jobName, '-o', SQUEUE_FORMAT];
}

/**
 * argv for when a job became eligible to start (its dependencies satisfied, its begin time
 * passed): `squeue -h -j <id> -O EligibleTime`. Run it with `TZ=UTC`: Slurm prints local
 * time without a zone. Throws `NameInvalid` for an id outside {@link JOB_ID_PATTERN}.
 */
export function buildEligibleTimeArgs(jobId: string): string[] {
  if (!JOB_ID_PATTERN.test(jobId)) {
    throw new CryoError(
      ErrorType.NameInvalid,
      `job id ${JSON.stringify(jobId)}: expected digits, or digits_digits for an array task`,
      { jobId },
    );
  }
  return ['squeue', '-h', '-j', jobId, '-O', 'EligibleTime:40'];
}

/**
 * The eligible time printed by {@link buildEligibleTimeArgs} under `TZ=UTC`, in ms since
 * the epoch; undefined for `N/A`, `Unknown`, nothing (the job left the queue) or anything else.
 */
export function parseEligibleTime(stdout: string): number | undefined {
  const text = stdout.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(text)) return undefined;
  const ms = Date.parse(`${text}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}
