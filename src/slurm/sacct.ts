/**
 * sacct as the second witness: for jobs squeue no longer lists (older than MinJobAge,
 * or a controller restart), one `sacct -X` call for all of them gives the final state.
 */
import type { SqueueRow } from './parse-squeue.js';
import { JOB_ID_PATTERN } from './squeue-format.js';
import { CryoError, ErrorType } from '../errors.js';

/** Columns asked for, in order. */
export const SACCT_FIELDS = 'JobIDRaw,JobName,State,Reason,NodeList';

/** argv for one sacct call over many job ids (allocation rows only, `|`-separated). */
export function buildSacctArgs(jobIds: readonly string[]): string[] {
  for (const id of jobIds) {
    if (!JOB_ID_PATTERN.test(id)) throw new CryoError(ErrorType.NameInvalid, `job id ${JSON.stringify(id)}: expected digits`);
  }
  return ['sacct', '-X', '-n', '--parsable2', '-j', [...new Set(jobIds)].join(','), '-o', SACCT_FIELDS];
}

/** Parses `sacct --parsable2 --noheader` rows into the squeue row shape. */
export function parseSacct(stdout: string): SqueueRow[] {
  const rows: SqueueRow[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split('|');
    if (fields.length < 5) continue;
    const [jobId, name, state] = fields as [string, string, string];
    const nodes = fields.at(-1)!;
    const reason = fields.slice(3, -1).join('|');
    rows.push({
      jobId,
      name,
      state,
      reason: reason === '' || reason === 'None' ? undefined : reason,
      nodes: nodes === '' || nodes === 'None assigned' ? undefined : nodes,
    } as SqueueRow);
  }
  return rows;
}
