/**
 * clusterJob: one durable unit of cluster work. Submit (idempotently, keyed by the
 * workflow id and step), watch through the shared watcher, and read both witnesses of
 * the result: the scheduler's final state and the job's own result marker.
 * Cancelling the workflow cancels the Slurm job.
 *
 * Deterministic: no I/O here; activities do it all.
 */
import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createClusterJobActivities, JobResult, SubmittedJob } from '../activities/cluster-job.js';
import type { JobObservation } from '../scheduler/watcher.js';
import { jobKey } from '../slurm/job-key.js';
import { CryoCluster, CryoSlurmJobId, CryoStage } from '../search-attributes.js';
import { CryoError, ErrorType, nonRetryableErrorTypes } from '../errors.js';

type ClusterJobActivities = ReturnType<typeof createClusterJobActivities>;

const shortOps = proxyActivities<ClusterJobActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: [...nonRetryableErrorTypes] },
});

const watchOps = proxyActivities<ClusterJobActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: [...nonRetryableErrorTypes] },
});

/** What to run and where. */
export interface ClusterJobInput {
  readonly cluster: string;
  /** Step name, part of the idempotency key (letters, digits, '_' or '-'). */
  readonly step: string;
  readonly partition: string;
  readonly gres?: string;
  readonly cpusPerTask?: number;
  readonly memMb?: number;
  readonly timeLimitMinutes?: number;
  readonly command: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
}

/** How the job ended. */
export interface ClusterJobResult {
  readonly job: SubmittedJob;
  readonly final: JobObservation;
  readonly result: JobResult;
}

/**
 * The idempotency key, or a non-retryable failure naming the bad part. A plain error
 * thrown here would fail the workflow task and retry it forever.
 */
function keyFor(workflowId: string, step: string): string {
  try {
    return jobKey(workflowId, step);
  } catch (err) {
    if (err instanceof CryoError) throw ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: true });
    throw err;
  }
}

/** Runs one job to its end; throws JobFailed unless both witnesses say success. */
export async function clusterJob(input: ClusterJobInput): Promise<ClusterJobResult> {
  const key = keyFor(workflowInfo().workflowId, input.step);
  upsertSearchAttributes([
    { key: CryoStage, value: input.step },
    { key: CryoCluster, value: input.cluster },
  ]);
  setCurrentDetails(`submitting ${input.step} to cluster ${input.cluster} (partition ${input.partition}, gres ${input.gres ?? 'none'})`);
  const job = await shortOps.submitJob({ ...input, key, comment: `cryoet ${key}` });
  upsertSearchAttributes([{ key: CryoSlurmJobId, value: job.jobId }]);
  setCurrentDetails(`Slurm job ${job.jobId} on ${input.cluster}${job.reattached ? ' (re-attached)' : ''}: waiting`);

  let final: JobObservation;
  try {
    final = await watchOps.watchJob({ cluster: input.cluster, jobId: job.jobId });
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => shortOps.cancelJob({ cluster: input.cluster, jobId: job.jobId }));
    }
    throw err;
  }
  const result = await shortOps.readJobResult({ cluster: input.cluster, outputPath: job.outputPath, markerPath: job.markerPath });
  setCurrentDetails(`Slurm job ${job.jobId}: ${final.state}${final.nodes ? ` on ${final.nodes}` : ''}, exit ${result.marker?.exitCode ?? 'unknown'}`);
  if (final.move !== 'done' || result.marker?.exitCode !== 0) {
    throw ApplicationFailure.create({
      type: result.marker ? ErrorType.JobFailed : ErrorType.ResultMarkerMissing,
      message:
        `cluster "${input.cluster}": job ${job.jobId} (${key}) ended ${final.state}` +
        `${final.reason ? ` (${final.reason})` : ''}, result marker ${result.marker ? `exit ${result.marker.exitCode}` : 'missing'}; ` +
        `output ${job.outputPath} ends: ${JSON.stringify(result.outputTail.slice(-400))}`,
      nonRetryable: true,
      details: [{ job, final }],
    });
  }
  return { job, final, result };
}
