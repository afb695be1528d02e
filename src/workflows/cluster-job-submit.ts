/**
 * clusterJob's submissions: submit on a rung (leaving out excluded nodes), follow a
 * replaced dependency, retry after a failure, exclude a failed job's nodes, and the resume line.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  getExternalWorkflowHandle,
  workflowInfo,
} from '@temporalio/workflow';
import type { SubmittedJob } from '../activities/cluster-job.js';
import type { JobObservation } from '../scheduler/watcher.js';
import { jobKey, jobNameFor } from '../slurm/job-key.js';
import { describeRung, PLACEMENT_DEFAULTS, scaledTimeLimit, type PlacementRung } from '../slurm/placement.js';
import type { JobRecord } from '../model/job-record.js';
import type { ExcludedNode } from '../model/excluded-node.js';
import { activeExclusions, expandHostList, mergeExclusions } from '../slurm/node-exclusions.js';
import { CryoError, ErrorType } from '../errors.js';
import { commandForRung, continueFrom } from '../tools/rung-command.js';
import { optimiserPath } from '../tools/refine-iterations.js';
import { clusterOps } from './cluster-job-activities.js';
import { jobSubmittedSignal, nodeExcludedSignal } from './operations.js';
import { type ClusterJobInput, type ClusterJobState, type Note, now, REPLACING } from './cluster-job-types.js';

/**
 * Submits on `rung`, leaving out the excluded nodes; undefined when sbatch refuses the
 * rung (recorded in `s.refused`). A refusal with nodes excluded is tried once more
 * without them: excluding every node of a partition makes any request impossible.
 * Every refusal uses up its attempt number: Slurm keeps a refused job's record under its
 * name (FAILED, BadConstraints), and the idempotent submit would re-attach to it.
 */
export async function submit(
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
          note:
            `sbatch refused ${describeRung(rung, s.rung)} with nodes ${exclude.join(',')} excluded (${refusal}); ` +
            'trying without the exclusion',
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
export function waitingOnDependencies(input: ClusterJobInput, s: ClusterJobState): boolean {
  return afterOf(input, s).length > 0 && s.released !== true;
}

/** The jobs this one waits for now: `afterJobs` with every `dependencyMoved` applied. */
export function afterOf(input: ClusterJobInput, s: ClusterJobState): readonly string[] {
  return s.after ?? input.afterJobs ?? [];
}

/** The current job is still queued behind a job that has since been replaced. */
export function dependencyMoved(s: ClusterJobState): boolean {
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
export async function repoint(input: ClusterJobInput, s: ClusterJobState, note: Note): Promise<boolean> {
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
    note:
      `Slurm ended job ${job.jobId} when job(s) ${was} did not complete; ` +
      `submitting again behind ${after.join(',')}`,
  });
  return false;
}

/**
 * A job queued behind others that can never start (one of them ended other than
 * COMPLETED): cancel it if Slurm kept it pending, then fail with DependencyFailed.
 */
export async function dependencyFailed(
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
    message:
      `cluster "${job.cluster}": job ${job.jobId} (${input.step}) was queued behind job(s) ${after}, ` +
      `and one of them did not complete (${seen.state}${seen.reason ? `, ${seen.reason}` : ''}); it never ran`,
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
export async function retryAfterFailure(
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
      note:
        `time limit ${before} min reached; ` +
        `resubmitting with ${scaledTimeLimit(input.timeLimitMinutes, rung, s.timeFactor)} min ` +
        `(${s.timeouts} of ${p.timeoutResubmits})`,
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
export async function excludeNodes(
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
    note:
      `continuing from iteration ${progress.newestComplete}; ` +
      `partial iteration(s) [${progress.partial.join(', ')}] redone`,
  });
  return continueFrom(resume.command, optimiserPath(outRoot, progress.newestComplete));
}

/**
 * The idempotency key, or a non-retryable failure naming the bad part. A plain error
 * thrown here would fail the workflow task and retry it forever.
 */
export function keyFor(workflowId: string, step: string): string {
  try {
    return jobKey(workflowId, step);
  } catch (err) {
    if (err instanceof CryoError)
      throw ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: true });
    throw err;
  }
}
