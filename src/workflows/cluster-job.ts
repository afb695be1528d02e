/**
 * clusterJob: one durable unit of cluster work, down a placement ladder.
 *
 *   SUBMIT ─► PENDING ─► RUNNING ─► COMPLETED
 *     ▲ │       │ capacity reason for > hangAfter       │ node lost (NODE_FAIL, PREEMPTED,
 *     │ │       ▼                                        │ BOOT_FAIL): resubmit, same rung,
 *     └─┴ next rung ◄── scancel          resubmit ◄──────┘ with the resume command
 *       sbatch refused the rung                           (TIMEOUT: once more, time × scale)
 *
 * A node that failed a job (NODE_FAIL, BOOT_FAIL, or down/drained right after the job
 * failed) is excluded from later submissions for `excludeNodesForMs`; the exclusion is
 * also signalled to `reportTo` (the campaign), which hands it to the steps it starts.
 *
 * Submission is idempotent: the job name carries `<workflowId>/<step>-<attempt>`, so a
 * retried or re-run submit re-attaches to the job an earlier try created. Success needs
 * Slurm's COMPLETED and the job's own result marker saying exit 0. Cancelling the
 * workflow cancels the job. Deterministic: all I/O is in activities.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { JobResult, SubmittedJob } from '../activities/cluster-job.js';
import type { JobObservation } from '../scheduler/watcher.js';
import { jobKey, jobNameFor } from '../slurm/job-key.js';
import {
  describeRung,
  gpuTypeOf,
  PLACEMENT_DEFAULTS,
  scaledTimeLimit,
  type Placement,
  type PlacementRung,
} from '../slurm/placement.js';
import type { GrantedGpus, HungRung, JobEvent, JobEventKind, JobRecord, RefusedRung } from '../model/job-record.js';
import type { ExcludedNode } from '../model/excluded-node.js';
import { activeExclusions, expandHostList, mergeExclusions } from '../slurm/node-exclusions.js';
import { CryoCluster, CryoGpuType, CryoRung, CryoSlurmJobId, CryoStage, CryoStatus } from '../search-attributes.js';
import { CryoError, ErrorType } from '../errors.js';
import { sameJobState } from '../slurm/state-table.js';
import { commandForRung, continueFrom } from '../tools/rung-command.js';
import { optimiserPath, type RelionGeneration } from '../tools/refine-iterations.js';
import { detailsText, exhaustedMessage, jobRecordQuery, jobStatusWord } from './job-record.js';
import { clusterOps, watchOps } from './cluster-job-activities.js';
import { countReclaimsSurvived, countRelaxed, countSubmitted } from './metrics.js';
import {
  dependencyMovedSignal,
  jobSubmittedSignal,
  nodeExcludedSignal,
  relaxUpdate,
  type RelaxRequest,
  type RelaxResult,
} from './operations.js';

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
  readonly resume?: {
    readonly command: readonly string[];
    readonly fromIteration?: { readonly dir: string; readonly outRoot: string; readonly relion?: RelionGeneration };
  };
  readonly cpusPerTask?: number;
  readonly memMb?: number;
  /** Time limit on the first rung; each rung scales it by its timeScale. */
  readonly timeLimitMinutes?: number;
  readonly environment?: Readonly<Record<string, string>>;
  /** Let Slurm requeue the job under the same id (`--requeue`); followed, never copied. */
  readonly requeue?: boolean;
  /** Nodes to leave out (from the campaign's black-hole list); expired entries are ignored. */
  readonly exclude?: readonly ExcludedNode[];
  /** Workflow id told (signals `nodeExcluded`, `jobSubmitted`) when this job excludes a node or submits: the campaign. */
  readonly reportTo?: string;
  /**
   * Slurm job ids (on the first rung's cluster) this job waits for: it is queued at once
   * with `--dependency=afterok` and Slurm starts it the moment they have all COMPLETED.
   * Used until the job leaves that wait. If one of them ends otherwise, the workflow fails
   * with DependencyFailed (its job cancelled, if Slurm kept it pending); the caller runs the
   * step again. With `followMovedDependencies`, see there.
   */
  readonly afterJobs?: readonly string[];
  /**
   * The caller (the campaign) signals `dependencyMoved` when a job in `afterJobs` is
   * replaced. The job is queued with `--kill-on-invalid-dep=no`, so it stays pending when
   * the old job ends, and is re-pointed at the new one (`scontrol update`): the same Slurm
   * job runs (submitted again behind it only if Slurm ended it anyway). A dependency that
   * can no longer be satisfied is waited on, not failed, until the move comes or the
   * caller cancels the step. No FAILED workflow, no second step.
   */
  readonly followMovedDependencies?: boolean;
  /** Carried across continueAsNew; never set by callers. */
  readonly carried?: ClusterJobState;
}

/** Everything a run needs to pick up where the previous one stopped. */
export interface ClusterJobState {
  rung: number;
  attempt: number;
  reclaims: number;
  hung: HungRung[];
  refused: RefusedRung[];
  /** TIMEOUTs resubmitted so far, and the time-limit factor they added. */
  timeouts: number;
  timeFactor: number;
  /** Nodes this job found bad. */
  excluded: ExcludedNode[];
  events: JobEvent[];
  job?: SubmittedJob;
  /** Set once the current job has lost a node: resubmissions use the resume command. */
  resuming: boolean;
  /** Set once a job has left the wait for `afterJobs` (ran, or waits for capacity): later submissions need no dependency. */
  released?: boolean;
  /** The jobs to wait for now: `afterJobs` with every `dependencyMoved` applied. */
  after?: string[];
  /** The jobs the current Slurm job is queued behind (as submitted or last re-pointed). */
  jobAfter?: string[];
  /** The campaign's black-hole nodes as its newest `dependencyMoved` gave them; else `input.exclude`. */
  exclude?: ExcludedNode[];
  /** What Slurm granted the jobs, read once the job completed. */
  granted?: GrantedGpus[];
}

/** How the job ended. */
export interface ClusterJobResult {
  readonly job: SubmittedJob;
  readonly final: JobObservation;
  readonly result: JobResult;
  readonly record: JobRecord;
}

type FollowOutcome =
  | { kind: 'done' | 'failed' | 'lost' | 'hung'; seen: JobObservation; pendingMs?: number; operator?: RelaxRequest }
  /** A job this one is queued behind was replaced (`dependencyMoved`). */
  | { kind: 'moved' };
type Note = (kind: JobEventKind, fields?: Partial<JobEvent>) => void;

const WAITING_MOVES = new Set(['pending', 'hang-candidate']);
const MOVED = 'moved' as const;
/** Events that send a job back to be submitted again: a resubmission's reason. */
const REPLACING: ReadonlySet<string> = new Set(['relaxed', 'lost', 'timeout', 'requeued', 'moved']);

/** Workflow time; deterministic inside the sandbox (replayed from history). */
const now = (): number => new Date().getTime();

/** Runs one job to its end; throws JobFailed unless both witnesses say success. */
export async function clusterJob(input: ClusterJobInput): Promise<ClusterJobResult> {
  const { ladder } = input.placement;
  if (ladder.length === 0)
    throw ApplicationFailure.create({
      type: ErrorType.ConfigInvalid,
      message: `${input.step}: empty placement ladder`,
      nonRetryable: true,
    });
  // A bad step name fails here, named as given, not later with an attempt suffix.
  keyFor(workflowInfo().workflowId, input.step);
  // Defaults first: a run carried over from an older version lacks the newer fields.
  const s: ClusterJobState = {
    rung: 0,
    attempt: 1,
    reclaims: 0,
    hung: [],
    refused: [],
    timeouts: 0,
    timeFactor: 1,
    excluded: [],
    events: [],
    resuming: false,
    ...input.carried,
  };
  const record = (): JobRecord => ({
    step: input.step,
    rung: s.rung,
    attempt: s.attempt,
    reclaims: s.reclaims,
    hung: s.hung,
    refused: s.refused,
    timeouts: s.timeouts,
    excluded: s.excluded,
    ...(s.granted === undefined ? {} : { granted: s.granted }),
    events: s.events,
  });
  setHandler(jobRecordQuery, record);
  setHandler(dependencyMovedSignal, ({ from, to, exclude }) => {
    s.after = afterOf(input, s).map((jobId) => (jobId === from ? to : jobId));
    if (exclude) s.exclude = mergeExclusions(s.exclude ?? input.exclude ?? [], exclude);
  });
  const ctl: RelaxControl = {};
  setHandler(
    relaxUpdate,
    async (request) => {
      ctl.answer = undefined;
      ctl.request = request ?? {};
      await condition(() => ctl.answer !== undefined);
      const answer = ctl.answer!;
      if ('refused' in answer)
        throw ApplicationFailure.create({ type: 'RelaxRefused', message: answer.refused, nonRetryable: true });
      return answer;
    },
    {
      validator: (_request: RelaxRequest) => {
        if (ctl.request) throw new Error(`${input.step}: a relax is already in progress`);
        if (!s.job || !ctl.seen || !WAITING_MOVES.has(ctl.seen.move)) {
          throw new Error(
            `${input.step}: only a pending job can be relaxed; the job is ${ctl.seen ? `${ctl.seen.state}${ctl.seen.reason ? ` (${ctl.seen.reason})` : ''}` : 'not submitted yet'}`,
          );
        }
        if (s.rung + 1 >= ladder.length)
          throw new Error(
            `${input.step}: already on the last rung (${describeRung(ladder[s.rung]!, s.rung)}); nothing to relax to`,
          );
      },
    },
  );

  const note: Note = (kind, fields = {}) => {
    const rung = ladder[s.rung]!;
    s.events.push({
      at: new Date(now()).toISOString(),
      kind,
      rung: s.rung,
      cluster: rung.cluster,
      jobId: s.job?.jobId,
      ...fields,
    });
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
      if (!s.job) {
        const job = await submit(input, s, rung, note);
        if (job === undefined) {
          // sbatch refused this rung: it can never run here. Next rung at once, or give up.
          if (s.rung + 1 >= ladder.length) {
            note('exhausted');
            throw ApplicationFailure.create({
              type: ErrorType.LadderExhausted,
              message: exhaustedMessage(input.step, ladder, s.hung, s.refused),
              nonRetryable: true,
              details: [record()],
            });
          }
          s.rung += 1;
          note('relaxed', { note: `now ${describeRung(ladder[s.rung]!, s.rung)}; the previous rung was refused` });
          continue;
        }
      }
      let outcome = await follow(input, s, rung, note, ctl);
      if (
        outcome.kind === 'failed' &&
        waitingOnDependencies(input, s) &&
        /Dependency/.test(outcome.seen.reason ?? '')
      ) {
        if (!input.followMovedDependencies) await dependencyFailed(input, s, outcome.seen, record, note);
        // A job it waits for was replaced, or failed for good: the campaign moves the
        // dependency (dependencyMoved) or cancels this step.
        await condition(() => dependencyMoved(s));
        outcome = { kind: 'moved' };
      }
      if (outcome.kind === 'moved') {
        if (await repoint(input, s, note)) continue;
        // Slurm no longer has the job: submitted again below, behind the new job(s).
      } else if (outcome.kind === 'done') {
        // finish() reads the result and throws unless both witnesses say success.
        return await finish(input, s, outcome.seen, record, note);
      } else if (outcome.kind === 'failed') {
        if (!(await retryAfterFailure(input, s, outcome.seen, note)))
          return await finish(input, s, outcome.seen, record, note);
      } else if (outcome.kind === 'lost') {
        s.reclaims += 1;
        s.resuming = true;
        note('lost', {
          state: outcome.seen.state,
          reason: outcome.seen.reason,
          node: outcome.seen.nodes,
          note: 'node lost; back to scheduling',
        });
        // Preemption takes a healthy node back; a node that failed or never booted is a black hole.
        if (outcome.seen.state !== 'PREEMPTED') await excludeNodes(input, s, outcome.seen, outcome.seen.state, note);
      } else {
        // Hung: free the pending job, then take the next rung (or give up, listing every rung).
        const hungJob = s.job!;
        await clusterOps.cancelJob({ cluster: rung.cluster, jobName: hungJob.jobName, jobId: hungJob.jobId });
        s.hung.push({
          rung: s.rung,
          jobId: hungJob.jobId,
          reason: outcome.seen.reason ?? outcome.seen.state,
          pendingMs: outcome.pendingMs ?? 0,
        });
        const by = outcome.operator
          ? `; relaxed by operator${outcome.operator.reason ? `: ${outcome.operator.reason}` : ''}`
          : '';
        note('hung', {
          state: outcome.seen.state,
          reason: outcome.seen.reason,
          note: `cancelled after ${Math.round((outcome.pendingMs ?? 0) / 1000)}s pending${by}`,
        });
        if (s.rung + 1 >= ladder.length) {
          note('exhausted');
          throw ApplicationFailure.create({
            type: ErrorType.LadderExhausted,
            message: exhaustedMessage(input.step, ladder, s.hung),
            nonRetryable: true,
            details: [record()],
          });
        }
        s.rung += 1;
        note('relaxed', { note: `now ${describeRung(ladder[s.rung]!, s.rung)}${by}` });
        if (outcome.operator)
          ctl.answer = {
            cancelledJobId: hungJob.jobId,
            toRung: s.rung,
            toRungDescription: describeRung(ladder[s.rung]!, s.rung),
          };
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

/**
 * Submits on `rung`, leaving out the excluded nodes; undefined when sbatch refuses the
 * rung (recorded in `s.refused`). A refusal with nodes excluded is tried once more
 * without them: excluding every node of a partition makes any request impossible.
 * Every refusal uses up its attempt number: Slurm keeps a refused job's record under its
 * name (FAILED, BadConstraints), and the idempotent submit would re-attach to it.
 */
async function submit(
  input: ClusterJobInput,
  s: ClusterJobState,
  rung: PlacementRung,
  note: Note,
): Promise<SubmittedJob | undefined> {
  const command = commandForRung(
    s.resuming && input.resume ? await resumeCommand(input, rung, note) : input.command,
    rung,
  );
  let key = '';
  const request = (exclude: readonly string[]) =>
    clusterOps.submitJob({
      cluster: rung.cluster,
      key,
      partition: rung.partition,
      gres: rung.gres,
      cpusPerTask: input.cpusPerTask,
      memMb: input.memMb,
      timeLimitMinutes: scaledTimeLimit(input.timeLimitMinutes, rung, s.timeFactor),
      ...(waitingOnDependencies(input, s)
        ? { afterJobs: afterOf(input, s), ...(input.followMovedDependencies ? { keepOnFailedDependency: true } : {}) }
        : {}),
      command,
      environment: input.environment,
      comment: `cryoet ${key}`,
      ...(input.requeue ? { requeue: true } : {}),
      ...(exclude.length > 0 ? { exclude } : {}),
    });
  let exclude = excludedNow(input, s, rung.cluster);
  let job: SubmittedJob | undefined;
  while (job === undefined) {
    // Cancelled: submit nothing more. Once sbatch is asked, its answer is awaited even if a
    // cancel comes meanwhile, so the job id is known and the cancel can scancel it.
    if (CancellationScope.current().consideredCancelled)
      throw new CancelledFailure(`${input.step}: cancelled before submitting`);
    key = keyFor(workflowInfo().workflowId, `${input.step}-${s.attempt}`);
    try {
      const exclusions = exclude;
      job = await CancellationScope.nonCancellable(() => request(exclusions));
    } catch (err) {
      const refusal = refusalOf(err);
      if (refusal === undefined) throw err;
      s.attempt += 1;
      if (exclude.length > 0) {
        note('observed', {
          note: `sbatch refused ${describeRung(rung, s.rung)} with nodes ${exclude.join(',')} excluded (${refusal}); trying without the exclusion`,
        });
        exclude = [];
        continue;
      }
      s.refused.push({ rung: s.rung, message: refusal });
      note('refused', { note: `${describeRung(rung, s.rung)} refused by sbatch: ${refusal}` });
      return undefined;
    }
  }
  s.job = job;
  s.jobAfter = waitingOnDependencies(input, s) ? [...afterOf(input, s)] : undefined;
  const excluding = exclude.length > 0 ? `; excluding ${exclude.join(',')}` : '';
  // Refused rungs made no job: the first job is `submitted` whatever its attempt number.
  const before = s.events.some((e) => e.kind === 'submitted' || e.kind === 'resubmitted' || e.kind === 'reattached');
  const behind = waitingOnDependencies(input, s) ? `; queued behind job(s) ${afterOf(input, s).join(',')}` : '';
  note(job.reattached ? 'reattached' : before ? 'resubmitted' : 'submitted', {
    note: `${describeRung(rung, s.rung)}: ${jobNameFor(key)}${excluding}${behind}`,
  });
  // The campaign queues later steps behind this job's id (and learns a resubmission's new id).
  if (input.reportTo) {
    const why = [...s.events].reverse().find((e) => REPLACING.has(e.kind));
    const because = before && why ? { because: `${why.kind}${why.note ? `: ${why.note}` : ''}` } : {};
    const signal = {
      workflowId: workflowInfo().workflowId,
      step: input.step,
      jobId: job.jobId,
      cluster: job.cluster,
      ...because,
    };
    // Told even when cancelled meanwhile: the campaign lists the jobs its cancel stopped.
    await CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(input.reportTo!).signal(jobSubmittedSignal, signal),
    ).catch(() => undefined);
  }
  return job;
}

/** The current job is (or will be) queued behind `afterJobs`, which have not all completed yet. */
function waitingOnDependencies(input: ClusterJobInput, s: ClusterJobState): boolean {
  return afterOf(input, s).length > 0 && s.released !== true;
}

/** The jobs this one waits for now: `afterJobs` with every `dependencyMoved` applied. */
function afterOf(input: ClusterJobInput, s: ClusterJobState): readonly string[] {
  return s.after ?? input.afterJobs ?? [];
}

/** The current job is still queued behind a job that has since been replaced. */
function dependencyMoved(s: ClusterJobState): boolean {
  return (
    s.job !== undefined &&
    s.released !== true &&
    s.after !== undefined &&
    s.jobAfter !== undefined &&
    s.after.join(',') !== s.jobAfter.join(',')
  );
}

/** The nodes a submission on `cluster` leaves out now: the campaign's and this job's own. */
function excludedNow(input: ClusterJobInput, s: ClusterJobState, cluster: string): string[] {
  return activeExclusions(mergeExclusions(s.exclude ?? input.exclude ?? [], s.excluded), cluster, now());
}

/**
 * Re-points the pending job at the jobs it waits for now, leaving out the nodes found bad
 * meanwhile; false when Slurm no longer has it (ended although queued with
 * --kill-on-invalid-dep=no, or purged).
 */
async function repoint(input: ClusterJobInput, s: ClusterJobState, note: Note): Promise<boolean> {
  const job = s.job!;
  const after = s.after!;
  const was = s.jobAfter!.join(',');
  const exclude = excludedNow(input, s, job.cluster);
  const answer = await clusterOps.updateDependency({
    cluster: job.cluster,
    jobId: job.jobId,
    afterJobs: after,
    ...(exclude.length > 0 ? { exclude } : {}),
  });
  if (answer === 'updated') {
    s.jobAfter = [...after];
    const excluding = exclude.length > 0 ? `; excluding ${exclude.join(',')}` : '';
    note('moved', {
      note: `queued behind job(s) ${after.join(',')} now, not ${was}: a job it waited for was replaced${excluding}`,
    });
    return true;
  }
  note('moved', {
    note: `Slurm ended job ${job.jobId} when job(s) ${was} did not complete; submitting again behind ${after.join(',')}`,
  });
  return false;
}

/**
 * A job queued behind others that can never start (one of them ended other than
 * COMPLETED): cancel it if Slurm kept it pending, then fail with DependencyFailed.
 */
async function dependencyFailed(
  input: ClusterJobInput,
  s: ClusterJobState,
  seen: JobObservation,
  record: () => JobRecord,
  note: Note,
): Promise<never> {
  const job = s.job!;
  if (seen.state === 'PENDING')
    await clusterOps.cancelJob({ cluster: job.cluster, jobName: job.jobName, jobId: job.jobId });
  const after = afterOf(input, s).join(',');
  note('failed', {
    state: seen.state,
    reason: seen.reason,
    note: `a job it was queued behind (${after}) did not complete; it never ran`,
  });
  throw ApplicationFailure.create({
    type: ErrorType.DependencyFailed,
    message: `cluster "${job.cluster}": job ${job.jobId} (${input.step}) was queued behind job(s) ${after}, and one of them did not complete (${seen.state}${seen.reason ? `, ${seen.reason}` : ''}); it never ran`,
    nonRetryable: true,
    details: [{ job, final: seen, record: record() }],
  });
}

/** Slurm's message when `err` is sbatch refusing the job (SubmitRejected), else undefined. */
function refusalOf(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (!(cause instanceof ApplicationFailure) || cause.type !== ErrorType.SubmitRejected) return undefined;
  const details = cause.details?.[0] as { slurmMessage?: unknown } | undefined;
  return typeof details?.slurmMessage === 'string' ? details.slurmMessage : cause.message;
}

/**
 * After a failed end: true when the job goes back to scheduling (same rung, resume
 * command). A TIMEOUT is resubmitted `timeoutResubmits` times with its time limit scaled;
 * a job whose node is down or drained right after it failed is a node loss, and the
 * node is excluded. Anything else is the job's own failure: false.
 */
async function retryAfterFailure(
  input: ClusterJobInput,
  s: ClusterJobState,
  seen: JobObservation,
  note: Note,
): Promise<boolean> {
  const p = { ...PLACEMENT_DEFAULTS, ...input.placement };
  const rung = input.placement.ladder[s.rung]!;
  if (seen.state === 'TIMEOUT') {
    if (input.timeLimitMinutes === undefined || s.timeouts >= p.timeoutResubmits) return false;
    const before = scaledTimeLimit(input.timeLimitMinutes, rung, s.timeFactor);
    s.timeouts += 1;
    s.timeFactor *= p.timeoutScale;
    s.resuming = true;
    note('timeout', {
      state: seen.state,
      node: seen.nodes,
      note: `time limit ${before} min reached; resubmitting with ${scaledTimeLimit(input.timeLimitMinutes, rung, s.timeFactor)} min (${s.timeouts} of ${p.timeoutResubmits})`,
    });
    return true;
  }
  const nodes = expandHostList(seen.nodes);
  if (p.excludeNodesForMs <= 0 || nodes.length === 0 || seen.state === 'CANCELLED') return false;
  // Unknown node state (sinfo failing for minutes): the failure stays the job's own.
  const health = await clusterOps.nodeHealth({ cluster: rung.cluster, nodes }).catch(() => []);
  const bad = health.filter((h) => h.unhealthy);
  if (bad.length === 0) return false;
  const why = bad.map((h) => `${h.node} ${h.state}${h.reason ? ` (${h.reason})` : ''}`).join(', ');
  s.reclaims += 1;
  s.resuming = true;
  note('lost', {
    state: seen.state,
    reason: seen.reason,
    node: seen.nodes,
    note: `job ${seen.state} and its node went bad right after: ${why}; back to scheduling`,
  });
  await excludeNodes(
    input,
    s,
    { ...seen, nodes: bad.map((h) => h.node).join(',') },
    `${seen.state}; node ${why}`,
    note,
  );
  return true;
}

/** Adds the job's nodes to the exclusion list (and tells the campaign); returns the new entries. */
async function excludeNodes(
  input: ClusterJobInput,
  s: ClusterJobState,
  seen: JobObservation,
  reason: string,
  note: Note,
): Promise<ExcludedNode[]> {
  const forMs = input.placement.excludeNodesForMs ?? PLACEMENT_DEFAULTS.excludeNodesForMs;
  const nodes = expandHostList(seen.nodes);
  if (forMs <= 0 || nodes.length === 0) return [];
  const cluster = s.job?.cluster ?? input.placement.ladder[s.rung]!.cluster;
  const until = new Date(now() + forMs).toISOString();
  const added = nodes.map((node): ExcludedNode => ({
    cluster,
    node,
    until,
    reason,
    step: input.step,
    ...(s.job ? { jobId: s.job.jobId } : {}),
  }));
  s.excluded = mergeExclusions(s.excluded, added);
  note('excluded', {
    node: nodes.join(','),
    reason,
    note: `excluding ${nodes.join(',')} from later submissions until ${until}`,
  });
  if (input.reportTo) {
    // The campaign may be gone (a clusterJob started on its own); that is not our failure.
    await getExternalWorkflowHandle(input.reportTo)
      .signal(nodeExcludedSignal, added)
      .catch(() => undefined);
  }
  return added;
}

/** The resume line; for a refine, continuing from its newest complete iteration. */
async function resumeCommand(input: ClusterJobInput, rung: PlacementRung, note: Note): Promise<readonly string[]> {
  const resume = input.resume!;
  if (!resume.fromIteration) return resume.command;
  const { dir, outRoot, relion } = resume.fromIteration;
  const progress = await clusterOps.readRefineProgress({
    cluster: rung.cluster,
    dir,
    outRoot,
    ...(relion === undefined ? {} : { relion }),
  });
  if (progress.newestComplete === undefined) {
    note('resumed', {
      redone: progress.partial,
      note: `no complete iteration yet; starting over (${progress.partial.length} partial redone)`,
    });
    return input.command;
  }
  // Iteration 0 is only the starting reference: RELION 3.1 cannot --continue from it (every
  // rank stops with "trying to read image with empty file name!"), and starting over loses nothing.
  if (progress.newestComplete === 0) {
    note('resumed', {
      redone: progress.started,
      note: `only iteration 0 complete; starting over (iteration(s) [${progress.started.join(', ')}] redone)`,
    });
    return input.command;
  }
  note('resumed', {
    iteration: progress.newestComplete,
    redone: progress.partial,
    note: `continuing from iteration ${progress.newestComplete}; partial iteration(s) [${progress.partial.join(', ')}] redone`,
  });
  return continueFrom(resume.command, optimiserPath(outRoot, progress.newestComplete));
}

/** Follows one job until it is done, failed, lost or hung; requeues are followed in place. */
async function follow(
  input: ClusterJobInput,
  s: ClusterJobState,
  rung: PlacementRung,
  note: Note,
  ctl: RelaxControl,
): Promise<FollowOutcome> {
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
        watchOps.watchJob({
          cluster: rung.cluster,
          jobId: job.jobId,
          known: known && { state: known.state, reason: known.reason, nodes: known.nodes },
          maxWaitMs,
          markerPath: job.markerPath,
        }),
        condition(() => ctl.request !== undefined).then(() => undefined),
        ...(input.followMovedDependencies ? [condition(() => dependencyMoved(s)).then(() => MOVED)] : []),
      ]),
    );
    scope.cancel();
    if (raced === MOVED) return { kind: 'moved' };
    if (raced === undefined) {
      const request = ctl.request!;
      ctl.request = undefined;
      if (known && WAITING_MOVES.has(known.move))
        return {
          kind: 'hung',
          seen: known,
          pendingMs: hangSince === undefined ? 0 : now() - hangSince,
          operator: request,
        };
      ctl.answer = {
        refused: `${input.step}: the job is ${known?.state ?? 'not observed yet'}; only a pending job can be relaxed`,
      };
      continue;
    }
    const seen = raced;
    const before = known;
    const changed = !sameJobState(known, seen);
    known = seen;
    ctl.seen = seen;
    const lastSeenAt = newestEventAt(s, job.jobId, OBSERVED);
    const first = changed && lastSeenAt === undefined;
    if (changed) note('observed', { state: seen.state, reason: seen.reason, node: seen.nodes });
    // Out of the wait for afterJobs: running, or waiting for capacity like any other job.
    if (seen.move === 'running' || seen.move === 'hang-candidate' || seen.move === 'done') s.released = true;
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
        // The first sight of this job is a capacity wait: it has waited since it was submitted.
        // (Not for a job queued behind others: it waited for them first.) Out of that wait,
        // it has waited for capacity since Slurm released it, which may be a poll ago.
        if (hangSince === undefined && input.afterJobs?.length && before?.reason === 'Dependency') {
          const eligibleAt = await clusterOps
            .jobEligibleAt({ cluster: rung.cluster, jobId: job.jobId })
            .catch(() => undefined);
          // Not before we last saw it waiting for them (a cluster clock behind ours).
          if (eligibleAt !== undefined && eligibleAt <= now())
            hangSince = Math.max(eligibleAt, lastSeenAt ?? eligibleAt);
        }
        hangSince ??= (first && !input.afterJobs?.length ? newestEventAt(s, job.jobId, SUBMITTED) : undefined) ?? now();
        if (detectHang && now() - hangSince >= hangAfterMs) return { kind: 'hung', seen, pendingMs: now() - hangSince };
        break;
      case 'pending':
        // Back in the queue after running, same id: Slurm requeued it (site policy, preemption).
        if (wasRunning) {
          s.reclaims += 1;
          note('requeued', {
            state: seen.state,
            reason: seen.reason,
            note: 'requeued by Slurm; following the same job id',
          });
        }
        wasRunning = false;
        hangSince = undefined;
        break;
    }
  }
}

const OBSERVED: ReadonlySet<string> = new Set(['observed']);
const SUBMITTED: ReadonlySet<string> = new Set(['submitted', 'resubmitted']);

/** When this job id's newest event of one of these kinds happened, in ms; undefined if none. */
function newestEventAt(s: ClusterJobState, jobId: string, kinds: ReadonlySet<string>): number | undefined {
  for (let i = s.events.length - 1; i >= 0; i--) {
    const e = s.events[i]!;
    if (e.jobId === jobId && kinds.has(e.kind)) return Date.parse(e.at);
  }
  return undefined;
}

async function finish(
  input: ClusterJobInput,
  s: ClusterJobState,
  final: JobObservation,
  record: () => JobRecord,
  note: Note,
): Promise<ClusterJobResult> {
  const job = s.job!;
  const result = await clusterOps.readJobResult({
    cluster: job.cluster,
    outputPath: job.outputPath,
    markerPath: job.markerPath,
  });
  const ok = final.move === 'done' && result.marker?.exitCode === 0;
  note(ok ? 'completed' : 'failed', {
    state: final.state,
    reason: final.reason,
    node: result.marker?.node ?? final.nodes,
    note: `exit ${result.marker?.exitCode ?? 'unknown'}`,
  });
  if (!ok) {
    throw ApplicationFailure.create({
      type: result.marker ? ErrorType.JobFailed : ErrorType.ResultMarkerMissing,
      message:
        `cluster "${job.cluster}": job ${job.jobId} (${input.step}, attempt ${s.attempt}) ended ${final.state}` +
        `${final.reason ? ` (${final.reason})` : ''}, result marker ${result.marker ? `exit ${result.marker.exitCode}` : 'missing'}; ` +
        (final.state === 'TIMEOUT'
          ? `time limit ${scaledTimeLimit(input.timeLimitMinutes, input.placement.ladder[s.rung]!, s.timeFactor) ?? "(the partition's)"} min after ${s.timeouts} resubmission(s); raise the step's time limit or placement.onTimeout; `
          : '') +
        `output ${job.outputPath} ends: ${JSON.stringify(result.outputTail.slice(-400))}`,
      nonRetryable: true,
      details: [{ job, final, record: record() }],
    });
  }
  s.granted = await grantedOf(s);
  return { job, final, result, record: record() };
}

/**
 * The GPUs Slurm granted each job of the step (one sacct per cluster it ran on), for the cost
 * ledger. A failed read leaves them out: the ledger then prices the rung's gres and says so.
 */
async function grantedOf(s: ClusterJobState): Promise<GrantedGpus[]> {
  const byCluster = new Map<string, Set<string>>();
  for (const e of s.events)
    if (e.jobId !== undefined) byCluster.set(e.cluster, (byCluster.get(e.cluster) ?? new Set()).add(e.jobId));
  const granted: GrantedGpus[] = [];
  for (const [cluster, ids] of byCluster) {
    try {
      granted.push(...(await clusterOps.grantedGpus({ cluster, jobIds: [...ids] })));
    } catch {
      // Accounting unreachable after the retries: the rung's gres prices the step.
    }
  }
  return granted;
}

/**
 * The idempotency key, or a non-retryable failure naming the bad part. A plain error
 * thrown here would fail the workflow task and retry it forever.
 */
function keyFor(workflowId: string, step: string): string {
  try {
    return jobKey(workflowId, step);
  } catch (err) {
    if (err instanceof CryoError)
      throw ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: true });
    throw err;
  }
}
