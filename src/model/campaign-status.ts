/**
 * The shapes a campaign shows the world: its live state (the `status` query) and its run
 * record (the workflow result, also written as run-record.json beside the outputs).
 * Types only; sandbox-safe.
 */
import type { CampaignSpec } from './campaign-spec.js';
import type { ExcludedNode } from './excluded-node.js';
import type { FileChecksum, ImportedAlignment, PostprocessResult, RelionVersion, TruthResult } from './results.js';
import type { StepSummary } from './step-summary.js';

export type CampaignStage =
  'inspect' | 'stage' | 'probe' | 'reconstruct' | 'picks' | 'extract' | 'refine' | 'postprocess' | 'record' | 'done';

export type TiltSeriesState = 'waiting' | 'running' | 'done' | 'failed' | 'cancelled';

/** One refine iteration: the resolution RELION reached (`_rlnCurrentResolution`, Å). */
export interface IterationPoint {
  readonly iteration: number;
  readonly resolution: number;
}

/** The picks gate before extraction. */
export interface PicksGate {
  state: 'not-required' | 'waiting' | 'approved' | 'rejected' | 'timed-out';
  by?: string;
  comment?: string;
  decidedAt?: string;
}

/**
 * A Slurm job the campaign's cancel stopped: pending or running when the cancel came, it
 * did not complete (its clusterJob sent scancel, or Slurm ended it with a job it waited for).
 */
export interface CancelledJob {
  /** The clusterJob workflow and its step. */
  readonly workflowId: string;
  readonly step: string;
  readonly jobId: string;
  readonly cluster?: string;
}

/**
 * How a campaign was cancelled: when, at which stage, what was running then (as
 * `running`), and the Slurm jobs cancelled. Also the workflow's memo `cancellation`, so
 * `cryoet status` and `cryoet report --json` show it without a worker.
 */
export interface CampaignCancellation {
  /** When the cancel reached the campaign, and when every child had closed. */
  readonly requestedAt: string;
  readonly endedAt: string;
  readonly stage: CampaignStage;
  readonly running: Record<string, string>;
  readonly jobsCancelled: readonly CancelledJob[];
  /** Steps that had completed, and their cost. */
  readonly stepsCompleted: number;
  readonly costUsd: number;
}

/** Live state of a campaign (the `status` query). */
export interface CampaignStatus {
  readonly id: string;
  readonly name: string;
  readonly dataset: string;
  readonly profile: string;
  readonly startedAt: string;
  stage: CampaignStage;
  tiltSeries: Record<string, { status: TiltSeriesState; error?: string; tomogram?: string }>;
  particles?: number;
  picks: PicksGate;
  refine: { iteration?: number; resolution?: number; finished: boolean; history: IterationPoint[] };
  /** Finished cluster steps, in the order they finished. */
  steps: StepSummary[];
  /** Workflow ids of the clusterJob children running now (targets for `relax`). */
  running: Record<string, string>;
  costUsd: number;
  /** Nodes that failed a job, left out of later submissions until each entry's `until`. */
  excludedNodes?: ExcludedNode[];
  finalResolution?: number;
  bfactor?: number;
  error?: string;
  /** Set once a cancelled campaign has stopped everything it ran. */
  cancellation?: CampaignCancellation;
  /**
   * What the campaign's steps lived through, one line each, oldest first (the newest
   * {@link CAMPAIGN_EVENTS_KEPT}): a job replaced (relaxed, lost, TIMEOUT), a node left out,
   * a queued step moved behind a replacement. `cryoet watch` and the demo print them.
   */
  events?: CampaignEvent[];
}

/** One thing a step lived through, for the operator. */
export interface CampaignEvent {
  readonly at: string;
  readonly step: string;
  readonly text: string;
}

/** How many events the status keeps. */
export const CAMPAIGN_EVENTS_KEPT = 100;

/** The run record: what ran where, what it cost, what it produced. */
export interface RunRecord {
  readonly campaign: string;
  readonly name: string;
  readonly dataset: string;
  readonly profile: string;
  /** The RELION that ran (`relion_refine_mpi --version` on the cluster). Absent in older records. */
  readonly relion?: RelionVersion & { readonly error?: string };
  readonly campaignDir: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly binary: { readonly remotePath: string; readonly sha256: string; readonly copied: boolean };
  readonly tiltSeries: readonly { readonly name: string; readonly tomogram?: string; readonly error?: string }[];
  readonly picks: PicksGate;
  /**
   * Where the tilt-series geometry came from (RELION 5 profiles): the campaign's own AreTomo2
   * alignment, imported (per series: tilt axis, largest shift), or the published tables.
   */
  readonly alignment?: { readonly source: 'aretomo2' | 'published'; readonly series?: readonly ImportedAlignment[] };
  /** The refine's start: the campaign's reference file, or the featureless average (random orientations). */
  readonly start?: { readonly from: 'reference' | 'featureless'; readonly reference?: string };
  /** Synthetic data (campaign file `truth`): the final map against the known answer. */
  readonly truth?: TruthResult;
  readonly particles: number;
  readonly pixelSize: number;
  readonly steps: readonly StepSummary[];
  readonly costUsd: number;
  /** Nodes left out of submissions (black holes), with the job and reason that put them there. */
  readonly excludedNodes?: readonly ExcludedNode[];
  /** Resolution per refine iteration, read from the iteration files. */
  readonly iterations: readonly IterationPoint[];
  /** Postprocess's resolution (Å); null when RELION found none (`inf`: no structure). */
  readonly finalResolution: number | null;
  readonly bfactor: number;
  readonly fsc: PostprocessResult['fsc'];
  readonly outputs: readonly FileChecksum[];
  readonly parameters: CampaignSpec;
  readonly recordPath: string;
}
