/**
 * The record a clusterJob keeps: one event per transition (time, rung, job id, node, state,
 * reason), and the GPUs Slurm granted its jobs. Returned in its result and readable live through
 * the `jobRecord` query (workflows/job-record.ts). Types only; sandbox-safe.
 */
import type { ExcludedNode } from './excluded-node.js';

/** A job's GPUs as Slurm granted them, and where that was read. */
export interface GrantedGpus {
  readonly jobId: string;
  /** The GPU type; absent when neither accounting nor the node names one. */
  readonly gpuType?: string;
  readonly gpus: number;
  readonly node?: string;
  /** `sacct AllocTRES` or `node gres` (the node's only GPU type). */
  readonly source: 'sacct AllocTRES' | 'node gres';
}

/** What happened. Our vocabulary; Slurm's own words travel in `state` and `reason`. */
export type JobEventKind =
  | 'submitted'
  | 'reattached'
  | 'observed'
  | 'requeued'
  | 'hung'
  | 'relaxed'
  | 'lost'
  | 'resumed'
  | 'resubmitted'
  | 'completed'
  | 'failed'
  | 'cancelled'
  | 'exhausted'
  /** sbatch refused the rung (no such partition, gres or node configuration): it is impossible. */
  | 'refused'
  /** The job reached its time limit and goes back with a longer one. */
  | 'timeout'
  /** A node failed the job; later submissions leave it out (`--exclude`). */
  | 'excluded'
  /** A job it was queued behind was replaced; its dependency now names the new job. */
  | 'moved';

/** One transition. */
export interface JobEvent {
  /** ISO time (workflow time, deterministic). */
  readonly at: string;
  readonly kind: JobEventKind;
  /** Zero-based ladder rung. */
  readonly rung: number;
  readonly cluster: string;
  readonly jobId?: string;
  readonly state?: string;
  readonly reason?: string;
  readonly node?: string;
  readonly note?: string;
  /** On `resumed`: the iteration continued from (none: started over) and the partial ones redone. */
  readonly iteration?: number;
  readonly redone?: readonly number[];
}

/** A hung rung, for the exhausted-ladder message. */
export interface HungRung {
  readonly rung: number;
  readonly jobId: string;
  readonly reason: string;
  readonly pendingMs: number;
}

/** A rung sbatch refused, with Slurm's message. */
export interface RefusedRung {
  readonly rung: number;
  readonly message: string;
}

/** Live view of a clusterJob. */
export interface JobRecord {
  readonly step: string;
  readonly rung: number;
  readonly attempt: number;
  readonly reclaims: number;
  readonly hung: readonly HungRung[];
  /** Rungs sbatch refused (absent in records from before it was kept). */
  readonly refused?: readonly RefusedRung[];
  /** TIMEOUTs resubmitted with a longer time limit. */
  readonly timeouts?: number;
  /** Nodes this job left out of its submissions, and why. */
  readonly excluded?: readonly ExcludedNode[];
  /** The GPUs Slurm granted each of its jobs, read when it completed (absent: not read). */
  readonly granted?: readonly GrantedGpus[];
  readonly events: readonly JobEvent[];
}
