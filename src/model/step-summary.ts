/**
 * One cluster step of a campaign as the run record keeps it: where it ran, for how long it
 * waited and ran, what it cost and which command it ran (campaign/job-summary.ts computes it
 * from the clusterJob's events). Types only; sandbox-safe.
 */
import type { JobEvent } from './job-record.js';

/** One finished cluster step. */
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
  /** Which price applied and why: `t4 as granted (sacct AllocTRES of job 96)`, `default: …`. */
  readonly priceBasis?: string;
  readonly costUsd: number;
  readonly command: readonly string[];
  readonly events: readonly JobEvent[];
}
