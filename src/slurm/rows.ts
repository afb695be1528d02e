/**
 * What the squeue and sacct row parsers share: the job ids a row may carry, Slurm's words for
 * "no value", and the error that names an unreadable line. Pure.
 */
import { CryoError, ErrorType } from '../errors.js';

/** `123`, `123_4` (array task), `123_[5-9]` (pending array tail), `123+1` (het job). */
export const ROW_JOB_ID = /^[0-9]+([_+][0-9[\]%,-]+)?$/;

const NO_VALUE: ReadonlySet<string> = new Set(['', 'N/A', 'None', '(None)', 'Unknown', '(null)']);

/** The field trimmed, or undefined where Slurm printed one of its words for no value. */
export function present(value: string): string | undefined {
  const trimmed = value.trim();
  return NO_VALUE.has(trimmed) ? undefined : trimmed;
}

/**
 * `StatusQueryFailed` naming the line of `tool`'s output (number and text) and why it is
 * unreadable; `expected`, the format asked for, when the message should show it.
 */
export function malformedLine(tool: 'squeue' | 'sacct', lineNo: number, line: string, why: string, expected?: string) {
  const reason = expected === undefined ? why : `${why}; expected ${expected}`;
  return new CryoError(
    ErrorType.StatusQueryFailed,
    `${tool} output line ${lineNo} unreadable (${reason}): ${JSON.stringify(line)}`,
    { line, lineNo },
  );
}
