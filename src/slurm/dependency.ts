/**
 * Re-pointing a pending job's dependency (`scontrol update JobId=… Dependency=afterok:…`):
 * a step queued behind a job that was replaced (relaxed to another rung, resubmitted after
 * a reclaim or a TIMEOUT) follows the new job instead of failing. Slurm 22.05 takes the
 * update on a job pending with DependencyNeverSatisfied and tests the new dependency at
 * once (measured). Such a job is queued with `--kill-on-invalid-dep=no`, or Slurm cancels
 * it the moment its dependency fails; one that ended anyway answers "Job has already
 * finished" and must be submitted again.
 */
import { CryoError, ErrorType } from '../errors.js';
import { JOB_ID_PATTERN } from './squeue-format.js';
import { assertSafeName } from './names.js';

function checkedId(jobId: string): string {
  if (!JOB_ID_PATTERN.test(jobId)) {
    throw new CryoError(
      ErrorType.NameInvalid,
      `job id ${JSON.stringify(jobId)}: expected digits, or digits_digits for an array task`,
      { jobId },
    );
  }
  return jobId;
}

/**
 * `scontrol update JobId=<job> Dependency=afterok:<a>:<b> [ExcNodeList=<nodes>]`; no ids
 * clears the dependency. `exclude`: the nodes found bad since the job was queued (left
 * out as a new submission would); none leaves the job's list as it is.
 */
export function buildDependencyUpdateArgs(
  jobId: string,
  afterJobs: readonly string[],
  exclude: readonly string[] = [],
): string[] {
  const ids = afterJobs.map(checkedId);
  for (const node of exclude) assertSafeName(node, 'excluded node');
  return [
    'scontrol',
    'update',
    `JobId=${checkedId(jobId)}`,
    `Dependency=${ids.length > 0 ? `afterok:${ids.join(':')}` : ''}`,
    ...(exclude.length > 0 ? [`ExcNodeList=${[...new Set(exclude)].join(',')}`] : []),
  ];
}

/** What the update did: `updated`, or `ended` (the job is no longer pending: submit it again). */
export type DependencyUpdate = 'updated' | 'ended';

/**
 * Reads scontrol's answer; undefined when it is neither (the controller did not answer,
 * or refused for another reason): the caller retries or reports it.
 */
export function parseDependencyUpdate(exitCode: number, stderr: string): DependencyUpdate | undefined {
  if (exitCode === 0) return 'updated';
  // "Job has already finished for job 14"; "Invalid job id specified" once it is purged.
  if (/already finished|Invalid job id/i.test(stderr)) return 'ended';
  return undefined;
}
