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
import type { JobObservation } from '../scheduler/watcher.js';
import { describeRung, gpuTypeOf, scaledTimeLimit } from '../slurm/placement.js';
import type { GrantedGpus, JobRecord } from '../model/job-record.js';
import { mergeExclusions } from '../slurm/node-exclusions.js';
import { CryoCluster, CryoGpuType, CryoRung, CryoSlurmJobId, CryoStage, CryoStatus } from '../search-attributes.js';
import { ErrorType } from '../errors.js';
import { detailsText, exhaustedMessage, jobRecordQuery, jobStatusWord } from './job-record.js';
import { clusterOps } from './cluster-job-activities.js';
import { countReclaimsSurvived, countRelaxed, countSubmitted } from './metrics.js';
import { dependencyMovedSignal, relaxUpdate, type RelaxRequest } from './operations.js';
import {
  type ClusterJobInput,
  type ClusterJobResult,
  type ClusterJobState,
  type Note,
  now,
  type RelaxControl,
  WAITING_MOVES,
} from './cluster-job-types.js';
import {
  afterOf,
  dependencyFailed,
  dependencyMoved,
  excludeNodes,
  keyFor,
  repoint,
  retryAfterFailure,
  submit,
  waitingOnDependencies,
} from './cluster-job-submit.js';
import { follow } from './cluster-job-follow.js';

export type { ClusterJobInput, ClusterJobResult, ClusterJobState } from './cluster-job-types.js';

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
          const seen = ctl.seen;
          const jobIs = seen ? `${seen.state}${seen.reason ? ` (${seen.reason})` : ''}` : 'not submitted yet';
          throw new Error(`${input.step}: only a pending job can be relaxed; the job is ${jobIs}`);
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
    const marker = result.marker ? `exit ${result.marker.exitCode}` : 'missing';
    const rungNow = input.placement.ladder[s.rung]!;
    throw ApplicationFailure.create({
      type: result.marker ? ErrorType.JobFailed : ErrorType.ResultMarkerMissing,
      message:
        `cluster "${job.cluster}": job ${job.jobId} (${input.step}, attempt ${s.attempt}) ended ${final.state}` +
        `${final.reason ? ` (${final.reason})` : ''}, result marker ${marker}; ` +
        (final.state === 'TIMEOUT'
          ? `time limit ${scaledTimeLimit(input.timeLimitMinutes, rungNow, s.timeFactor) ?? "(the partition's)"} min ` +
            `after ${s.timeouts} resubmission(s); raise the step's time limit or placement.onTimeout; `
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
