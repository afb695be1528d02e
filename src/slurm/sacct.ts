/**
 * sacct as the second witness: for jobs squeue no longer lists (older than MinJobAge,
 * or a controller restart), one `sacct -X` call for all of them gives the final state.
 */
import type { SqueueRow } from './parse-squeue.js';
import { JOB_ID_PATTERN } from './squeue-format.js';
import { CryoError, ErrorType } from '../errors.js';
import { malformedLine, ROW_JOB_ID } from './rows.js';

/** Columns asked for, in order. */
export const SACCT_FIELDS = 'JobIDRaw,JobName,State,Reason,NodeList';

/** argv for one sacct call over many job ids (allocation rows only, `|`-separated). */
export function buildSacctArgs(jobIds: readonly string[]): string[] {
  // `sacct -j ''` would list every job of the user instead of none.
  if (jobIds.length === 0)
    throw new CryoError(ErrorType.NameInvalid, 'sacct job ids: empty list; skip the call when no job is missing', {
      jobIds,
    });
  for (const id of jobIds) {
    if (!JOB_ID_PATTERN.test(id))
      throw new CryoError(ErrorType.NameInvalid, `job id ${JSON.stringify(id)}: expected digits`);
  }
  return ['sacct', '-X', '-n', '--parsable2', '-j', [...new Set(jobIds)].join(','), '-o', SACCT_FIELDS];
}

/**
 * Parses `sacct --parsable2 --noheader` rows into the squeue row shape. Blank lines are
 * skipped. Throws `StatusQueryFailed` naming the line (number and text) for fewer than five
 * fields (a truncated line), a job id that is not one, or an empty state: a row we cannot
 * read must not stand for a job's final state.
 */
export function parseSacct(stdout: string): SqueueRow[] {
  const rows: SqueueRow[] = [];
  for (const [index, raw] of stdout.split('\n').entries()) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const fields = line.split('|');
    if (fields.length < 5)
      throw malformedLine('sacct', index + 1, line, `${fields.length} fields, expected 5`, SACCT_FIELDS);
    const [jobId, name, state] = fields as [string, string, string];
    if (!ROW_JOB_ID.test(jobId))
      throw malformedLine('sacct', index + 1, line, `job id ${JSON.stringify(jobId)}`, SACCT_FIELDS);
    if (state.trim() === '') throw malformedLine('sacct', index + 1, line, 'empty state', SACCT_FIELDS);
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
