/**
 * The pure half of the peers benchmark: reading the sleep tools' log and the scheduler-call
 * log, the critical path of a run's DAG, refine iterations redone, jobs submitted twice,
 * and the results table. No I/O; unit-tested in test/unit/bench-smoke.test.ts.
 */

/** One line of the sleep tools' log: `<step> <event> <item> <ms> <job id> <node> <cwd>`. */
export interface ToolEvent {
  readonly step: string;
  readonly event: string;
  /** Tilt series for reconstruct, iteration for refine; undefined for `-`. */
  readonly item?: string;
  readonly ms: number;
  readonly jobId?: string;
  readonly node: string;
  readonly dir: string;
}

export function parseToolLog(text: string): ToolEvent[] {
  const events: ToolEvent[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f.length < 7 || !/^\d+$/.test(f[3]!)) continue;
    events.push({
      step: f[0]!,
      event: f[1]!,
      ...(f[2] === '-' ? {} : { item: f[2]! }),
      ms: Number(f[3]),
      ...(f[4] === '-' ? {} : { jobId: f[4]! }),
      node: f[5]!,
      dir: f.slice(6).join(' '),
    });
  }
  return events;
}

/** The events of one run: those whose working folder is `dir` or under it. */
export function eventsIn(events: readonly ToolEvent[], dir: string): ToolEvent[] {
  return events.filter((e) => e.dir === dir || e.dir.startsWith(`${dir}/`));
}

/** A step of the pipeline DAG: `reconstruct:TS_01`, `extract`, ... and what it waits for. */
export interface DagStep {
  readonly key: string;
  readonly after: readonly string[];
}

/** probe → reconstruct × series → extract → refine → postprocess (our campaign has the probe). */
export function pipelineDag(series: readonly string[], withProbe: boolean): DagStep[] {
  const recon = series.map((ts) => `reconstruct:${ts}`);
  return [
    ...(withProbe ? [{ key: 'probe', after: [] }] : []),
    ...recon.map((key) => ({ key, after: withProbe ? ['probe'] : [] })),
    { key: 'extract', after: recon },
    { key: 'refine', after: ['extract'] },
    { key: 'postprocess', after: ['refine'] },
  ];
}

/** Longest chain of dependent steps by summed duration (steps without a duration count 0). */
export function criticalPath(
  dag: readonly DagStep[],
  durationMs: ReadonlyMap<string, number>,
): { ms: number; path: string[] } {
  const best = new Map<string, { ms: number; path: string[] }>();
  const visit = (key: string, stack: Set<string>): { ms: number; path: string[] } => {
    const known = best.get(key);
    if (known) return known;
    if (stack.has(key)) throw new Error(`criticalPath: cycle at ${key}`);
    const step = dag.find((s) => s.key === key);
    if (!step) throw new Error(`criticalPath: unknown step ${key}`);
    stack.add(key);
    let before = { ms: 0, path: [] as string[] };
    for (const dep of step.after) {
      const d = visit(dep, stack);
      if (d.ms > before.ms || before.path.length === 0) before = d;
    }
    stack.delete(key);
    const result = { ms: before.ms + (durationMs.get(key) ?? 0), path: [...before.path, key] };
    best.set(key, result);
    return result;
  };
  let top = { ms: 0, path: [] as string[] };
  for (const s of dag) {
    const r = visit(s.key, new Set());
    if (r.ms > top.ms) top = r;
  }
  return top;
}

/**
 * The work each step needs, from the tool log: the last complete run of each step, and for
 * the refine the sum over its iterations of the last complete run of each (a resumed
 * refine's work is what a fault-free refine would have done).
 */
export function stepWorkMs(events: readonly ToolEvent[]): Map<string, number> {
  const work = new Map<string, number>();
  const keyOf = (e: ToolEvent) =>
    e.step === 'reconstruct' ? `reconstruct:${e.item}` : e.step === 'refine' ? `refine:${e.item}` : e.step;
  const open = new Map<string, number>();
  for (const e of [...events].sort((a, b) => a.ms - b.ms)) {
    if (e.event === 'start' || (e.step === 'probe' && e.event === 'end')) {
      open.set(keyOf(e) + (e.jobId ?? ''), e.ms);
    }
    if (e.event === 'end') {
      const started = open.get(keyOf(e) + (e.jobId ?? ''));
      if (started !== undefined) work.set(keyOf(e), e.ms - started);
    }
  }
  let refine = 0;
  for (const [key, ms] of [...work]) {
    if (key.startsWith('refine:')) {
      refine += ms;
      work.delete(key);
    }
  }
  if (refine > 0) work.set('refine', refine);
  return work;
}

/** Refine iterations started more than once (work thrown away by a fault and done again). */
export function iterationsRedone(events: readonly ToolEvent[]): number {
  const starts = new Map<string, number>();
  for (const e of events)
    if (e.step === 'refine' && e.event === 'start' && e.item) starts.set(e.item, (starts.get(e.item) ?? 0) + 1);
  return [...starts.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
}

/** The newest refine iteration whose `end` is logged. */
export function newestIteration(events: readonly ToolEvent[]): number | undefined {
  const ends = events.filter((e) => e.step === 'refine' && e.event === 'end' && e.item).map((e) => Number(e.item));
  return ends.length === 0 ? undefined : Math.max(...ends);
}

/** One Slurm client call, as the counting shim logs it: `<ms> <command> <job id|-> <run> <args…>`. */
export interface SchedulerCall {
  readonly ms: number;
  readonly command: string;
  /** Set when the call came from inside a job (e.g. Snakemake's `srun` job step). */
  readonly jobId?: string;
  readonly run: string;
  readonly args: string;
}

export function parseCallLog(text: string): SchedulerCall[] {
  const calls: SchedulerCall[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+) (\S+) (\S+) ?(.*)$/.exec(line);
    if (!m) continue;
    calls.push({
      ms: Number(m[1]),
      command: m[2]!,
      ...(m[3] === '-' ? {} : { jobId: m[3]! }),
      run: m[4]!,
      args: m[5] ?? '',
    });
  }
  return calls;
}

export type CallKind = 'submit' | 'submit-lookup' | 'status' | 'cancel' | 'other' | 'in-job';

/**
 * What a call is for. Our submit looks the job name (`cryoet.…`) up in squeue and sacct
 * before `sbatch` (the idempotent submit); a status call is a squeue/sacct for job state.
 */
export function classifyCall(call: SchedulerCall): CallKind {
  if (call.jobId) return 'in-job';
  if (call.command === 'sbatch') return 'submit';
  if (call.command === 'squeue' || call.command === 'sacct')
    return /--name[ =]cryoet\./.test(call.args) ? 'submit-lookup' : 'status';
  if (call.command === 'scancel') return 'cancel';
  return 'other';
}

export interface CallSummary {
  /** Every call the driver made (not counting calls from inside jobs). */
  readonly driver: number;
  readonly byKind: Record<CallKind, number>;
  readonly byCommand: Record<string, number>;
  /** Status calls per minute over the window. */
  readonly statusPerMinute: number;
  /** Driver calls per minute over the window. */
  readonly driverPerMinute: number;
}

export function summarizeCalls(calls: readonly SchedulerCall[], windowMs: number): CallSummary {
  const byKind: Record<CallKind, number> = {
    submit: 0,
    'submit-lookup': 0,
    status: 0,
    cancel: 0,
    other: 0,
    'in-job': 0,
  };
  const byCommand: Record<string, number> = {};
  for (const c of calls) {
    const kind = classifyCall(c);
    byKind[kind] += 1;
    if (kind !== 'in-job') byCommand[c.command] = (byCommand[c.command] ?? 0) + 1;
  }
  const driver = calls.length - byKind['in-job'];
  const minutes = Math.max(windowMs, 1) / 60_000;
  return { driver, byKind, byCommand, statusPerMinute: byKind.status / minutes, driverPerMinute: driver / minutes };
}

/** One Slurm job of a run (from sacct), mapped to its pipeline step. */
export interface JobRow {
  readonly jobId: string;
  /** `reconstruct:TS_01`, `extract`, `refine`, `postprocess`, `probe`. */
  readonly key: string;
  readonly state: string;
  readonly submitMs: number;
  /** Undefined when the job never started. */
  readonly startMs?: number;
  readonly endMs?: number;
}

/**
 * Jobs submitted, duplicates (a job for a step while an earlier job of that step was still
 * pending or running, or had completed) and completed jobs re-run (a job that started
 * after another job of its step had completed). A resubmission after a job failed, was
 * cancelled or lost its node is neither.
 */
export function submissionReport(jobs: readonly JobRow[]): {
  submitted: number;
  duplicates: number;
  completedRerun: number;
} {
  const byKey = new Map<string, JobRow[]>();
  for (const j of jobs) byKey.set(j.key, [...(byKey.get(j.key) ?? []), j]);
  let duplicates = 0;
  let completedRerun = 0;
  for (const list of byKey.values()) {
    list.sort((a, b) => a.submitMs - b.submitMs || Number(a.jobId) - Number(b.jobId));
    list.forEach((job, i) => {
      const earlier = list.slice(0, i);
      const alive = earlier.some((p) => p.state === 'COMPLETED' || p.endMs === undefined || p.endMs > job.submitMs);
      if (alive) duplicates += 1;
      if (
        job.startMs !== undefined &&
        earlier.some((p) => p.state === 'COMPLETED' && p.endMs !== undefined && p.endMs <= job.startMs!)
      )
        completedRerun += 1;
    });
  }
  return { submitted: jobs.length, duplicates, completedRerun };
}

/**
 * Longest-processing-time list schedule of `durations` on `slots` parallel slots: the
 * makespan a scheduler with no overhead would reach for a fan-out (scale runs).
 */
export function listScheduleMs(durationsMs: readonly number[], slots: number): number {
  const free = Array.from({ length: Math.max(1, slots) }, () => 0);
  for (const d of [...durationsMs].sort((a, b) => b - a)) {
    const i = free.indexOf(Math.min(...free));
    free[i] = free[i]! + d;
  }
  return Math.max(0, ...free);
}

/** A markdown table; `undefined` cells print as `—`. */
export function markdownTable(
  columns: readonly string[],
  rows: readonly (readonly (string | number | undefined)[])[],
): string {
  const cell = (v: string | number | undefined) => (v === undefined ? '—' : String(v)).replaceAll('|', '\\|');
  return [
    `| ${columns.map(cell).join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${columns.map((_, i) => cell(r[i])).join(' | ')} |`),
  ].join('\n');
}

/** 1.0234 → `1.02`; undefined stays undefined. */
export const ratio = (v: number | undefined, digits = 2): string | undefined =>
  v === undefined || !Number.isFinite(v) ? undefined : v.toFixed(digits);
/** ms → `12.3 s`. */
export const seconds = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : `${(ms / 1000).toFixed(1)} s`;
