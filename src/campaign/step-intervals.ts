/**
 * What a step's event record says about time: its pending and running intervals (the
 * step's cost in job-summary.ts, and the report's timeline) and the events the timeline
 * marks (hang, relax, reclaim, requeue, resume). Pure and sandbox-safe; tolerates bad times.
 */
import type { JobEvent, JobEventKind } from '../model/job-record.js';

/** Milliseconds since the epoch of an ISO time; undefined for anything unreadable. */
export function parseTime(iso: string | undefined): number | undefined {
  if (iso === undefined || typeof iso !== 'string') return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

export interface Interval {
  readonly kind: 'pending' | 'running';
  readonly start: number;
  readonly end: number;
  readonly rung: number;
  readonly jobId?: string;
  readonly node?: string;
  readonly reason?: string;
}

export type MarkedKind = Extract<JobEventKind, 'hung' | 'relaxed' | 'lost' | 'requeued' | 'resumed'>;
export const MARKED_KINDS: readonly MarkedKind[] = ['hung', 'relaxed', 'lost', 'requeued', 'resumed'];

export interface Marker {
  readonly kind: MarkedKind;
  readonly at: number;
  readonly event: JobEvent;
}

const ENDS_RUN = new Set<string>([
  'lost',
  'timeout',
  'completed',
  'failed',
  'cancelled',
  'requeued',
  'hung',
  'exhausted',
]);
const STARTS_PENDING = new Set<string>(['submitted', 'resubmitted', 'reattached', 'requeued']);

/** Intervals (ms since the epoch) and marked events; open intervals end at the last event. */
export function stepIntervals(events: readonly JobEvent[] | undefined): { intervals: Interval[]; markers: Marker[] } {
  const intervals: Interval[] = [];
  const markers: Marker[] = [];
  let run: { start: number; rung: number; jobId?: string; node?: string } | undefined;
  let pend: { start: number; rung: number; jobId?: string; reason?: string } | undefined;
  let last: number | undefined;
  const close = (at: number, which: 'run' | 'pend') => {
    if (which === 'run' && run) {
      intervals.push({ kind: 'running', start: run.start, end: at, rung: run.rung, ...ids(run) });
      run = undefined;
    }
    if (which === 'pend' && pend) {
      intervals.push({ kind: 'pending', start: pend.start, end: at, rung: pend.rung, ...ids(pend) });
      pend = undefined;
    }
  };
  for (const e of Array.isArray(events) ? events : []) {
    const at = parseTime(e?.at);
    if (at === undefined) continue;
    last = last === undefined ? at : Math.max(last, at);
    const isRunning = e.kind === 'observed' && (e.state === 'RUNNING' || e.state === 'COMPLETING');
    if (run && (ENDS_RUN.has(e.kind) || (e.kind === 'observed' && !isRunning))) close(at, 'run');
    if (pend && (isRunning || ENDS_RUN.has(e.kind))) close(at, 'pend');
    if (STARTS_PENDING.has(e.kind) && !pend) pend = { start: at, rung: e.rung, jobId: e.jobId };
    if (pend && e.kind === 'observed' && e.state === 'PENDING')
      pend = { ...pend, jobId: pend.jobId ?? e.jobId, reason: e.reason ?? pend.reason };
    if (isRunning && !run) run = { start: at, rung: e.rung, jobId: e.jobId, node: e.node };
    if ((MARKED_KINDS as readonly string[]).includes(e.kind))
      markers.push({ kind: e.kind as MarkedKind, at, event: e });
  }
  if (last !== undefined) {
    close(last, 'run');
    close(last, 'pend');
  }
  intervals.sort((a, b) => a.start - b.start);
  return { intervals, markers };
}

function ids(v: { jobId?: string; node?: string; reason?: string }): {
  jobId?: string;
  node?: string;
  reason?: string;
} {
  return {
    ...(v.jobId === undefined ? {} : { jobId: v.jobId }),
    ...(v.node === undefined ? {} : { node: v.node }),
    ...(v.reason === undefined ? {} : { reason: v.reason }),
  };
}
