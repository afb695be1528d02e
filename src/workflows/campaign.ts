/**
 * campaign: the whole pipeline for one dataset.
 *
 *   check maps → stage AreTomo2 → probe it on a node → one tiltSeries child per series
 *   (parallel up to limits.maxParallelTiltSeries) → extract → refine (resumes from its newest
 *   complete iteration after a reclaim) → postprocess → checksums → run record
 *
 * Every cluster step is a clusterJob child (placement ladder, hang relaxation, reclaim
 * recovery, exactly-once submission). A tilt series with bad input fails alone; the
 * campaign goes on while at least limits.minTiltSeries (default: all) succeed.
 * Deterministic: all I/O is in activities and children.
 */
import {
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  type ChildWorkflowHandle,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CampaignInput } from '../campaign/input.js';
import { summarizeStep } from '../campaign/job-summary.js';
import type { StepSummary } from '../model/step-summary.js';
import { ErrorType, hasErrorType, innermostMessage } from '../errors.js';
import { describeLadder } from '../slurm/placement.js';
import {
  CryoCampaign,
  CryoCostUsd,
  CryoIteration,
  CryoResolution,
  CryoStage,
  CryoStatus,
  CryoTiltSeries,
} from '../search-attributes.js';
import { relionBinary } from '../tools/relion.js';
import {
  alignmentImport,
  extractStep,
  importsAlignment,
  particlePixelSize,
  POSTPROCESS_ROOT,
  postprocessStep,
  REFINE_ROOT,
  refineCommands,
  relionGeneration,
  runsRelion5,
  stagedPath,
  tomogramFile,
  type Toolset,
} from '../tools/toolset.js';
import type { ImportedAlignment } from '../model/results.js';
import { clusterJob, type ClusterJobInput, type ClusterJobResult } from './cluster-job.js';
import { fileOps, stageOps } from './campaign-activities.js';
import { tiltSeries, type TiltSeriesResult } from './tilt-series.js';
import {
  CAMPAIGN_EVENTS_KEPT,
  type CampaignCancellation,
  type CampaignStage,
  type CampaignStatus,
  type RunRecord,
} from '../model/campaign-status.js';
import { TaskGroup, type Outcome, type Task } from './tasks.js';
import { recordStepUsage } from './metrics.js';
import {
  approvePicksUpdate,
  campaignStatusQuery,
  dependencyMovedSignal,
  jobSubmittedSignal,
  nodeExcludedSignal,
  reconstructAfterSignal,
  type DependencyMoved,
  type JobSubmitted,
  type ReconstructAfter,
} from './operations.js';
import { mergeExclusions } from '../slurm/node-exclusions.js';

/** A step's clusterJob child and how it ends; `after`: the Slurm jobs it was queued behind. */
interface Launched {
  readonly suffix: string;
  readonly workflowId: string;
  /** The Slurm jobs its job is queued behind now (moves applied). */
  after?: readonly string[];
  readonly task: Task<ClusterJobResult>;
}

/** How a clusterJob child ended, from its result. */
function endedHow(outcome: Outcome<unknown>): 'completed' | 'failed' | 'cancelled' {
  return 'ok' in outcome ? 'completed' : isCancellation(outcome.err) ? 'cancelled' : 'failed';
}

/** Same ids in the same order. */
function sameIds(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function campaign(input: CampaignInput): Promise<RunRecord> {
  const { spec, layout, cluster } = input;
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
  let atPicksGate = false;
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
        if (!atPicksGate)
          throw new Error(
            `campaign ${id} is not waiting for picks approval (stage ${status.stage}, picks ${status.picks.state})`,
          );
        if (typeof request?.approve !== 'boolean') throw new Error('approvePicks: expected { approve: true | false }');
      },
    },
  );
  try {
    return await run();
  } catch (err) {
    // Whatever ended the run, nothing it started stays running: cancel what is left (their
    // Slurm jobs with them) and wait until every child has closed.
    await tasks.drain();
    if (isCancelled()) {
      const cancellation = cancellationOf();
      status.cancellation = cancellation;
      status.error = `cancelled at stage ${cancellation.stage}`;
      upsertMemo({ cancellation });
      upsertSearchAttributes([{ key: CryoStatus, value: 'cancelled' }]);
      const jobs = cancellation.jobsCancelled.map((j) => `${j.step} ${j.jobId}`).join(', ') || 'none';
      setCurrentDetails(
        `**${spec.name}** (${spec.dataset}) — cancelled at stage ${cancellation.stage}\n\n` +
          `Slurm jobs cancelled: ${jobs}\n\ncost $${status.costUsd.toFixed(4)}`,
      );
      // Closes CANCELLED, not FAILED, whatever the interrupted line threw.
      throw isCancellation(err) ? err : new CancelledFailure(`campaign cancelled at stage ${cancellation.stage}`);
    }
    status.error = innermostMessage(err);
    upsertSearchAttributes([{ key: CryoStatus, value: isCancellation(err) ? 'cancelled' : 'failed' }]);
    throw err;
  }

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

  async function run(): Promise<RunRecord> {
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
    tasks.start(forwardMoves);
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

    // 1. Campaign-wide inputs, before anything is staged or submitted.
    enter('inspect', `checking reference and masks under ${layout.dataDir}`);
    const dataPath = (f: string) => (f.startsWith('/') ? f : `${layout.dataDir}/${f}`);
    const inspectMaps = () =>
      fileOps.inspectMaps({
        cluster,
        maps: [
          ...(spec.reference === undefined || spec.refine.startFrom === 'featureless'
            ? []
            : [{ what: 'reference', path: dataPath(spec.reference) }]),
          ...(spec.masks.solvent ? [{ what: 'masks.solvent', path: dataPath(spec.masks.solvent) }] : []),
          ...(spec.masks.fsc ? [{ what: 'masks.fsc', path: dataPath(spec.masks.fsc) }] : []),
          ...(spec.truth ? [{ what: 'truth.map', path: dataPath(spec.truth.map) }] : []),
        ],
      });
    // Output folders: a campaign that cannot write its results says so now, naming the folder.
    const checkWritable = () => fileOps.checkWritable({ cluster, dirs: [layout.dir, input.tools.stageDir] });
    const stageBinary = () =>
      stageOps.stageBinary({ cluster, localPath: input.tools.aretomo2Local, remoteDir: input.tools.stageDir });
    const aretomo2 = stagedPath(input.tools.stageDir, input.tools.aretomo2Local);

    // 3 (declared here: queued ahead, the series start now). Every tilt series, in parallel up
    // to the limit; failures are collected, not fatal yet. Each child checks its input at once;
    // one started before the probe's job exists waits for it (signal reconstructAfter) and
    // queues its reconstruction behind it.
    const done: TiltSeriesResult[] = [];
    const failed: { name: string; error: string }[] = [];
    const queue = spec.tiltSeries.map((ts) => ts.name);
    let probe: Launched | undefined;
    let probeJobId: string | undefined;
    /** What a series started now queues behind; undefined until the probe is submitted. */
    let released: ReconstructAfter | undefined;
    const waiting: ChildWorkflowHandle<typeof tiltSeries>[] = [];
    const runSeries = async (name: string, suffix: string): Promise<TiltSeriesResult> => {
      // The child gets the campaign with its own series only: with the whole list, the
      // children's inputs grow as N² (500 series overran Temporal's 4 MB message limit).
      const campaign = { ...input, spec: { ...spec, tiltSeries: spec.tiltSeries.filter((ts) => ts.name === name) } };
      const early = released === undefined;
      const after = early
        ? { waitForProbe: true }
        : probe?.task.ended || !released!.afterJobs
          ? {}
          : { afterJobs: released!.afterJobs };
      const handle = await startChild(tiltSeries, {
        ...childOptions(suffix, {
          tiltSeries: name,
          summary: `${name} · align+reconstruct · ${describeLadder(input.placements.reconstruct.ladder)}`,
        }),
        args: [{ campaign, name, aretomo2, ...placementContext(), ...after }],
      });
      if (early) {
        // A child that already ended (bad input) needs no signal; its result says why.
        if (released) await handle.signal(reconstructAfterSignal, released).catch(() => undefined);
        else waiting.push(handle);
      }
      return await handle.result();
    };
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        // Cancelled (the campaign, or the series by a failed probe): start no more.
        if (isCancelled()) {
          status.tiltSeries[name] = { status: 'cancelled' };
          continue;
        }
        status.tiltSeries[name] = { status: 'running' };
        status.running[name] = `${id}/${name}/reconstruct`;
        try {
          let result: TiltSeriesResult;
          try {
            result = await runSeries(name, name);
          } catch (err) {
            // Queued behind a probe job that did not complete: once the probe has passed, again.
            if (!probe || !hasErrorType(err, ErrorType.DependencyFailed) || 'err' in (await probe.task.outcome))
              throw err;
            result = await runSeries(name, `${name}-again`);
          }
          done.push(result);
          record(result.step);
          status.tiltSeries[name] = { status: 'done', tomogram: result.tomogram };
        } catch (err) {
          if (isCancellation(err) && isCancelled()) {
            endedAs[`${id}/${name}/reconstruct`] = 'cancelled';
            status.tiltSeries[name] = { status: 'cancelled' };
            continue;
          }
          const error = innermostMessage(err);
          failed.push({ name, error });
          status.tiltSeries[name] = { status: 'failed', error };
        } finally {
          delete status.running[name];
        }
      }
    };
    let pool: Task<unknown> | undefined;
    const startSeries = () => {
      pool = tasks.start(() =>
        Promise.all(Array.from({ length: Math.min(spec.limits.maxParallelTiltSeries, queue.length) }, worker)),
      );
    };
    /** Stops the series (none reconstructed is kept) and waits until each child has closed. */
    const stopSeries = async () => {
      pool?.scope.cancel();
      await pool?.outcome;
    };
    startSeries();

    let binary: Awaited<ReturnType<typeof stageBinary>>;
    let probeJob: ClusterJobInput;
    try {
      // The checks and the staging at once (staging is idempotent and submits nothing): any
      // failure still stops the campaign before the first job.
      enter(
        'stage',
        `checking reference, masks and output folders; staging ${input.tools.aretomo2Local} to ${input.tools.stageDir}`,
      );
      [, , binary] = await Promise.all([inspectMaps(), checkWritable(), stageBinary()]);
      enter(
        'probe',
        `probing ${binary.remotePath} ` +
          `(sha256 ${binary.sha256.slice(0, 12)}, ${binary.copied ? 'copied' : 'already there'})`,
      );
      probeJob = {
        step: 'probe',
        placement: input.placements.probe,
        command: [binary.remotePath, ...input.tools.probeArgs],
        timeLimitMinutes: 10,
      };
      probe = await launch(probeJob, 'probe');
      // The reconstructions wait in Slurm for the probe (afterok), not here.
      probeJobId = await jobIdOf(probe);
      if (probe.task.ended) {
        const probed = await probe.task.outcome;
        if ('err' in probed) throw probed.err;
      }
      released = probe.task.ended || probeJobId === undefined ? {} : { afterJobs: [probeJobId] };
      enter(
        'reconstruct',
        `${spec.tiltSeries.length} tilt series, ${spec.limits.maxParallelTiltSeries} at a time, ` +
          'queued behind the probe',
      );
      const go = released;
      await Promise.all(
        waiting.splice(0).map((handle) => handle.signal(reconstructAfterSignal, go).catch(() => undefined)),
      );
    } catch (err) {
      // Bad campaign-wide input, staging or the probe failed: the series submitted nothing
      // (or only jobs queued behind the probe, which Slurm cancels); stop them and say why.
      await stopSeries();
      throw err;
    }
    const tools: Toolset = { profile: input.tools.profile, aretomo2: binary.remotePath, relion: input.tools.relion };

    // The probe failed: its queued reconstructions never run; stop them and say why.
    const probed = await probe.task.outcome;
    if ('err' in probed) {
      await stopSeries();
      throw probed.err;
    }
    recordStep(probed.ok, probeJob);
    // Extraction queued behind every reconstruction, once each has its job (all series at
    // once, no picks gate in between).
    let extractRun: Launched | undefined;
    // (Not when extraction reads the campaign's own alignment: that is imported once the
    // reconstructions are done, and the extract job must not start before it.)
    const ownAlignment = importsAlignment(tools, spec);
    if (!ownAlignment && !spec.approvePicks.required && spec.limits.maxParallelTiltSeries >= spec.tiltSeries.length) {
      const reconstructJob = (name: string) => jobOf(`${id}/${name}/reconstruct`);
      await condition(() => pool!.ended || spec.tiltSeries.every((ts) => reconstructJob(ts.name) !== undefined));
      if (!pool!.ended) {
        const queued = extractStep(tools, layout, spec, spec.tiltSeries);
        if (queued.files.length > 0) await fileOps.writeFiles({ cluster, files: queued.files });
        extractRun = await launch(
          extractJobFor(queued.command),
          'extract',
          spec.tiltSeries.map((ts) => reconstructJob(ts.name)!),
        );
      }
    }
    const reconstructed = await pool!.outcome;
    if ('err' in reconstructed) throw reconstructed.err;
    // Cancelled while the series ran: the catch below says so (not "0 of 5 reconstructed").
    if (isCancelled()) throw new CancelledFailure('campaign cancelled while reconstructing');
    const needed = spec.limits.minTiltSeries ?? spec.tiltSeries.length;
    if (done.length < needed) {
      if (extractRun) {
        extractRun.task.scope.cancel();
        await extractRun.task.outcome;
      }
      throw ApplicationFailure.create({
        type: ErrorType.InputInvalid,
        nonRetryable: true,
        message:
          `${done.length} of ${spec.tiltSeries.length} tilt series reconstructed, ` +
          `${needed} needed (limits.minTiltSeries):\n` +
          failed.map((f) => `  ${f.name}: ${f.error}`).join('\n'),
        details: [failed],
      });
    }
    // Campaign order, whatever order the children finished in.
    const series = spec.tiltSeries.filter((ts) => done.some((d) => d.name === ts.name));

    // 4. The picks gate: an operator looks at the tomograms and picks, then approves.
    if (spec.approvePicks.required) {
      enter(
        'picks',
        `waiting up to ${Math.round(spec.approvePicks.timeout / 60000)} min for \`cryoet approve ${id}\` ` +
          `(tomograms in ${layout.dir}/tomograms)`,
      );
      atPicksGate = true;
      const decided = await condition(() => status.picks.state !== 'waiting', spec.approvePicks.timeout);
      atPicksGate = false;
      if (!decided) {
        status.picks = { state: 'timed-out', decidedAt: new Date().toISOString() };
        if (spec.approvePicks.onTimeout === 'fail') {
          throw ApplicationFailure.create({
            type: ErrorType.InputInvalid,
            nonRetryable: true,
            message:
              `picks not approved within ${Math.round(spec.approvePicks.timeout / 60000)} min ` +
              '(approvePicks.onTimeout: fail)',
          });
        }
      } else if (status.picks.state === 'rejected') {
        throw ApplicationFailure.create({
          type: ErrorType.InputInvalid,
          nonRetryable: true,
          message:
            `picks rejected${status.picks.by ? ` by ${status.picks.by}` : ''}` +
            `${status.picks.comment ? `: ${status.picks.comment}` : ''}`,
        });
      }
    }

    // 5. Extraction. Queued ahead: the refine waits behind it in Slurm, the postprocess behind the refine.
    let aligned: ImportedAlignment[] | undefined;
    if (ownAlignment) {
      enter('extract', `importing AreTomo2's alignment of ${series.length} tilt series into RELION 5`);
      aligned = await fileOps.importAlignments(
        alignmentImport(
          layout,
          spec,
          series,
          done.map((d) => d.facts),
          cluster,
        ),
      );
      for (const a of aligned) {
        event(
          'align',
          `${a.name}: AreTomo2 tilt axis ${a.tiltAxis.toFixed(2)}°, ` +
            `shifts up to ${a.maxShiftAngst.toFixed(1)} Å, ${a.tilts} tilts imported`,
        );
      }
    }
    enter('extract', `extracting particles from ${series.length} tomograms`);
    const extract = extractStep(tools, layout, spec, series);
    const extractJob = extractJobFor(extract.command);
    const writeExtractFiles = async () => {
      if (extract.files.length > 0) await fileOps.writeFiles({ cluster, files: extract.files });
    };
    if (!extractRun) {
      await writeExtractFiles();
      extractRun = await launch(extractJob, 'extract');
    }
    const refine = refineCommands(tools, layout, spec, extract.particles);
    const refineFolder = { dir: layout.dir, outRoot: REFINE_ROOT, relion: relionGeneration(tools.profile) };
    const refineJob: ClusterJobInput = {
      step: 'refine',
      placement: input.placements.refine,
      command: refine.command,
      resume: { command: refine.resume, fromIteration: refineFolder },
      cpusPerTask: 1,
      timeLimitMinutes: spec.refine.timeLimitMinutes,
    };
    const postprocessJob: ClusterJobInput = {
      step: 'postprocess',
      placement: input.placements.postprocess,
      command: postprocessStep(tools, layout, spec),
      cpusPerTask: 1,
      timeLimitMinutes: 60,
    };
    let refineRun: Launched | undefined;
    let postprocessRun: Launched | undefined;
    const extractJobId = await jobIdOf(extractRun);
    if (extractJobId !== undefined) refineRun = await launch(refineJob, 'refine', [extractJobId]);
    const refineJobId = refineRun && (await jobIdOf(refineRun));
    if (refineJobId !== undefined) postprocessRun = await launch(postprocessJob, 'postprocess', [refineJobId]);
    const inputsFrom = series.map((ts) => done.find((d) => d.name === ts.name)!.step.jobIds.at(-1) ?? '');
    const extracted = await finishStep(extractRun, extractJob, inputsFrom, writeExtractFiles);
    recordStep(extracted, extractJob);
    status.particles = await fileOps.countParticles({ cluster, path: `${layout.dir}/${extract.particlesTable}` });

    // 6. Refine, with its progress read from the iteration files while it runs.
    enter('refine', `${status.particles} particles, ${spec.refine.symmetry}, starting at ${spec.refine.iniHigh} Å`);
    if (!refineRun) refineRun = await launch(refineJob, 'refine');
    let refineDone = false;
    const watchProgress = async () => {
      while (!(await condition(() => refineDone, input.progressEveryMs))) {
        const p = await fileOps.readRefineProgress({ cluster, ...refineFolder });
        if (p.newestComplete === undefined || p.newestComplete === status.refine.iteration) continue;
        if (p.resolution !== undefined)
          status.refine.history.push({ iteration: p.newestComplete, resolution: p.resolution });
        status.refine = {
          ...status.refine,
          iteration: p.newestComplete,
          ...(p.resolution === undefined ? {} : { resolution: p.resolution }),
          finished: p.finished,
        };
        upsertSearchAttributes([
          { key: CryoIteration, value: p.newestComplete },
          ...(p.resolution === undefined ? [] : [{ key: CryoResolution, value: p.resolution }]),
        ]);
        enter(
          'refine',
          `iteration ${p.newestComplete}${p.resolution === undefined ? '' : `, ${p.resolution.toFixed(2)} Å`}`,
        );
      }
    };
    const progress = tasks.start(watchProgress);
    let refined: ClusterJobResult;
    try {
      refined = await finishStep(refineRun, refineJob, [extracted.job.jobId]);
    } finally {
      refineDone = true;
    }
    const watched = await progress.outcome;
    if ('err' in watched) throw watched.err;
    recordStep(refined, refineJob);
    // Every iteration's resolution from its files: the polls above may have skipped some.
    const history = await fileOps.readRefineHistory({ cluster, ...refineFolder });
    const last = history[history.length - 1];
    status.refine = {
      ...(last ? { iteration: last.iteration, resolution: last.resolution } : {}),
      finished: true,
      history,
    };

    // 7. Postprocess.
    enter('postprocess', 'masking, FSC and B-factor');
    if (!postprocessRun) postprocessRun = await launch(postprocessJob, 'postprocess');
    recordStep(await finishStep(postprocessRun, postprocessJob, [refined.job.jobId]), postprocessJob);
    // Synthetic data: the map against the known answer; a failed check is noted, not fatal.
    const checkTruth = (t: NonNullable<typeof spec.truth>) =>
      fileOps
        .checkTruth({
          cluster,
          map: `${layout.dir}/${REFINE_ROOT}_class001.mrc`,
          truth: dataPath(t.map),
          model: t.model,
        })
        .then(
          (check) => ({ ...check, truth: t.map }),
          (err: unknown) => ({ truth: t.map, error: innermostMessage(err) }),
        );
    const readPostprocess = () => fileOps.readPostprocess({ cluster, path: `${layout.dir}/${POSTPROCESS_ROOT}.star` });
    const checksumOutputs = () =>
      fileOps.checksumFiles({
        cluster,
        paths: [
          ...series.map((ts) => `${layout.dir}/${tomogramFile(ts.name)}`),
          `${layout.dir}/${extract.particles}`,
          `${layout.dir}/${REFINE_ROOT}_class001.mrc`,
          `${layout.dir}/${REFINE_ROOT}_half1_class001_unfil.mrc`,
          `${layout.dir}/${REFINE_ROOT}_half2_class001_unfil.mrc`,
          `${layout.dir}/${POSTPROCESS_ROOT}.mrc`,
          `${layout.dir}/${POSTPROCESS_ROOT}_masked.mrc`,
          `${layout.dir}/${POSTPROCESS_ROOT}.star`,
        ],
      });
    // 8. Checksums and the run record (the checksums read alongside the postprocess STAR when new).
    enter('record', 'final resolution, checksums and run record');
    const relionAsked = fileOps.readRelionVersion({
      cluster,
      program: relionBinary(tools.relion, 'relion_refine_mpi'),
    });
    const [post, outputs] = await Promise.all([readPostprocess(), checksumOutputs()]);
    const relion = await relionAsked;
    const truth = spec.truth ? await checkTruth(spec.truth) : undefined;
    if (post.finalResolution !== null) {
      upsertSearchAttributes([{ key: CryoResolution, value: post.finalResolution }]);
      status.finalResolution = post.finalResolution;
    }
    status.bfactor = post.bfactor;
    const recordPath = `${layout.dir}/run-record.json`;
    const runRecord: RunRecord = {
      campaign: id,
      name: spec.name,
      dataset: spec.dataset,
      profile: tools.profile,
      relion,
      campaignDir: layout.dir,
      startedAt,
      endedAt: new Date().toISOString(),
      binary,
      tiltSeries: spec.tiltSeries.map((ts) => {
        const ok = done.find((d) => d.name === ts.name);
        const bad = failed.find((f) => f.name === ts.name);
        return { name: ts.name, ...(ok ? { tomogram: ok.tomogram } : {}), ...(bad ? { error: bad.error } : {}) };
      }),
      picks: status.picks,
      ...(runsRelion5(tools.profile)
        ? { alignment: { source: spec.alignment, ...(aligned ? { series: aligned } : {}) } }
        : {}),
      start:
        spec.refine.startFrom === 'featureless'
          ? { from: 'featureless' }
          : { from: 'reference', ...(spec.reference ? { reference: spec.reference } : {}) },
      ...(truth ? { truth } : {}),
      particles: status.particles,
      pixelSize: particlePixelSize(tools, spec),
      steps: status.steps,
      costUsd: status.costUsd,
      excludedNodes: status.excludedNodes,
      iterations: history,
      finalResolution: post.finalResolution,
      bfactor: post.bfactor,
      fsc: post.fsc,
      outputs,
      parameters: spec,
      recordPath,
    };
    await fileOps.writeFiles({
      cluster,
      files: [{ path: recordPath, text: JSON.stringify(runRecord, null, 2) + '\n' }],
    });
    const final =
      post.finalResolution === null
        ? 'none (RELION: inf, the half maps agree at no shell)'
        : `${post.finalResolution.toFixed(2)} Å`;
    enter('done', `final resolution ${final}, B-factor ${post.bfactor.toFixed(0)} Å², record ${recordPath}`);
    return runRecord;
  }
}
