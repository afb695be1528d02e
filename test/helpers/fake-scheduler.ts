/**
 * A stand-in status query for the SlurmWatcher tests: the jobs it knows, every call it received;
 * a watcher on it, and small waits.
 */
import assert from 'node:assert/strict';
import { SlurmWatcher, type WatcherOptions } from '../../src/scheduler/watcher.js';
import type { SqueueRow } from '../../src/slurm/parse-squeue.js';

export interface Call {
  readonly ids: readonly string[];
  readonly at: number;
}

export interface Remote {
  state: string;
  reason?: string;
  nodes?: string;
}

/** A scheduler stand-in: jobs it knows, an optional failure, and the calls it received. */
export class FakeScheduler {
  readonly jobs = new Map<string, Remote>();
  readonly calls: Call[] = [];
  failWith: string | undefined;

  readonly query = async (ids: readonly string[]): Promise<readonly SqueueRow[]> => {
    this.calls.push({ ids: [...ids], at: Date.now() });
    if (this.failWith !== undefined) throw new Error(this.failWith);
    return ids.flatMap((jobId) => {
      const job = this.jobs.get(jobId);
      return job ? [{ jobId, name: `cryoet-watcher-test-${jobId}`, ...job }] : [];
    });
  };
}

export function makeWatcher(scheduler: FakeScheduler, options: Partial<WatcherOptions> = {}) {
  const logs: string[] = [];
  const watcher = new SlurmWatcher({
    query: scheduler.query,
    minIntervalMs: 10,
    maxIntervalMs: 40,
    maxCallsPerMinute: 60_000,
    log: (line) => logs.push(line),
    ...options,
  });
  return { watcher, logs };
}

/** Polls `condition` until it holds or the deadline passes (then fails with `what`). */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets `ms` pass; only for asserting that something does NOT happen. */
export function quietPeriod(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
