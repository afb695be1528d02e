/**
 * The record a clusterJob keeps: one event per transition (time, rung, job id, node,
 * state, reason), returned in its result and readable live through the `jobRecord`
 * query. Pure and sandbox-safe.
 */
import { defineQuery } from '@temporalio/workflow';
import { describeRung, gpuTypeOf, type PlacementRung } from '../slurm/placement.js';
import { classifyJob } from '../slurm/state-table.js';
import type { HungRung, JobEvent, JobRecord, RefusedRung } from '../model/job-record.js';

/** Query: the job's record so far. */
export const jobRecordQuery = defineQuery<JobRecord>('jobRecord');

function minutesSeconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** The `CryoStatus` word for a clusterJob after an event (see search-attributes.ts). */
export function jobStatusWord(event: Pick<JobEvent, 'kind' | 'state' | 'reason'>): string {
  switch (event.kind) {
    case 'observed':
    case 'requeued': {
      if (!event.state) return 'pending';
      const move = classifyJob(event.state, event.reason).move;
      return move === 'hang-candidate'
        ? 'waiting-capacity'
        : move === 'running'
          ? 'running'
          : move === 'lost'
            ? 'rescheduling'
            : move === 'done'
              ? 'running'
              : 'pending';
    }
    case 'submitted':
    case 'reattached':
    case 'resubmitted':
    case 'moved':
      return 'pending';
    case 'hung':
    case 'relaxed':
    case 'refused':
      return 'relaxing';
    case 'lost':
    case 'resumed':
    case 'timeout':
    case 'excluded':
      return 'rescheduling';
    case 'completed':
      return 'done';
    case 'cancelled':
      return 'cancelled';
    case 'failed':
    case 'exhausted':
      return 'failed';
  }
}

/** Markdown for the Temporal UI's current details. */
export function detailsText(record: JobRecord, ladder: readonly PlacementRung[], nowMs: number): string {
  const rung = ladder[record.rung]!;
  const last = record.events.at(-1);
  const lines = [
    `**${record.step}** — ${describeRung(rung, record.rung)} of ${ladder.length}, GPU ${gpuTypeOf(rung.gres)}`,
  ];
  if (last) {
    const since = minutesSeconds(nowMs - Date.parse(last.at));
    const job = last.jobId ? `Slurm job ${last.jobId}` : 'no job';
    lines.push(`${job}: ${last.state ?? last.kind}${last.node ? ` on ${last.node}` : ''} for ${since}`);
    if (last.reason) lines.push(`reason: ${last.reason}`);
  }
  lines.push(`attempt ${record.attempt}, ${record.hung.length} rung(s) relaxed, ${record.reclaims} reclaim(s)`);
  return lines.join('\n\n');
}

/**
 * The error text when no rung is left: each rung, in ladder order, with its job and
 * pending reason (hung) or Slurm's refusal (refused).
 */
export function exhaustedMessage(
  step: string,
  ladder: readonly PlacementRung[],
  hung: readonly HungRung[],
  refused: readonly RefusedRung[] = [],
): string {
  const rows = [
    ...hung.map((h) => ({ rung: h.rung, text: `job ${h.jobId} pending ${minutesSeconds(h.pendingMs)} (${h.reason})` })),
    ...refused.map((r) => ({ rung: r.rung, text: `refused by sbatch: ${r.message}` })),
  ]
    .sort((a, b) => a.rung - b.rung)
    .map((r) => `  ${describeRung(ladder[r.rung]!, r.rung)}: ${r.text}`);
  if (refused.length === 0) {
    return (
      `${step}: every placement rung hung, giving up:\n${rows.join('\n')}\n` +
      'add a rung (another GPU type, partition or cluster), raise placement.hangAfter, ' +
      'or set placement.onExhausted: wait'
    );
  }
  return (
    `${step}: no placement rung could run the job, giving up:\n${rows.join('\n')}\n` +
    'fix the refused rungs in temporal.yaml placement (partition, gres) or add a rung the cluster can run'
  );
}
