/**
 * Parse `squeue -h -o '%i|%j|%T|%r|%N|%S|%V'` output (see `squeue-format.ts`).
 */
import { malformedLine, present, ROW_JOB_ID } from './rows.js';

/** One job as squeue shows it. */
export interface SqueueRow {
  /** `%i`: `123`, `123_4` (array task), `123_[5-9]` (pending array tail), `123+1` (het job). */
  readonly jobId: string;
  /** `%j`: job name. */
  readonly name: string;
  /** `%T`: long state name as printed, e.g. `PENDING`; classify with `classifyJob`. */
  readonly state: string;
  /** `%r`: reason, e.g. `ReqNodeNotAvail, UnavailableNodes:c1`; absent when `None`. */
  readonly reason?: string;
  /** `%N`: node list, e.g. `n[1-2]`; absent while pending. */
  readonly nodes?: string;
  /** `%S`: actual or expected start time, cluster-local `YYYY-MM-DDTHH:MM:SS`; absent when `N/A`. */
  readonly startTime?: string;
  /** `%V`: submit time, cluster-local; it resets when a job is requeued. */
  readonly submitTime?: string;
}

const FIELD_COUNT = 7;

/**
 * Parse squeue output in {@link SQUEUE_FORMAT}. Blank lines are skipped. A line splits
 * on `|` into 7 fields; if there are more, the extra `|` are taken to belong to the
 * reason (the fields after the state up to the last three), since names are validated
 * and ids, states, nodes and times never contain one. `None`/`(None)` reasons and
 * `N/A` times become `undefined`. Throws `StatusQueryFailed` naming the line (number and
 * text) for fewer fields, an empty state, or a job id that is not one.
 */
export function parseSqueue(stdout: string): SqueueRow[] {
  const rows: SqueueRow[] = [];
  for (const [index, raw] of stdout.split('\n').entries()) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const fields = line.split('|');
    if (fields.length < FIELD_COUNT)
      throw malformedLine('squeue', index + 1, line, `${fields.length} fields, expected ${FIELD_COUNT}`);
    const n = fields.length;
    const [jobId = '', name = '', state = ''] = fields.map((f) => f.trim());
    if (!ROW_JOB_ID.test(jobId)) throw malformedLine('squeue', index + 1, line, `job id ${JSON.stringify(jobId)}`);
    if (state === '') throw malformedLine('squeue', index + 1, line, 'empty state');
    const reason = present(fields.slice(3, n - 3).join('|'));
    const nodes = present(fields[n - 3] ?? '');
    const startTime = present(fields[n - 2] ?? '');
    const submitTime = present(fields[n - 1] ?? '');
    rows.push({
      jobId,
      name,
      state,
      ...(reason === undefined ? {} : { reason }),
      ...(nodes === undefined ? {} : { nodes }),
      ...(startTime === undefined ? {} : { startTime }),
      ...(submitTime === undefined ? {} : { submitTime }),
    });
  }
  return rows;
}
