/**
 * The plugin's own Prometheus metrics, emitted from workflow code through the SDK's
 * metric meter: the worker's runtime exports them beside its own (temporal.yaml
 * `metrics.prometheus`). Workflow metrics are not emitted again on replay, so a counter
 * counts each submission, relaxation or reclaim once. Sandbox-safe.
 *
 *   cryoet_jobs_submitted        counter    Slurm jobs submitted (step, cluster, gpu_type)
 *   cryoet_hangs_relaxed         counter    capacity hangs moved down the ladder (step; cluster,
 *                                           gpu_type of the rung moved to)
 *   cryoet_reclaims_survived     counter    lost nodes a job came back from and completed (step, cluster)
 *   cryoet_step_gpu_hours        histogram  GPU-hours per finished campaign step; _sum is the total (step, gpu_type)
 *   cryoet_step_cost_usd         histogram  dollars per finished campaign step; _sum is the total (step, gpu_type)
 */
import { metricMeter } from '@temporalio/workflow';

type Tags = Record<string, string>;

export function countSubmitted(tags: Tags): void {
  metricMeter.createCounter('cryoet_jobs_submitted', 'jobs', 'Slurm jobs submitted').add(1, tags);
}

export function countRelaxed(tags: Tags): void {
  metricMeter
    .createCounter('cryoet_hangs_relaxed', 'jobs', 'Capacity hangs moved down the placement ladder')
    .add(1, tags);
}

export function countReclaimsSurvived(reclaims: number, tags: Tags): void {
  if (reclaims > 0)
    metricMeter
      .createCounter('cryoet_reclaims_survived', 'reclaims', 'Lost nodes a job came back from and completed')
      .add(reclaims, tags);
}

export function recordStepUsage(gpuHours: number, costUsd: number, tags: Tags): void {
  metricMeter
    .createHistogram('cryoet_step_gpu_hours', 'float', 'h', 'GPU-hours per finished campaign step')
    .record(gpuHours, tags);
  metricMeter
    .createHistogram('cryoet_step_cost_usd', 'float', 'USD', 'Dollars per finished campaign step')
    .record(costUsd, tags);
}
