/**
 * One status watcher per cluster per worker process. Every job an activity waits on
 * registers here; the watcher makes one bulk status call for all registered, unfinished
 * jobs per interval, so scheduler load does not grow with the number of jobs.
 *
 * Modelled on submitit's InfoWatcher (register, finished set, fast-then-slow polling),
 * with a hard floor between calls because registrations alone must not speed it up
 * (submitit issue #1759 tripped a cluster's RPC limit that way).
 *
 * Backing off keeps a long job from costing a status call a second, but would find its end
 * up to `maxIntervalMs` late. So between status calls the watcher also looks for the result
 * markers of running jobs (one file check over SSH for all of them, no scheduler call);
 * when one appears it makes the next status call at once, floor permitting, and keeps
 * polling fast until Slurm records the end.
 */
import { classifyJob, isFinalState, sameJobState, type JobMove, type JobStateView } from '../slurm/state-table.js';
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

/** File check on the cluster: which of these result-marker paths exist now. */
export type MarkerQuery = (paths: readonly string[]) => Promise<ReadonlySet<string>>;

/** Watcher tuning; durations in milliseconds. */
export interface WatcherOptions {
  readonly query: StatusQuery;
  readonly minIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly maxCallsPerMinute: number;
  /** Looks for running jobs' result markers between status calls; none: status calls only. */
  readonly markerQuery?: MarkerQuery;
  /** How often to look for markers while a status call is further off than this. */
  readonly markerIntervalMs?: number;
  /** After a marker appears, wait this long before the status call, so Slurm has the end. */
  readonly markerSettleMs?: number;
  readonly log?: (message: string) => void;
}

interface Watched {
  observation: JobObservation;
  waiters: Set<() => void>;
  refs: number;
  /** The job's result marker on the cluster, when the registrant gave it. */
  markerPath?: string;
  /** The marker was there: the job's end is near; poll fast until Slurm has it. */
  markerSeen: boolean;
}

/** Version 0: SUBMITTED, or what the registrant last saw (not news: never reported as a change). */
function firstObservation(jobId: string, known: JobStateView | undefined): JobObservation {
  if (known === undefined) return { jobId, state: 'SUBMITTED', move: 'pending', final: false, version: 0 };
  const c = classifyJob(known.state, known.reason);
  const { reason, nodes } = known;
  return { jobId, state: c.state, move: c.move, reason, nodes, final: isFinalState(c.state), version: 0 };
}

/** Shared poller for one cluster. */
export class SlurmWatcher {
  readonly #jobs = new Map<string, Watched>();
  readonly #unknownStatesLogged = new Set<string>();
  /**
   * Since when nothing has changed (a new job, a change seen, a marker): the interval grows
   * with this quiet time, not with the calls made, so a watcher on a share of N, calling N
   * times as far apart, backs off on the same clock as one alone (N of them make its calls).
   */
  #calmSince = 0;
  #lastCallAt = 0;
  #lastMarkerCheckAt = 0;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  /** Workers sharing the cluster's status-call budget (share.ts): calls are spaced this many times as far. */
  #share = 1;
  /** Status calls made / failed, and marker checks (not scheduler calls), for tests, benchmarks and metrics. */
  readonly stats = { calls: 0, failures: 0, markerChecks: 0, markersSeen: 0 };

  constructor(readonly options: WatcherOptions) {}

  /**
   * The gap one watcher alone keeps after a call at `at`: minIntervalMs plus half the quiet
   * time, up to maxIntervalMs. Called once per gap, that is 1.5 times the gap before.
   */
  #intervalAt(at: number): number {
    const { minIntervalMs, maxIntervalMs } = this.options;
    return Math.min(maxIntervalMs, minIntervalMs + Math.max(0, at - this.#calmSince) / 2);
  }

  /** A failed call: the next gap is twice this one (the quiet clock is moved back to match). */
  #slowDown(at: number): void {
    const { minIntervalMs, maxIntervalMs } = this.options;
    const doubled = Math.min(maxIntervalMs, 2 * this.#intervalAt(at));
    this.#calmSince = at - 2 * (doubled - minIntervalMs);
  }

  /**
   * Starts watching a job (idempotent; reference-counted). `markerPath`: the result marker
   * its batch script writes when the command ends, looked for while the job runs. `known`:
   * what the registrant saw last (a watch that goes on, perhaps begun on another worker).
   * The job then starts from it, a running job's marker is looked for at once, and polling
   * keeps its pace: only a job never seen is likely to change soon.
   */
  register(jobId: string, markerPath?: string, known?: JobStateView): JobObservation {
    let watched = this.#jobs.get(jobId);
    if (!watched) {
      watched = { observation: firstObservation(jobId, known), waiters: new Set(), refs: 0, markerSeen: false };
      this.#jobs.set(jobId, watched);
      // A new job is the likeliest to change soon: poll fast again (the call-rate floor still holds).
      if (known === undefined) this.#calmSince = Date.now();
    }
    if (markerPath !== undefined) watched.markerPath = markerPath;
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

  /**
   * Takes 1/`workers` of the status-call budget: the gap between calls (the interval and the
   * floor of maxCallsPerMinute) grows by that factor, and the back-off runs on the same clock,
   * so `workers` watchers together call as often as one alone. Marker checks (no scheduler
   * call) keep their pace, so a job's end is still seen within about markerIntervalMs.
   */
  setShare(workers: number): void {
    const share = Math.max(1, Math.floor(workers));
    if (share === this.#share) return;
    this.#share = share;
    this.#wake?.();
  }

  get share(): number {
    return this.#share;
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
        await this.#sleep(Math.min(100, this.options.minIntervalMs));
        await this.#poll(this.#active());
        continue;
      }
      const floorMs = (60_000 / this.options.maxCallsPerMinute) * this.#share;
      const gapMs = Math.max(this.#intervalAt(this.#lastCallAt) * this.#share, floorMs);
      const now = Date.now();
      const callAt = this.#lastCallAt + gapMs;
      const markerEvery = this.options.markerIntervalMs ?? this.options.minIntervalMs;
      const markerAt = this.#markerCandidates().length > 0 ? this.#lastMarkerCheckAt + markerEvery : Infinity;
      // A marker check only when the status call is further off than one check interval.
      if (markerAt <= now && callAt - now > markerEvery) {
        if (await this.#checkMarkers()) {
          // The end is near: the status call as soon as the floor allows, after a settle.
          this.#calmSince = Date.now();
          await this.#sleep(Math.max(this.options.markerSettleMs ?? 150, this.#lastCallAt + floorMs - Date.now()));
        }
        continue;
      }
      // Wake for a marker check only if one would still be allowed then.
      const wakeAt = markerAt < callAt - markerEvery ? Math.max(markerAt, now) : callAt;
      const waitMs = wakeAt - now;
      if (waitMs > 0) {
        // register() may shorten the interval and wakes us to re-check; the floor still holds.
        await this.#sleep(waitMs, true);
        continue;
      }
      await this.#poll(active);
    }
  }

  #sleep(ms: number, wakeable = false): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, ms));
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.#wake === done) self.#wake = undefined;
        resolve();
      }
      if (wakeable) this.#wake = done;
    });
  }

  /** Running jobs with a marker path whose marker has not been seen yet. */
  #markerCandidates(): Watched[] {
    if (!this.options.markerQuery) return [];
    return [...this.#jobs.values()].filter(
      (w) => w.markerPath !== undefined && !w.markerSeen && w.observation.move === 'running' && !w.observation.final,
    );
  }

  /** One marker check for all candidates; true when a marker appeared. Failures only log. */
  async #checkMarkers(): Promise<boolean> {
    const candidates = this.#markerCandidates();
    this.#lastMarkerCheckAt = Date.now();
    if (candidates.length === 0) return false;
    this.stats.markerChecks += 1;
    let found: ReadonlySet<string>;
    try {
      found = await this.options.markerQuery!(candidates.map((w) => w.markerPath!));
    } catch (err) {
      this.options.log?.(
        `result-marker check for ${candidates.length} job(s) failed, ` +
          `relying on status calls: ${(err as Error).message}`,
      );
      return false;
    }
    let any = false;
    for (const w of candidates) {
      if (found.has(w.markerPath!)) {
        w.markerSeen = true;
        this.stats.markersSeen += 1;
        any = true;
      }
    }
    return any;
  }

  async #poll(jobIds: string[]): Promise<void> {
    if (jobIds.length === 0) return;
    const at = Date.now();
    this.#lastCallAt = at;
    this.stats.calls += 1;
    let rows: readonly SqueueRow[];
    try {
      rows = await this.options.query(jobIds);
    } catch (err) {
      // A failed status call never fails a job: keep the last known state and back off.
      this.stats.failures += 1;
      this.options.log?.(
        `status call for ${jobIds.length} job(s) failed (${this.stats.failures} so far), ` +
          `keeping last known states: ${(err as Error).message}`,
      );
      this.#slowDown(at);
      return;
    }
    let changed = false;
    for (const row of rows) changed = this.#observe(row) || changed;
    // A job whose marker is there but whose end Slurm has not recorded yet: stay fast.
    const ending = jobIds.some((id) => {
      const w = this.#jobs.get(id);
      return w !== undefined && w.markerSeen && !w.observation.final;
    });
    // Otherwise the gap keeps growing with the quiet time (1.5 times per call alone).
    if (changed || ending) this.#calmSince = at;
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
    // Requeued: the next run writes its own marker (the script removes the old one first).
    if (c.move !== 'running' && c.move !== 'done') watched.markerSeen = false;
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
