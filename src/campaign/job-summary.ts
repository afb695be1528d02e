/**
 * One cluster step of a campaign as the run record keeps it: where it ran, for how long it
 * waited and ran, what it cost and which command it ran. Computed from the clusterJob's
 * event record (workflow times). Pure and sandbox-safe.
 *
 * Cost = Σ running intervals × GPUs × $/GPU-hour of the GPU type Slurm granted the interval's
 * job (sacct AllocTRES, or the node's gres: `record.granted`), else of the rung's gres type;
 * a type without a price, or none known, is priced at `gpuPrices.default`.
 */
import type { GrantedGpus, JobEvent, JobRecord } from '../model/job-record.js';
import type { StepSummary } from '../model/step-summary.js';
import { gpuCountOf, gpuTypeOf, type PlacementRung } from '../slurm/placement.js';
import { stepIntervals } from './step-intervals.js';

/** $ per GPU-hour for a GPU type: its own price, else `default`, else 0. */
export function priceFor(prices: Readonly<Record<string, number>>, gpuType: string): number {
  return (
    (Object.hasOwn(prices, gpuType) ? prices[gpuType] : undefined) ??
    (Object.hasOwn(prices, 'default') ? prices['default'] : undefined) ??
    0
  );
}

/** Running intervals (with the rung and job of each) and total pending time, from the events. */
function intervals(events: readonly JobEvent[]): {
  running: { ms: number; rung: number; jobId?: string }[];
  pendingMs: number;
} {
  const all = stepIntervals(events).intervals;
  return {
    running: all
      .filter((i) => i.kind === 'running')
      .map((i) => ({ ms: i.end - i.start, rung: i.rung, ...(i.jobId === undefined ? {} : { jobId: i.jobId }) })),
    pendingMs: all.filter((i) => i.kind === 'pending').reduce((sum, i) => sum + i.end - i.start, 0),
  };
}

/** A job's GPUs for pricing: what Slurm granted it, else the rung's gres. */
export interface PricedGpus {
  readonly gpuType: string;
  readonly gpus: number;
  readonly price: number;
  readonly basis: string;
}

/** The GPU type, count and price of a job on a rung, and why that price. Pure. */
export function pricedGpus(
  rung: PlacementRung,
  granted: GrantedGpus | undefined,
  prices: Readonly<Record<string, number>>,
): PricedGpus {
  const known = (type: string) => Object.hasOwn(prices, type);
  const gpus = granted?.gpus ?? gpuCountOf(rung.gres);
  if (granted?.gpuType !== undefined) {
    const via = `${granted.source} of job ${granted.jobId}${granted.node ? ` on ${granted.node}` : ''}`;
    const basis = known(granted.gpuType)
      ? `${granted.gpuType} as granted (${via})`
      : `default: ${granted.gpuType} granted (${via}) has no price`;
    return { gpuType: granted.gpuType, gpus, price: priceFor(prices, granted.gpuType), basis };
  }
  const type = gpuTypeOf(rung.gres);
  const why =
    granted === undefined ? 'no allocation record' : `${granted.source} of job ${granted.jobId} names no type`;
  const basis = known(type)
    ? `${type} from the rung's gres ${rung.gres} (${why})`
    : `default: the rung asks ${rung.gres} (${why})`;
  return { gpuType: type, gpus, price: priceFor(prices, type), basis };
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
  const granted = (jobId: string | undefined) => record.granted?.find((g) => g.jobId === jobId);
  const costUsd = running.reduce((sum, r) => {
    const p = pricedGpus(ladder[r.rung]!, granted(r.jobId), prices);
    return sum + (r.ms / 3_600_000) * p.gpus * p.price;
  }, 0);
  const jobIds = [...new Set(record.events.map((e) => e.jobId).filter((id): id is string => id !== undefined))];
  const first = (kinds: string[]) => record.events.find((e) => kinds.includes(e.kind))?.at;
  const started = record.events.find((e) => e.kind === 'observed' && e.state === 'RUNNING')?.at;
  const last = record.events.at(-1);
  const node = [...record.events].reverse().find((e) => e.node)?.node;
  const lastJob = [...record.events].reverse().find((e) => e.jobId !== undefined)?.jobId;
  const final = pricedGpus(rung, granted(lastJob), prices);
  return {
    step: record.step,
    cluster: rung.cluster,
    partition: rung.partition,
    rung: record.rung + 1,
    gres: rung.gres,
    gpuType: final.gpuType,
    gpus: final.gpus,
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
    pricePerGpuHour: final.price,
    ...(record.granted === undefined ? {} : { priceBasis: final.basis }),
    costUsd: Math.round(costUsd * 1e6) / 1e6,
    command,
    events: record.events,
  };
}
