/**
 * Black-hole nodes: a node that failed a job (NODE_FAIL, BOOT_FAIL, or was found down or
 * drained right after the job failed) is left out of later submissions for a while
 * (`sbatch --exclude`). Pure and sandbox-safe: workflows keep the list in their state.
 */
import { CryoError, ErrorType } from '../errors.js';
import type { ExcludedNode } from '../model/excluded-node.js';

/** The node names still excluded on `cluster` at `nowMs`, sorted, each once. */
export function activeExclusions(list: readonly ExcludedNode[], cluster: string, nowMs: number): string[] {
  const nodes = list.filter((e) => e.cluster === cluster && Date.parse(e.until) > nowMs).map((e) => e.node);
  return [...new Set(nodes)].sort();
}

/** `a` and `b` joined: one entry per cluster and node, the one that ends last. */
export function mergeExclusions(a: readonly ExcludedNode[], b: readonly ExcludedNode[]): ExcludedNode[] {
  const byNode = new Map<string, ExcludedNode>();
  for (const e of [...a, ...b]) {
    const key = `${e.cluster}\u0000${e.node}`;
    const seen = byNode.get(key);
    if (!seen || Date.parse(e.until) > Date.parse(seen.until)) byNode.set(key, e);
  }
  return [...byNode.values()];
}

/**
 * Node names in a Slurm host list: `n1`, `n1,n2`, `n[1-3,5]`, `gpu-a[01-02],gpu-b1`.
 * Zero padding is kept (`[01-02]` → `01`, `02`). Text that is not a host list gives [].
 */
export function expandHostList(list: string | undefined): string[] {
  if (!list || /^\(.*\)$/.test(list.trim())) return [];
  const names: string[] = [];
  for (const part of list.match(/[^,[\]]+(?:\[[^\]]*\])?[^,]*/g) ?? []) {
    const m = /^([^[]*)\[([^\]]*)\](.*)$/.exec(part);
    if (!m) {
      names.push(part);
      continue;
    }
    const [, prefix, ranges, suffix] = m as unknown as [string, string, string, string];
    for (const range of ranges.split(',')) {
      const [lo, hi] = range.split('-');
      if (lo === undefined || !/^\d+$/.test(lo) || (hi !== undefined && !/^\d+$/.test(hi))) return [];
      const start = Number(lo);
      const end = hi === undefined ? start : Number(hi);
      // Past 2^53 `i += 1` no longer moves i: such a range would loop forever.
      if (!Number.isSafeInteger(end) || end - start > 4096) return [];
      for (let i = start; i <= end; i += 1) names.push(`${prefix}${String(i).padStart(lo.length, '0')}${suffix}`);
    }
  }
  return names.filter((n) => /^[A-Za-z0-9._-]+$/.test(n));
}

/**
 * Whether `sinfo -N -o %T` says a node cannot take work: down, drained or draining,
 * failing, not responding (`*` suffix), powering down, or in maintenance.
 */
export function nodeIsUnhealthy(state: string): boolean {
  const s = state.toLowerCase();
  return (
    s.endsWith('*') ||
    /^(down|drain|drained|draining|drng|fail|failing|maint|powering_down|power_down|inval|unknown)/.test(
      s.replace(/[~#!%$@^-]+$/, ''),
    )
  );
}

/** One row of `sinfo -h -N -n <nodes> -o '%N|%T|%E'`. */
export interface NodeHealth {
  readonly node: string;
  readonly state: string;
  readonly reason: string;
  readonly unhealthy: boolean;
}

/** Reads `sinfo -h -N -n <nodes> -o '%N|%T|%E'`; a node listed twice (two partitions) once. */
export function parseNodeHealth(stdout: string): NodeHealth[] {
  const rows = new Map<string, NodeHealth>();
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const [node, state, ...reason] = line.split('|');
    if (!node?.trim() || !state?.trim())
      throw new CryoError(
        ErrorType.StatusQueryFailed,
        `sinfo line ${JSON.stringify(line)}: expected "node|state|reason"`,
      );
    const text = reason.join('|').trim();
    rows.set(node.trim(), {
      node: node.trim(),
      state: state.trim(),
      reason: text === 'none' ? '' : text,
      unhealthy: nodeIsUnhealthy(state.trim()),
    });
  }
  return [...rows.values()];
}
