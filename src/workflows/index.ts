/**
 * The workflow entry point (the `cryoet-temporal/workflow` subpath and the plugin's
 * workflowsPath). Re-exports sandbox-safe workflow code only.
 */
export { clusterJob, type ClusterJobInput, type ClusterJobResult, type ClusterJobState } from './cluster-job.js';
export { jobRecordQuery } from './job-record.js';
export type { JobEvent, JobEventKind, JobRecord, HungRung } from '../model/job-record.js';
export type { Placement, PlacementRung } from '../slurm/placement.js';
export { campaign } from './campaign.js';
export type { CampaignStatus, CampaignStage, RunRecord, IterationPoint, PicksGate } from '../model/campaign-status.js';
export {
  approvePicksUpdate,
  campaignStatusQuery,
  relaxUpdate,
  type ApprovePicksRequest,
  type RelaxRequest,
  type RelaxResult,
} from './operations.js';
export { tiltSeries, type TiltSeriesInput, type TiltSeriesResult } from './tilt-series.js';
