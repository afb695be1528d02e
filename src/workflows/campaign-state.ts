/**
 * A campaign's live state and the messages it answers: the status query, the black-hole nodes
 * and the Slurm jobs its steps report, the picks gate, and what was running when a cancel came.
 * Deterministic; sandbox-safe.
 */
import { CancellationScope, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CampaignInput } from '../campaign/input.js';
import {
  CAMPAIGN_EVENTS_KEPT,
  type CampaignCancellation,
  type CampaignStage,
  type CampaignStatus,
} from '../model/campaign-status.js';
import { mergeExclusions } from '../slurm/node-exclusions.js';
import type { ClusterJobInput } from './cluster-job.js';
import {
  approvePicksUpdate,
  campaignStatusQuery,
  jobSubmittedSignal,
  nodeExcludedSignal,
  type DependencyMoved,
  type JobSubmitted,
} from './operations.js';
import { TaskGroup } from './tasks.js';

/** What the campaign's run and its steps share. */
export interface CampaignState {
  readonly id: string;
  readonly startedAt: string;
  readonly status: CampaignStatus;
  /** Every branch beside the main line: settled at creation, drained before the campaign closes. */
  readonly tasks: TaskGroup;
  /** Jobs replaced by new ones, for the steps queued behind them (campaign-steps.ts). */
  readonly moves: DependencyMoved[];
  /** How each clusterJob (steps and reconstructions) ended, by workflow id. */
  readonly endedAs: Record<string, 'completed' | 'failed' | 'cancelled'>;
  /** Open only while the campaign waits at the picks gate. */
  readonly picksGate: { open: boolean };
  /** Adds a line to the status's events. */
  readonly event: (step: string, text: string) => void;
  /** What every clusterJob the campaign starts gets: the nodes to leave out, and whom to tell. */
  readonly placementContext: () => Pick<ClusterJobInput, 'exclude' | 'reportTo'>;
  /** The newest Slurm job of a clusterJob (a step or a reconstruction), as it reported it. */
  readonly jobOf: (workflowId: string) => string | undefined;
  /** The campaign, or the scope the caller runs in (the series pool, stopped), is cancelled. */
  readonly isCancelled: () => boolean;
  readonly cancellationOf: () => CampaignCancellation;
}

/** The state of a campaign starting now, with its query, signal and update handlers set. */
export function campaignState(input: CampaignInput): CampaignState {
  const { spec } = input;
  const id = workflowInfo().workflowId;
  const startedAt = new Date().toISOString();
  const status: CampaignStatus = {
    id,
    name: spec.name,
    dataset: spec.dataset,
    profile: input.tools.profile,
    startedAt,
    stage: 'inspect',
    tiltSeries: Object.fromEntries(spec.tiltSeries.map((ts) => [ts.name, { status: 'waiting' as const }])),
    picks: { state: spec.approvePicks.required ? 'waiting' : 'not-required' },
    refine: { finished: false, history: [] },
    steps: [],
    running: {},
    costUsd: 0,
    excludedNodes: [],
  };
  setHandler(campaignStatusQuery, () => status);
  // Black-hole nodes reported by any step; the steps started later leave them out.
  const event = (step: string, text: string) => {
    status.events = [...(status.events ?? []), { at: new Date().toISOString(), step, text }].slice(
      -CAMPAIGN_EVENTS_KEPT,
    );
  };
  setHandler(nodeExcludedSignal, (nodes) => {
    status.excludedNodes = mergeExclusions(status.excludedNodes ?? [], nodes);
    for (const n of nodes)
      event(
        n.step ?? '',
        `${n.step ?? 'a step'}: node ${n.node} left out of later jobs until ${n.until} (${n.reason})`,
      );
  });
  /** What every clusterJob this campaign starts gets: the nodes to leave out, and whom to tell. */
  const placementContext = (): Pick<ClusterJobInput, 'exclude' | 'reportTo'> => ({
    exclude: [...(status.excludedNodes ?? [])],
    reportTo: id,
  });
  // The newest Slurm job of every clusterJob (this campaign's steps and the series'
  // reconstructions), reported by the children as they submit.
  const submitted: Record<string, JobSubmitted> = {};
  // A step's job replaced by a new one (relaxed, reclaimed, TIMEOUT): the steps queued
  // behind the old job are moved behind the new one (forwardMoves, below).
  const moves: DependencyMoved[] = [];
  setHandler(jobSubmittedSignal, (job) => {
    const before = submitted[job.workflowId]?.jobId;
    submitted[job.workflowId] = job;
    if (before !== undefined && before !== job.jobId) {
      moves.push({ from: before, to: job.jobId });
      event(
        job.step,
        `${job.step}: job ${before} replaced by job ${job.jobId}${job.because ? ` (${job.because})` : ''}`,
      );
    }
  });
  const jobOf = (workflowId: string): string | undefined => submitted[workflowId]?.jobId;
  // Every branch beside the main line (children, the series pool, the progress poller):
  // settled at creation, drained before the campaign closes (tasks.ts).
  const tasks = new TaskGroup();
  /** How each clusterJob (steps and reconstructions) ended, by workflow id. */
  const endedAs: Record<string, 'completed' | 'failed' | 'cancelled'> = {};
  // What was running the moment a cancel reached the campaign, before any child had ended.
  let cancelRequested:
    { readonly at: string; readonly stage: CampaignStage; readonly running: Record<string, string> } | undefined;
  CancellationScope.current().cancelRequested.catch(() => {
    cancelRequested ??= { at: new Date().toISOString(), stage: status.stage, running: { ...status.running } };
  });
  /** The campaign, or the scope the caller runs in (the series pool, stopped), is cancelled. */
  const isCancelled = () => cancelRequested !== undefined || CancellationScope.current().consideredCancelled;
  // The gate only opens while the campaign waits at it; a decision before or after is refused.
  const picksGate = { open: false };
  setHandler(
    approvePicksUpdate,
    (request) => {
      status.picks = {
        state: request.approve ? 'approved' : 'rejected',
        ...(request.by === undefined ? {} : { by: request.by }),
        ...(request.comment === undefined ? {} : { comment: request.comment }),
        decidedAt: new Date().toISOString(),
      };
      return { accepted: request.approve };
    },
    {
      validator: (request) => {
        if (!picksGate.open)
          throw new Error(
            `campaign ${id} is not waiting for picks approval (stage ${status.stage}, picks ${status.picks.state})`,
          );
        if (typeof request?.approve !== 'boolean') throw new Error('approvePicks: expected { approve: true | false }');
      },
    },
  );

  /** The cancel's record: what was running when it came, and its Slurm jobs that did not complete. */
  function cancellationOf(): CampaignCancellation {
    const running = cancelRequested?.running ?? {};
    const jobsCancelled = Object.values(running).flatMap((workflowId) => {
      const job = submitted[workflowId];
      // Cancelled by its clusterJob, or by Slurm as a consequence (queued behind a cancelled job).
      if (!job || endedAs[workflowId] === undefined || endedAs[workflowId] === 'completed') return [];
      return [
        {
          workflowId,
          step: job.step,
          jobId: job.jobId,
          ...(job.cluster === undefined ? {} : { cluster: job.cluster }),
        },
      ];
    });
    return {
      requestedAt: cancelRequested?.at ?? new Date().toISOString(),
      endedAt: new Date().toISOString(),
      stage: cancelRequested?.stage ?? status.stage,
      running,
      jobsCancelled,
      stepsCompleted: status.steps.length,
      costUsd: status.costUsd,
    };
  }

  return {
    id,
    startedAt,
    status,
    tasks,
    moves,
    endedAs,
    picksGate,
    event,
    placementContext,
    jobOf,
    isCancelled,
    cancellationOf,
  };
}
