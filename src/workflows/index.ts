/**
 * The workflow entry point (the `cryoet-temporal/workflow` subpath and the plugin's
 * workflowsPath). Re-exports sandbox-safe workflow code only.
 */
export { clusterJob, type ClusterJobInput, type ClusterJobResult, type ClusterJobState } from './cluster-job.js';
export { jobRecordQuery, type JobEvent, type JobEventKind, type JobRecord, type HungRung } from './job-record.js';
export type { Placement, PlacementRung } from '../slurm/placement.js';
export { campaign, campaignStatusQuery, type CampaignStatus, type CampaignStage, type RunRecord } from './campaign.js';
export { tiltSeries, type TiltSeriesInput, type TiltSeriesResult } from './tilt-series.js';
