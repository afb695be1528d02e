/**
 * clusterJob's follow loop: one job watched until it is done, failed, lost or hung
 * (requeues followed in place), the hang clock and the operator's relax.
 */
import { CancellationScope, condition } from '@temporalio/workflow';
import type { JobObservation } from '../scheduler/watcher.js';
import type { PlacementRung } from '../slurm/placement.js';
import { sameJobState } from '../slurm/state-table.js';
import { clusterOps, watchOps } from './cluster-job-activities.js';
import {
  type ClusterJobInput,
  type ClusterJobState,
  type FollowOutcome,
  MOVED,
  type Note,
  now,
  type RelaxControl,
  WAITING_MOVES,
} from './cluster-job-types.js';
import { dependencyMoved } from './cluster-job-submit.js';

/** Follows one job until it is done, failed, lost or hung; requeues are followed in place. */
export async function follow(
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
export const SUBMITTED: ReadonlySet<string> = new Set(['submitted', 'resubmitted']);

/** When this job id's newest event of one of these kinds happened, in ms; undefined if none. */
function newestEventAt(s: ClusterJobState, jobId: string, kinds: ReadonlySet<string>): number | undefined {
  for (let i = s.events.length - 1; i >= 0; i--) {
    const e = s.events[i]!;
    if (e.jobId === jobId && kinds.has(e.kind)) return Date.parse(e.at);
  }
  return undefined;
}
