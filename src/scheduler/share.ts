/**
 * The status-call budget shared by the workers of one task queue. Each worker has its own
 * watcher per cluster, so with N workers on a queue the scheduler would see N times the
 * calls. Each worker counts the workers polling the queue's activity tasks (DescribeTaskQueue:
 * every poller seen recently, one identity per process) and takes 1/N of the budget: its
 * watchers space their calls N times as far. The total stays what temporal.yaml allows for
 * one. Pure.
 */

/** A poller as DescribeTaskQueue lists it. */
export interface TaskQueuePoller {
  readonly identity?: string | null;
  readonly lastAccessTime?: {
    readonly seconds?: number | { toNumber(): number } | null;
    readonly nanos?: number | null;
  } | null;
}

/** A poller is counted if it polled within this long (the server keeps them ~5 min). */
export const ACTIVE_POLLER_MS = 90_000;

function ms(t: TaskQueuePoller['lastAccessTime']): number | undefined {
  if (!t || t.seconds === undefined || t.seconds === null) return undefined;
  const s = typeof t.seconds === 'number' ? t.seconds : t.seconds.toNumber();
  return s * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/** Distinct identities that polled within `withinMs` of `nowMs`; at least 1 (this worker). */
export function activeWorkers(pollers: readonly TaskQueuePoller[], nowMs: number, withinMs = ACTIVE_POLLER_MS): number {
  const seen = new Set<string>();
  for (const p of pollers) {
    const at = ms(p.lastAccessTime);
    if (p.identity && (at === undefined || nowMs - at <= withinMs)) seen.add(p.identity);
  }
  return Math.max(1, seen.size);
}
