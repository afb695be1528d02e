/**
 * What Slurm granted a finished job: the GPU type and count from accounting (`sacct -X
 * -o JobIDRaw,NodeList,AllocTRES`: `gres/gpu:t4=2,gres/gpu=2`), or, where accounting keeps
 * no typed GPU TRES (AccountingStorageTRES without `gres/gpu:<type>`), the type of the GPUs on
 * the node it ran on (sinfo's gres). The cost ledger prices this, not the rung's gres, so a
 * `gpu:4` rung placed on T4 nodes is priced as T4. Pure.
 */
import { CryoError, ErrorType } from '../errors.js';
import { JOB_ID_PATTERN } from './squeue-format.js';
import type { SinfoNode } from './sinfo.js';
import type { GrantedGpus } from '../model/job-record.js';

export const GRANTED_FIELDS = 'JobIDRaw,NodeList,AllocTRES';

/** argv of the one sacct call for a step's jobs. */
export function buildGrantedArgs(jobIds: readonly string[]): string[] {
  if (jobIds.length === 0) throw new CryoError(ErrorType.NameInvalid, 'sacct job ids: empty list');
  for (const id of jobIds) {
    if (!JOB_ID_PATTERN.test(id))
      throw new CryoError(ErrorType.NameInvalid, `job id ${JSON.stringify(id)}: expected digits`);
  }
  return ['sacct', '-X', '-n', '--parsable2', '-j', [...new Set(jobIds)].join(','), '-o', GRANTED_FIELDS];
}

/** `billing=1,cpu=1,gres/gpu:t4=2,gres/gpu=2,mem=500M` → `{ type: 't4', count: 2 }`; no GPUs → undefined. */
export function parseAllocTres(field: string): { type?: string; count: number } | undefined {
  let untyped: number | undefined;
  const typed: { type: string; count: number }[] = [];
  for (const item of field.split(',')) {
    const m = /^gres\/gpu(?::([^=]+))?=(\d+)$/.exec(item.trim());
    if (!m) continue;
    if (m[1] === undefined) untyped = Number(m[2]);
    else typed.push({ type: m[1], count: Number(m[2]) });
  }
  // One type granted: that one. Several (a heterogeneous node): the one with most GPUs.
  const best = typed.sort((a, b) => b.count - a.count)[0];
  if (best !== undefined) return { type: best.type, count: untyped ?? typed.reduce((s, t) => s + t.count, 0) };
  return untyped === undefined || untyped === 0 ? undefined : { count: untyped };
}

/** Rows of {@link buildGrantedArgs}' output: job id → node and GPUs (none when the job had none). */
export function parseGranted(
  stdout: string,
): { jobId: string; node?: string; gpus?: { type?: string; count: number } }[] {
  const rows = [];
  for (const line of stdout.split('\n')) {
    const fields = line.trim().split('|');
    if (fields.length !== 3 || !JOB_ID_PATTERN.test(fields[0]!)) continue;
    const [jobId, node, tres] = fields as [string, string, string];
    const gpus = parseAllocTres(tres);
    rows.push({
      jobId,
      ...(node === '' || node === 'None assigned' ? {} : { node }),
      ...(gpus === undefined ? {} : { gpus }),
    });
  }
  return rows;
}

/**
 * The granted GPUs of each job: accounting's type when it names one, else the type of the
 * node's GPUs when the node has exactly one type. Jobs accounting does not list are left out.
 */
export function grantedGpus(rows: ReturnType<typeof parseGranted>, nodes: readonly SinfoNode[]): GrantedGpus[] {
  const out: GrantedGpus[] = [];
  for (const row of rows) {
    if (row.gpus === undefined) continue;
    const at = row.node === undefined ? {} : { node: row.node };
    if (row.gpus.type !== undefined) {
      out.push({ jobId: row.jobId, gpuType: row.gpus.type, gpus: row.gpus.count, ...at, source: 'sacct AllocTRES' });
      continue;
    }
    const types = new Set(nodes.filter((n) => n.node === row.node).flatMap((n) => n.gpus.map((g) => g.type)));
    const only = types.size === 1 ? [...types][0] : undefined;
    out.push({
      jobId: row.jobId,
      ...(only === undefined ? {} : { gpuType: only }),
      gpus: row.gpus.count,
      ...at,
      source: 'node gres',
    });
  }
  return out;
}
