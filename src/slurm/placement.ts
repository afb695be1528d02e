/**
 * Placement ladder rungs as workflows see them: plain data (the workflow gets the ladder
 * in its input, so a running campaign keeps the ladder it started with), plus the pure
 * helpers that name a rung, its GPU type and its time limit.
 */

/** One rung: where and with which GPUs to run. */
export interface PlacementRung {
  readonly cluster: string;
  readonly partition: string;
  /** `gpu:<type>:<n>` pins a GPU type; `gpu:<n>` takes any. */
  readonly gres: string;
  /** Multiplies the job's time limit (fewer or slower GPUs need longer). */
  readonly timeScale: number;
}

/** The ladder and its rules, as passed to clusterJob. */
export interface Placement {
  readonly ladder: readonly PlacementRung[];
  /** Pending this long for a capacity reason → cancel and try the next rung. */
  readonly hangAfterMs: number;
  /** When every rung hung: fail listing each rung and reason, or keep waiting on the last. */
  readonly onExhausted: 'fail' | 'wait';
  /** A job that ends TIMEOUT is resubmitted this many times (default 1)... */
  readonly timeoutResubmits?: number;
  /** ...each time with its time limit multiplied by this (default 2). */
  readonly timeoutScale?: number;
  /**
   * A node that failed a job (NODE_FAIL, BOOT_FAIL, or found down or drained right after
   * the job failed) is left out of later submissions this long (default 1 h; 0: never).
   */
  readonly excludeNodesForMs?: number;
}

/** Defaults of the optional placement rules (older workflow inputs lack them). */
export const PLACEMENT_DEFAULTS = { timeoutResubmits: 1, timeoutScale: 2, excludeNodesForMs: 3_600_000 } as const;

/** The GPU type a gres pins, or `any`. */
export function gpuTypeOf(gres: string): string {
  const parts = gres.split(':');
  return parts.length === 3 ? parts[1]! : 'any';
}

/** `rung 2 (dev/gpu, gpu:4)`: one-based, as operators count. */
export function describeRung(rung: PlacementRung, index: number): string {
  return `rung ${index + 1} (${rung.cluster}/${rung.partition}, ${rung.gres})`;
}

/** `gpu:a10g:4 → gpu:4`: the rungs of a ladder, in order, for summaries. */
export function describeLadder(ladder: readonly PlacementRung[]): string {
  return ladder.map((r) => r.gres ?? 'cpu').join(' → ');
}

/** The job's time limit on a rung, in whole minutes; `factor` is what TIMEOUT resubmissions added. */
export function scaledTimeLimit(minutes: number | undefined, rung: PlacementRung, factor = 1): number | undefined {
  return minutes === undefined ? undefined : Math.ceil(minutes * rung.timeScale * factor);
}

/** GPUs a gres asks for: `gpu:a10g:4` → 4, `gpu:1` → 1. */
export function gpuCountOf(gres: string): number {
  return Number(gres.split(':').at(-1));
}
