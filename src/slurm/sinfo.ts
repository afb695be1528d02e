/**
 * sinfo's node list, one row per node and partition (`sinfo --noheader -N -o '%N|%R|%G|%t'`),
 * and the GPUs in a gres field: what each node offers, for the doctor's rung checks and for
 * the GPU type a job was granted when accounting does not say. Pure.
 */
import { parseGres } from '../config/schema.js';

/** One row of `sinfo --noheader -N -o '%N|%R|%G|%t'`: a node in one partition. */
export interface SinfoNode {
  readonly node: string;
  readonly partition: string;
  /** The node's GPUs by type (`undefined` type: gres without one). */
  readonly gpus: readonly { readonly type?: string; readonly count: number }[];
  /** Compact state: `idle`, `mix`, `alloc`, `down~`, `drain*`, … */
  readonly state: string;
}

export const SINFO_NODES_ARGS = ['sinfo', '--noheader', '-N', '-o', '%N|%R|%G|%t'] as const;

/** Parses `gpu:t4:4(S:0-1),gpu:a10g:2,shard:8` into the gpu entries. */
export function parseNodeGres(field: string): { type?: string; count: number }[] {
  const gpus: { type?: string; count: number }[] = [];
  for (const raw of field.split(/,(?![^(]*\))/)) {
    const entry = raw.replace(/\(.*\)$/, '').trim();
    if (!/^gpu(:[^:]+)?:\d+$/.test(entry)) continue;
    gpus.push(parseGres(entry));
  }
  return gpus;
}

/** Parses sinfo's node list (SINFO_NODES_ARGS). Lines that are not four fields are skipped. */
export function parseSinfoNodes(text: string): SinfoNode[] {
  const nodes: SinfoNode[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split('|');
    if (fields.length !== 4 || fields[0] === '') continue;
    nodes.push({
      node: fields[0]!,
      partition: fields[1]!.replace(/\*$/, ''),
      gpus: parseNodeGres(fields[2]!),
      state: fields[3]!,
    });
  }
  return nodes;
}
