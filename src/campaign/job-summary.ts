/**
 * One cluster step of a campaign as the run record keeps it: where it ran, for how long it
 * waited and ran, what it cost and which command it ran. Computed from the clusterJob's
 * event record (workflow times). Pure and sandbox-safe.
 *
 * Cost = Σ running intervals × GPUs on the rung × $/GPU-hour of the rung's GPU type
 * (`gpuPrices.<type>`; a rung that takes any type is priced at `gpuPrices.default`).
 */
import type { JobEvent, JobRecord } from '../workflows/job-record.js';
import { gpuCountOf, gpuTypeOf, type PlacementRung } from '../slurm/placement.js';
import { stepIntervals } from './step-intervals.js';

export interface StepSummary {
  readonly step: string;
  /** The tilt series a per-series step (reconstruct) worked on. */
  readonly tiltSeries?: string;
  readonly cluster: string;
  readonly partition: string;
  /** Rung the step finished on (1-based, as operators count) and its gres. */
  readonly rung: number;
  readonly gres: string;
  readonly gpuType: string;
  readonly gpus: number;
  readonly node?: string;
  readonly jobIds: readonly string[];
  readonly attempts: number;
  readonly relaxations: number;
  readonly reclaims: number;
  readonly submittedAt?: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly pendingSeconds: number;
  readonly runSeconds: number;
  readonly pricePerGpuHour: number;
  readonly costUsd: number;
  readonly command: readonly string[];
  readonly events: readonly JobEvent[];
}

/** $ per GPU-hour for a GPU type: its own price, else `default`, else 0. */
export function priceFor(prices: Readonly<Record<string, number>>, gpuType: string): number {
  return (Object.hasOwn(prices, gpuType) ? prices[gpuType] : undefined) ?? (Object.hasOwn(prices, 'default') ? prices['default'] : undefined) ?? 0;
}

/** Running intervals (with the rung each ran on) and total pending time, from the events. */
function intervals(events: readonly JobEvent[]): { running: { ms: number; rung: number }[]; pendingMs: number } {
  const all = stepIntervals(events).intervals;
  return {
    running: all.filter((i) => i.kind === 'running').map((i) => ({ ms: i.end - i.start, rung: i.rung })),
    pendingMs: all.filter((i) => i.kind === 'pending').reduce((sum, i) => sum + i.end - i.start, 0),
  };
}

/** The record of one finished step. */
export function summarizeStep(
  record: JobRecord,
  ladder: readonly PlacementRung[],
  prices: Readonly<Record<string, number>>,
  command: readonly string[],
): StepSummary {
  const rung = ladder[record.rung]!;
  const { running, pendingMs } = intervals(record.events);
  const costUsd = running.reduce((sum, r) => {
    const g = ladder[r.rung]!.gres;
    return sum + (r.ms / 3_600_000) * gpuCountOf(g) * priceFor(prices, gpuTypeOf(g));
  }, 0);
  const jobIds = [...new Set(record.events.map((e) => e.jobId).filter((id): id is string => id !== undefined))];
  const first = (kinds: string[]) => record.events.find((e) => kinds.includes(e.kind))?.at;
  const started = record.events.find((e) => e.kind === 'observed' && e.state === 'RUNNING')?.at;
  const last = record.events.at(-1);
  const node = [...record.events].reverse().find((e) => e.node)?.node;
  return {
    step: record.step,
    cluster: rung.cluster,
    partition: rung.partition,
    rung: record.rung + 1,
    gres: rung.gres,
    gpuType: gpuTypeOf(rung.gres),
    gpus: gpuCountOf(rung.gres),
    ...(node === undefined ? {} : { node }),
    jobIds,
    attempts: record.attempt,
    relaxations: record.hung.length,
    reclaims: record.reclaims,
    ...(first(['submitted', 'reattached']) === undefined ? {} : { submittedAt: first(['submitted', 'reattached'])! }),
    ...(started === undefined ? {} : { startedAt: started }),
    ...(last === undefined ? {} : { endedAt: last.at }),
    pendingSeconds: Math.round(pendingMs / 1000),
    runSeconds: Math.round(running.reduce((s, r) => s + r.ms, 0) / 1000),
    pricePerGpuHour: priceFor(prices, gpuTypeOf(rung.gres)),
    costUsd: Math.round(costUsd * 1e6) / 1e6,
    command,
    events: record.events,
  };
}
