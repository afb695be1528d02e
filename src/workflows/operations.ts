/**
 * What operators can ask of running workflows: the names and types shared by the
 * workflows (handlers), the `cryoet` CLI and tests (callers). Sandbox-safe.
 *
 *   campaign:   query `status`, update `approvePicks`
 *   clusterJob: query `jobRecord` (job-record.ts), update `relax`
 *   clusterJob → campaign: signals `nodeExcluded`, `jobSubmitted`
 *   campaign → tiltSeries: signal `reconstructAfter`
 *
 * Cancelling a campaign cancels its children; each clusterJob then runs `scancel`.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ExcludedNode } from '../model/excluded-node.js';
import type { CampaignStatus } from '../model/campaign-status.js';

/** Query: the whole campaign state as typed JSON. */
export const campaignStatusQuery = defineQuery<CampaignStatus>('status');

/** Request to move a pending job down its placement ladder now, without waiting for hangAfter. */
export interface RelaxRequest {
  /** Who asked and why; goes into the job's event record. */
  readonly reason?: string;
}

/** What the relax did. */
export interface RelaxResult {
  /** The job id that was pending and is cancelled. */
  readonly cancelledJobId: string;
  /** Zero-based rung moved to. */
  readonly toRung: number;
  readonly toRungDescription: string;
}

/**
 * Update on a clusterJob workflow: cancel the pending job and resubmit on the next rung.
 * Rejected (validator) when the job is not pending, or when no rung is left.
 */
export const relaxUpdate = defineUpdate<RelaxResult, [RelaxRequest]>('relax');

/** Decision on the particle picks before extraction. */
export interface ApprovePicksRequest {
  readonly approve: boolean;
  /** Who decided; goes into the campaign status and the run record. */
  readonly by?: string;
  readonly comment?: string;
}

/**
 * Update on a campaign waiting at the picks gate (campaign file `approvePicks.required`).
 * Rejected when the campaign is not waiting for approval.
 */
export const approvePicksUpdate = defineUpdate<{ readonly accepted: boolean }, [ApprovePicksRequest]>('approvePicks');

/**
 * Signal from a clusterJob to its campaign: nodes that failed a job. The campaign leaves
 * them out (`sbatch --exclude`) of the steps it starts until each entry's `until`.
 */
export const nodeExcludedSignal = defineSignal<[readonly ExcludedNode[]]>('nodeExcluded');

/** A clusterJob's newest Slurm job: which workflow, which step, which job id. */
export interface JobSubmitted {
  readonly workflowId: string;
  readonly step: string;
  readonly jobId: string;
  /** The cluster the job is on (absent in signals from before it was added). */
  readonly cluster?: string;
  /** Why a job replaced the previous one: the event that sent it back, e.g. `relaxed: now rung 2 …`. */
  readonly because?: string;
}

/**
 * Signal from a clusterJob to its campaign after each submission (first, resubmitted,
 * re-attached): the campaign queues the next step behind the newest job ids.
 */
export const jobSubmittedSignal = defineSignal<[JobSubmitted]>('jobSubmitted');

/** One job of those a step is queued behind was replaced: `from` is now `to`. */
export interface DependencyMoved {
  readonly from: string;
  readonly to: string;
  /** The campaign's black-hole nodes now (a reclaimed node among them): the job leaves them out. */
  readonly exclude?: readonly ExcludedNode[];
}

/**
 * Signal from a campaign to a step it queued behind others (`followMovedDependencies`):
 * a job it waits for was replaced (relaxed, resubmitted after a reclaim or a TIMEOUT), so
 * the step's pending job is re-pointed at the new one (`scontrol update … Dependency=`).
 */
export const dependencyMovedSignal = defineSignal<[DependencyMoved]>('dependencyMoved');

/** What a tiltSeries child started before the probe queues its reconstruction behind. */
export interface ReconstructAfter {
  /** The probe's Slurm job while it has not ended; absent once it has. */
  readonly afterJobs?: readonly string[];
}

/**
 * Signal from a campaign to the tiltSeries children it started while staging: the probe is
 * submitted, queue the reconstruction (behind the probe's job, when given).
 */
export const reconstructAfterSignal = defineSignal<[ReconstructAfter]>('reconstructAfter');
