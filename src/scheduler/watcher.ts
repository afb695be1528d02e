/**
 * One status watcher per cluster per worker process. Every job an activity waits on
 * registers here; the watcher makes one bulk status call for all registered, unfinished
 * jobs per interval, so scheduler load does not grow with the number of jobs.
 *
 * Modelled on submitit's InfoWatcher (register, finished set, fast-then-slow polling),
 * with a hard floor between calls because registrations alone must not speed it up
 * (submitit issue #1759 tripped a cluster's RPC limit that way).
 */
import { classifyJob, isFinalState, sameJobState, type JobMove } from '../slurm/state-table.js';
import type { SqueueRow } from '../slurm/parse-squeue.js';

/** What the watcher knows of one job. */
export interface JobObservation {
  readonly jobId: string;
  /** Slurm's state, normalised (e.g. `CANCELLED by 0` → `CANCELLED`); `SUBMITTED` before first seen. */
  readonly state: string;
  readonly move: JobMove;
  readonly reason?: string;
  readonly nodes?: string;
  readonly final: boolean;
  /** Bumped on every change of state, reason or nodes. */
  readonly version: number;
}

/** Bulk status call: rows for the ids the scheduler still knows. */
export type StatusQuery = (jobIds: readonly string[]) => Promise<readonly SqueueRow[]>;

/** Watcher tuning; durations in milliseconds. */
export interface WatcherOptions {
  readonly query: StatusQuery;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly maxCallsPerMinute: number;
  readonly log?: (message: string) => void;
}

interface Watched {
  observation: JobObservation;
  waiters: Set<() => void>;
  refs: number;
}

/** Shared poller for one cluster. */
export class SlurmWatcher {
  readonly #jobs = new Map<string, Watched>();
  readonly #unknownStatesLogged = new Set<string>();
  #intervalMs: number;
  #lastCallAt = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  /** Status calls made / failed, for tests, benchmarks and metrics. */
  readonly stats = { calls: 0, failures: 0 };

  constructor(readonly options: WatcherOptions) {
    this.#intervalMs = options.minIntervalMs;
  }

  /** Starts watching a job (idempotent; reference-counted). */
  register(jobId: string): JobObservation {
    let watched = this.#jobs.get(jobId);
    if (!watched) {
      const observation: JobObservation = { jobId, state: 'SUBMITTED', move: 'pending', final: false, version: 0 };
      watched = { observation, waiters: new Set(), refs: 0 };
      this.#jobs.set(jobId, watched);
      // A new job is the likeliest to change soon: poll fast again (the call-rate floor still holds).
      this.#intervalMs = this.options.minIntervalMs;
    }
    watched.refs += 1;
    this.#ensureLoop();
    this.#wake?.();
    return watched.observation;
  }

  /** Stops watching once every registrant has let go. */
  unregister(jobId: string): void {
    const watched = this.#jobs.get(jobId);
    if (watched && --watched.refs <= 0) this.#jobs.delete(jobId);
  }

  /** The current observation of a registered job. */
  current(jobId: string): JobObservation | undefined {
    return this.#jobs.get(jobId)?.observation;
  }

  /**
   * Resolves with the job's observation once its version passes `afterVersion`, or with
   * the current one after `timeoutMs` (so callers can heartbeat).
   */
  async waitForChange(jobId: string, afterVersion: number, timeoutMs: number): Promise<JobObservation> {
    const watched = this.#jobs.get(jobId);
    if (!watched) throw new Error(`job ${jobId} is not registered with the watcher`);
    if (watched.observation.version > afterVersion) return watched.observation;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        watched!.waiters.delete(done);
        resolve();
      }
      watched.waiters.add(done);
    });
    return watched.observation;
  }

  /** Stops polling; waiters are released with their current observation. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
    for (const watched of this.#jobs.values()) for (const w of [...watched.waiters]) w();
  }

  #ensureLoop(): void {
    if (this.#loop || this.#closed) return;
    this.#loop = this.#run().finally(() => {
      this.#loop = undefined;
    });
  }

  #active(): string[] {
    return [...this.#jobs.values()].filter((w) => !w.observation.final).map((w) => w.observation.jobId);
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const active = this.#active();
      if (active.length === 0) return; // idle: the next register() restarts the loop
      if (this.#lastCallAt === 0) {
        // The first call waits a moment so jobs registered together share it.
        await new Promise((resolve) => setTimeout(resolve, Math.min(100, this.options.minIntervalMs)));
        await this.#poll(this.#active());
        continue;
      }
      const gapMs = Math.max(this.#intervalMs, 60_000 / this.options.maxCallsPerMinute);
      const waitMs = this.#lastCallAt + gapMs - Date.now();
      if (waitMs > 0) {
        // register() may shorten the interval and wakes us to re-check; the floor still holds.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, waitMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
        continue;
      }
      await this.#poll(active);
    }
  }

  async #poll(jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    this.#lastCallAt = Date.now();
    this.stats.calls += 1;
    let rows: readonly SqueueRow[];
    try {
      rows = await this.options.query(jobIds);
    } catch (err) {
      // A failed status call never fails a job: keep the last known state and back off.
      this.stats.failures += 1;
      this.options.log?.(`status call for ${jobIds.length} job(s) failed (${this.stats.failures} so far), keeping last known states: ${(err as Error).message}`);
      this.#intervalMs = Math.min(this.#intervalMs * 2, this.options.maxIntervalMs);
      return;
    }
    let changed = false;
    for (const row of rows) changed = this.#observe(row) || changed;
    this.#intervalMs = changed
      ? this.options.minIntervalMs
      : Math.min(Math.ceil(this.#intervalMs * 1.5), this.options.maxIntervalMs);
  }

  #observe(row: SqueueRow): boolean {
    const watched = this.#jobs.get(row.jobId);
    if (!watched) return false;
    const c = classifyJob(row.state, row.reason);
    if (!c.known && !this.#unknownStatesLogged.has(`${row.jobId}:${row.state}`)) {
      this.#unknownStatesLogged.add(`${row.jobId}:${row.state}`);
      this.options.log?.(`job ${row.jobId}: unknown Slurm state "${row.state}", treating it as pending`);
    }
    const old = watched.observation;
    if (sameJobState(old, { state: c.state, reason: row.reason, nodes: row.nodes })) return false;
    watched.observation = {
      jobId: row.jobId,
      state: c.state,
      move: c.move,
      reason: row.reason,
      nodes: row.nodes,
      final: isFinalState(c.state),
      version: old.version + 1,
    };
    for (const w of [...watched.waiters]) w();
    return true;
  }
}
