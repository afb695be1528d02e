/**
 * clusterJob: one durable unit of cluster work, down a placement ladder.
 *
 *   SUBMIT ─► PENDING ─► RUNNING ─► COMPLETED
 *     ▲         │ capacity reason for > hangAfter       │ node lost (NODE_FAIL, PREEMPTED,
 *     │         ▼                                        │ BOOT_FAIL): resubmit, same rung,
 *     └── next rung ◄── scancel          resubmit ◄──────┘ with the resume command
 *
 * Submission is idempotent: the job name carries `<workflowId>/<step>-<attempt>`, so a
 * retried or re-run submit re-attaches to the job an earlier try created. Success needs
 * Slurm's COMPLETED and the job's own result marker saying exit 0. Cancelling the
 * workflow cancels the job. Deterministic: all I/O is in activities.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { JobResult, SubmittedJob } from '../activities/cluster-job.js';
import type { JobObservation } from '../scheduler/watcher.js';
import { jobKey, jobNameFor } from '../slurm/job-key.js';
import { describeRung, gpuTypeOf, scaledTimeLimit, type Placement, type PlacementRung } from '../slurm/placement.js';
import { CryoCluster, CryoGpuType, CryoRung, CryoSlurmJobId, CryoStage, CryoStatus } from '../search-attributes.js';
import { CryoError, ErrorType } from '../errors.js';
import { sameJobState } from '../slurm/state-table.js';
import { commandForRung, continueFrom } from '../tools/rung-command.js';
import { optimiserPath } from '../tools/refine-iterations.js';
import { detailsText, exhaustedMessage, jobRecordQuery, jobStatusWord, type HungRung, type JobEvent, type JobEventKind, type JobRecord } from './job-record.js';
import { clusterOps, watchOps } from './cluster-job-activities.js';
import { countReclaimsSurvived, countRelaxed, countSubmitted } from './metrics.js';
import { relaxUpdate, type RelaxRequest, type RelaxResult } from './operations.js';

/** An operator's `relax` between the update handler and the follow loop. */
interface RelaxControl {
  /** The latest observation of the current job. */
  seen?: JobObservation;
  request?: RelaxRequest;
  answer?: RelaxResult | { readonly refused: string };
}

/** What to run, and the ladder of places to run it. */
export interface ClusterJobInput {
  /** Step name, part of the idempotency key (letters, digits, '_' or '-'). */
  readonly step: string;
  readonly placement: Placement;
  readonly command: readonly string[];
  /**
   * Replaces `command` when resubmitting after the job lost its node. With `fromIteration`,
   * the newest complete RELION iteration under `<dir>/<outRoot>` fills in `{{continue_from}}`
   * (none complete: the original command runs again).
   */
  readonly resume?: { readonly command: readonly string[]; readonly fromIteration?: { readonly dir: string; readonly outRoot: string } };
  readonly cpusPerTask?: number;
  readonly memMb?: number;
  /** Time limit on the first rung; each rung scales it by its timeScale. */
  readonly timeLimitMinutes?: number;
  readonly environment?: Readonly<Record<string, string>>;
  /** Carried across continueAsNew; never set by callers. */
  readonly carried?: ClusterJobState;
}

/** Everything a run needs to pick up where the previous one stopped. */
export interface ClusterJobState {
  rung: number;
  attempt: number;
  reclaims: number;
  hung: HungRung[];
  events: JobEvent[];
  job?: SubmittedJob;
  /** Set once the current job has lost a node: resubmissions use the resume command. */
  resuming: boolean;
}

/** How the job ended. */
export interface ClusterJobResult {
  readonly job: SubmittedJob;
  readonly final: JobObservation;
  readonly result: JobResult;
  readonly record: JobRecord;
}

type FollowOutcome = { kind: 'done' | 'failed' | 'lost' | 'hung'; seen: JobObservation; pendingMs?: number; operator?: RelaxRequest };

const WAITING_MOVES = new Set(['pending', 'hang-candidate']);

/** Workflow time; deterministic inside the sandbox (replayed from history). */
const now = (): number => new Date().getTime();

/** Runs one job to its end; throws JobFailed unless both witnesses say success. */
export async function clusterJob(input: ClusterJobInput): Promise<ClusterJobResult> {
  const { ladder } = input.placement;
  if (ladder.length === 0) throw ApplicationFailure.create({ type: ErrorType.ConfigInvalid, message: `${input.step}: empty placement ladder`, nonRetryable: true });
  const s: ClusterJobState = input.carried ?? { rung: 0, attempt: 1, reclaims: 0, hung: [], events: [], resuming: false };
  const record = (): JobRecord => ({ step: input.step, rung: s.rung, attempt: s.attempt, reclaims: s.reclaims, hung: s.hung, events: s.events });
  setHandler(jobRecordQuery, record);
  const ctl: RelaxControl = {};
  setHandler(
    relaxUpdate,
    async (request) => {
      ctl.answer = undefined;
      ctl.request = request ?? {};
      await condition(() => ctl.answer !== undefined);
      const answer = ctl.answer!;
      if ('refused' in answer) throw ApplicationFailure.create({ type: 'RelaxRefused', message: answer.refused, nonRetryable: true });
      return answer;
    },
    {
      validator: (_request: RelaxRequest) => {
        if (ctl.request) throw new Error(`${input.step}: a relax is already in progress`);
        if (!s.job || !ctl.seen || !WAITING_MOVES.has(ctl.seen.move)) {
          throw new Error(`${input.step}: only a pending job can be relaxed; the job is ${ctl.seen ? `${ctl.seen.state}${ctl.seen.reason ? ` (${ctl.seen.reason})` : ''}` : 'not submitted yet'}`);
        }
        if (s.rung + 1 >= ladder.length) throw new Error(`${input.step}: already on the last rung (${describeRung(ladder[s.rung]!, s.rung)}); nothing to relax to`);
      },
    },
  );

  const note = (kind: JobEventKind, fields: Partial<JobEvent> = {}) => {
    const rung = ladder[s.rung]!;
    s.events.push({ at: new Date(now()).toISOString(), kind, rung: s.rung, cluster: rung.cluster, jobId: s.job?.jobId, ...fields });
    upsertSearchAttributes([
      { key: CryoStage, value: input.step },
      { key: CryoCluster, value: rung.cluster },
      { key: CryoRung, value: s.rung },
      { key: CryoGpuType, value: gpuTypeOf(rung.gres) },
      ...(s.job ? [{ key: CryoSlurmJobId, value: s.job.jobId }] : []),
      { key: CryoStatus, value: jobStatusWord({ kind, ...fields }) },
    ]);
    setCurrentDetails(detailsText(record(), ladder, now()));
    const tags = { step: input.step, cluster: rung.cluster, gpu_type: gpuTypeOf(rung.gres) };
    if (kind === 'submitted' || kind === 'resubmitted') countSubmitted(tags);
    else if (kind === 'relaxed') countRelaxed(tags);
    else if (kind === 'completed') countReclaimsSurvived(s.reclaims, { step: input.step, cluster: rung.cluster });
  };

  try {
    for (;;) {
      const rung = ladder[s.rung]!;
      s.job ??= await submit(input, s, rung, note);
      const outcome = await follow(input, s, rung, note, ctl);
      // finish() reads the result and throws unless both witnesses say success.
      if (outcome.kind === 'done' || outcome.kind === 'failed') return await finish(input, s, outcome.seen, record, note);
      if (outcome.kind === 'lost') {
        s.reclaims += 1;
        s.resuming = true;
        note('lost', { state: outcome.seen.state, reason: outcome.seen.reason, node: outcome.seen.nodes, note: 'node lost; back to scheduling' });
      } else {
        // Hung: free the pending job, then take the next rung (or give up, listing every rung).
        const hungJob = s.job!;
        await clusterOps.cancelJob({ cluster: rung.cluster, jobName: hungJob.jobName, jobId: hungJob.jobId });
        s.hung.push({ rung: s.rung, jobId: hungJob.jobId, reason: outcome.seen.reason ?? outcome.seen.state, pendingMs: outcome.pendingMs ?? 0 });
        const by = outcome.operator ? `; relaxed by operator${outcome.operator.reason ? `: ${outcome.operator.reason}` : ''}` : '';
        note('hung', { state: outcome.seen.state, reason: outcome.seen.reason, note: `cancelled after ${Math.round((outcome.pendingMs ?? 0) / 1000)}s pending${by}` });
        if (s.rung + 1 >= ladder.length) {
          note('exhausted');
          throw ApplicationFailure.create({ type: ErrorType.LadderExhausted, message: exhaustedMessage(input.step, ladder, s.hung), nonRetryable: true, details: [record()] });
        }
        s.rung += 1;
        note('relaxed', { note: `now ${describeRung(ladder[s.rung]!, s.rung)}${by}` });
        if (outcome.operator) ctl.answer = { cancelledJobId: hungJob.jobId, toRung: s.rung, toRungDescription: describeRung(ladder[s.rung]!, s.rung) };
      }
      s.job = undefined;
      ctl.seen = undefined;
      s.attempt += 1;
      if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof clusterJob>({ ...input, carried: s });
    }
  } catch (err) {
    if (isCancellation(err) && s.job) {
      const job = s.job;
      await CancellationScope.nonCancellable(async () => {
        await clusterOps.cancelJob({ cluster: job.cluster, jobName: job.jobName, jobId: job.jobId });
        note('cancelled', { note: 'workflow cancelled; scancel sent' });
      });
    }
    throw err;
  }
}

async function submit(input: ClusterJobInput, s: ClusterJobState, rung: PlacementRung, note: (k: JobEventKind, f?: Partial<JobEvent>) => void): Promise<SubmittedJob> {
  const key = keyFor(workflowInfo().workflowId, `${input.step}-${s.attempt}`);
  const command = commandForRung(s.resuming && input.resume ? await resumeCommand(input, rung, note) : input.command, rung);
  const job = await clusterOps.submitJob({
    cluster: rung.cluster,
    key,
    partition: rung.partition,
    gres: rung.gres,
    cpusPerTask: input.cpusPerTask,
    memMb: input.memMb,
    timeLimitMinutes: scaledTimeLimit(input.timeLimitMinutes, rung),
    command,
    environment: input.environment,
    comment: `cryoet ${key}`,
  });
  s.job = job;
  note(job.reattached ? 'reattached' : s.attempt > 1 ? 'resubmitted' : 'submitted', { note: `${describeRung(rung, s.rung)}: ${jobNameFor(key)}` });
  return job;
}

/** The resume line; for a refine, continuing from its newest complete iteration. */
async function resumeCommand(input: ClusterJobInput, rung: PlacementRung, note: (k: JobEventKind, f?: Partial<JobEvent>) => void): Promise<readonly string[]> {
  const resume = input.resume!;
  if (!resume.fromIteration) return resume.command;
  const { dir, outRoot } = resume.fromIteration;
  const progress = await clusterOps.readRefineProgress({ cluster: rung.cluster, dir, outRoot });
  if (progress.newestComplete === undefined) {
    note('resumed', { redone: progress.partial, note: `no complete iteration yet; starting over (${progress.partial.length} partial redone)` });
    return input.command;
  }
  note('resumed', { iteration: progress.newestComplete, redone: progress.partial, note: `continuing from iteration ${progress.newestComplete}; partial iteration(s) [${progress.partial.join(', ')}] redone` });
  return continueFrom(resume.command, optimiserPath(outRoot, progress.newestComplete));
}

/** Follows one job until it is done, failed, lost or hung; requeues are followed in place. */
async function follow(input: ClusterJobInput, s: ClusterJobState, rung: PlacementRung, note: (k: JobEventKind, f?: Partial<JobEvent>) => void, ctl: RelaxControl): Promise<FollowOutcome> {
  const { hangAfterMs, onExhausted, ladder } = input.placement;
  const detectHang = !(onExhausted === 'wait' && s.rung === ladder.length - 1);
  const job = s.job!;
  let known: JobObservation | undefined;
  let hangSince: number | undefined;
  let wasRunning = false;
  for (;;) {
    const maxWaitMs = detectHang && hangSince !== undefined ? Math.max(0, hangSince + hangAfterMs - now()) : undefined;
    // The watch, unless an operator's relax comes first; the loser is cancelled.
    const scope = new CancellationScope();
    const raced = await scope.run(() =>
      Promise.race([
        watchOps.watchJob({ cluster: rung.cluster, jobId: job.jobId, known: known && { state: known.state, reason: known.reason, nodes: known.nodes }, maxWaitMs }),
        condition(() => ctl.request !== undefined).then(() => undefined),
      ]),
    );
    scope.cancel();
    if (raced === undefined) {
      const request = ctl.request!;
      ctl.request = undefined;
      if (known && WAITING_MOVES.has(known.move)) return { kind: 'hung', seen: known, pendingMs: hangSince === undefined ? 0 : now() - hangSince, operator: request };
      ctl.answer = { refused: `${input.step}: the job is ${known?.state ?? 'not observed yet'}; only a pending job can be relaxed` };
      continue;
    }
    const seen = raced;
    const changed = !sameJobState(known, seen);
    known = seen;
    ctl.seen = seen;
    if (changed) note('observed', { state: seen.state, reason: seen.reason, node: seen.nodes });
    switch (seen.move) {
      case 'done':
        return { kind: 'done', seen };
      case 'failed-final':
      case 'failed-retryable':
        return { kind: 'failed', seen };
      case 'lost':
        return { kind: 'lost', seen };
      case 'running':
        wasRunning = true;
        hangSince = undefined;
        break;
      case 'hang-candidate':
        hangSince ??= now();
        if (detectHang && now() - hangSince >= hangAfterMs) return { kind: 'hung', seen, pendingMs: now() - hangSince };
        break;
      case 'pending':
        // Back in the queue after running, same id: Slurm requeued it (site policy, preemption).
        if (wasRunning) {
          s.reclaims += 1;
          note('requeued', { state: seen.state, reason: seen.reason, note: 'requeued by Slurm; following the same job id' });
        }
        wasRunning = false;
        hangSince = undefined;
        break;
    }
  }
}

async function finish(input: ClusterJobInput, s: ClusterJobState, final: JobObservation, record: () => JobRecord, note: (k: JobEventKind, f?: Partial<JobEvent>) => void): Promise<ClusterJobResult> {
  const job = s.job!;
  const result = await clusterOps.readJobResult({ cluster: job.cluster, outputPath: job.outputPath, markerPath: job.markerPath });
  const ok = final.move === 'done' && result.marker?.exitCode === 0;
  note(ok ? 'completed' : 'failed', { state: final.state, reason: final.reason, node: result.marker?.node ?? final.nodes, note: `exit ${result.marker?.exitCode ?? 'unknown'}` });
  if (!ok) {
    throw ApplicationFailure.create({
      type: result.marker ? ErrorType.JobFailed : ErrorType.ResultMarkerMissing,
      message:
        `cluster "${job.cluster}": job ${job.jobId} (${input.step}, attempt ${s.attempt}) ended ${final.state}` +
        `${final.reason ? ` (${final.reason})` : ''}, result marker ${result.marker ? `exit ${result.marker.exitCode}` : 'missing'}; ` +
        `output ${job.outputPath} ends: ${JSON.stringify(result.outputTail.slice(-400))}`,
      nonRetryable: true,
      details: [{ job, final, record: record() }],
    });
  }
  return { job, final, result, record: record() };
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
