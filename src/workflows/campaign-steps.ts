/**
 * How a campaign runs its cluster steps: each a clusterJob child, queued in Slurm behind the
 * jobs it needs and moved behind their replacements, its result checked against the jobs its
 * inputs came from (run again if they differ), its cost recorded. Deterministic; sandbox-safe.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  setCurrentDetails,
  startChild,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { CampaignInput } from '../campaign/input.js';
import { summarizeStep } from '../campaign/job-summary.js';
import type { StepSummary } from '../model/step-summary.js';
import { ErrorType, hasErrorType } from '../errors.js';
import { describeLadder } from '../slurm/placement.js';
import { CryoCampaign, CryoCostUsd, CryoStage, CryoStatus, CryoTiltSeries } from '../search-attributes.js';
import { clusterJob, type ClusterJobInput, type ClusterJobResult } from './cluster-job.js';
import type { CampaignStage } from '../model/campaign-status.js';
import type { Outcome, Task } from './tasks.js';
import type { CampaignState } from './campaign-state.js';
import { recordStepUsage } from './metrics.js';
import { dependencyMovedSignal } from './operations.js';

/** A step's clusterJob child and how it ends; `after`: the Slurm jobs it was queued behind. */
export interface Launched {
  readonly suffix: string;
  readonly workflowId: string;
  /** The Slurm jobs its job is queued behind now (moves applied). */
  after?: readonly string[];
  readonly task: Task<ClusterJobResult>;
}

/** How a clusterJob child ended, from its result. */
export function endedHow(outcome: Outcome<unknown>): 'completed' | 'failed' | 'cancelled' {
  return 'ok' in outcome ? 'completed' : isCancellation(outcome.err) ? 'cancelled' : 'failed';
}

/** Same ids in the same order. */
export function sameIds(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The step helpers of one campaign run. */
export function campaignSteps(input: CampaignInput, state: CampaignState) {
  const { spec } = input;
  const { id, status, tasks, moves, endedAs, event, placementContext, jobOf, isCancelled } = state;
  // Each step is queued in Slurm behind the jobs it needs (sbatch --dependency=afterok) as
  // soon as they have job ids, so it starts the moment they end, not after this workflow
  // has seen them end and submitted it (the chain's start-up, with our retries).
  // Steps queued behind others follow a replaced job instead of failing and running again.
  const queuedBehind: Launched[] = [];
  const forwardMoves = async () => {
    for (;;) {
      await condition(() => moves.length > 0);
      const move = moves.shift()!;
      for (const run of queuedBehind) {
        if (run.task.ended || !run.after?.includes(move.from)) continue;
        run.after = run.after.map((jobId) => (jobId === move.from ? move.to : jobId));
        const exclude = [...(status.excludedNodes ?? [])];
        await getExternalWorkflowHandle(run.workflowId)
          .signal(dependencyMovedSignal, { ...move, exclude })
          .catch(() => undefined);
        event(run.suffix, `${run.suffix}: queued behind job ${move.to} now, not ${move.from}`);
      }
    }
  };
  const extractJobFor = (command: readonly string[]): ClusterJobInput => ({
    step: 'extract',
    placement: input.placements.extract,
    command,
    cpusPerTask: 1,
    timeLimitMinutes: 120,
  });
  const enter = (stage: CampaignStage, details: string) => {
    status.stage = stage;
    upsertSearchAttributes([
      { key: CryoCampaign, value: id },
      { key: CryoStage, value: stage },
      { key: CryoStatus, value: stage === 'done' ? 'done' : stage === 'picks' ? 'waiting-approval' : 'running' },
    ]);
    setCurrentDetails(
      `**${spec.name}** (${spec.dataset}) — ${stage}\n\n${details}\n\ncost so far $${status.costUsd.toFixed(4)}`,
    );
  };
  const childOptions = (suffix: string, extra: { tiltSeries?: string; summary?: string } = {}) => ({
    workflowId: `${id}/${suffix}`,
    staticSummary: `${spec.name} · ${extra.summary ?? suffix}`,
    typedSearchAttributes: [
      { key: CryoCampaign, value: id },
      ...(extra.tiltSeries === undefined ? [] : [{ key: CryoTiltSeries, value: extra.tiltSeries }]),
    ],
  });
  const record = (step: StepSummary) => {
    recordStepUsage((step.runSeconds * step.gpus) / 3600, step.costUsd, { step: step.step, gpu_type: step.gpuType });
    status.steps.push(step);
    status.costUsd = Math.round((status.costUsd + step.costUsd) * 1e6) / 1e6;
    upsertSearchAttributes([{ key: CryoCostUsd, value: status.costUsd }]);
  };
  /** A step's child, started now; with `after`, its job is queued behind those Slurm jobs. */
  const launch = async (job: ClusterJobInput, suffix: string, after?: readonly string[]): Promise<Launched> => {
    const scope = new CancellationScope();
    const args: ClusterJobInput = {
      ...job,
      ...placementContext(),
      ...(after ? { afterJobs: after, followMovedDependencies: true } : {}),
    };
    const handle = await scope.run(() =>
      startChild(clusterJob, {
        ...childOptions(suffix, { summary: `${job.step} · ${describeLadder(job.placement.ladder)}` }),
        args: [args],
      }),
    );
    status.running[suffix] = handle.workflowId;
    const task = tasks.adopt(scope, handle.result(), (outcome) => {
      endedAs[handle.workflowId] = endedHow(outcome);
      delete status.running[suffix];
    });
    const run: Launched = { suffix, workflowId: handle.workflowId, ...(after ? { after } : {}), task };
    if (after) queuedBehind.push(run);
    return run;
  };
  /**
   * A step's own failure as the campaign's: a step cancelled on its own (`cryoet cancel
   * <id>/refine`, the campaign not cancelled) ends the campaign saying so.
   */
  const stepError = (run: Launched, err: unknown): unknown => {
    if (!isCancellation(err) || isCancelled()) return err;
    return ApplicationFailure.create({
      type: ErrorType.StepCancelled,
      nonRetryable: true,
      message:
        `${run.suffix}: cancelled on its own (workflow ${run.workflowId}); ` +
        'its Slurm job was cancelled and the campaign cannot go on without it',
    });
  };
  /** The Slurm job a launched step has now (queued or running); undefined when it ended first. */
  const jobIdOf = async (run: Launched): Promise<string | undefined> => {
    await condition(() => jobOf(run.workflowId) !== undefined || run.task.ended);
    return jobOf(run.workflowId);
  };
  const recordStep = (result: ClusterJobResult, job: ClusterJobInput) =>
    record(summarizeStep(result.record, job.placement.ladder, input.gpuPrices, job.command));
  /**
   * A launched step's result. A step queued behind jobs other
   * than those its inputs came from (`inputsFrom`: a job was resubmitted, a series dropped
   * out) is cancelled; one Slurm cancelled because a job it waited for did not complete
   * fails with DependencyFailed. Either runs again now that its inputs are ready, as
   * `<suffix>-again`, after `beforeAgain`.
   */
  const finishStep = async (
    run: Launched,
    job: ClusterJobInput,
    inputsFrom?: readonly string[],
    beforeAgain?: () => Promise<void>,
  ): Promise<ClusterJobResult> => {
    let outcome: Outcome<ClusterJobResult> | undefined;
    if (run.after && !sameIds(run.after, inputsFrom)) {
      run.task.scope.cancel();
      await run.task.outcome;
    } else {
      outcome = await run.task.outcome;
      if ('err' in outcome && !(run.after && hasErrorType(outcome.err, ErrorType.DependencyFailed)))
        throw stepError(run, outcome.err);
    }
    if (outcome === undefined || 'err' in outcome) {
      if (beforeAgain) await beforeAgain();
      const again = await launch(job, `${run.suffix}-again`);
      outcome = await again.task.outcome;
      if ('err' in outcome) throw stepError(again, outcome.err);
    }
    return outcome.ok;
  };

  return {
    forwardMoves,
    extractJobFor,
    enter,
    childOptions,
    record,
    launch,
    stepError,
    jobIdOf,
    recordStep,
    finishStep,
  };
}
export type CampaignSteps = ReturnType<typeof campaignSteps>;
