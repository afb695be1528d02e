/**
 * The safe-name grammar for anything we put into a Slurm field or onto a remote
 * command line without quoting: job names, partitions, cluster names.
 *
 * Slurm's `|`-separated machine output breaks on a `|` in a job name, and a space or
 * quote would need escaping in `#SBATCH` lines, so names stay in a small alphabet.
 */
import { CryoError, ErrorType } from '../errors.js';

/** Letters, digits, `.`, `_` and `-`; nothing that a shell or a `|`-split could misread. */
export const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

/** Longest name we accept; Slurm itself truncates job names in some output columns. */
export const MAX_NAME_LENGTH = 128;

/**
 * Throw `NameInvalid` unless `value` matches {@link SAFE_NAME} and is at most
 * {@link MAX_NAME_LENGTH} characters. `what` names the field in the message, e.g.
 * `job name "a|b": expected letters, digits, '.', '_' or '-'`.
 */
export function assertSafeName(value: string, what: string): void {
  if (value.length > MAX_NAME_LENGTH) {
    throw new CryoError(
      ErrorType.NameInvalid,
      `${what} ${JSON.stringify(value)}: ${value.length} characters, at most ${MAX_NAME_LENGTH} allowed`,
      { what, value },
    );
  }
  if (!SAFE_NAME.test(value)) {
    throw new CryoError(
      ErrorType.NameInvalid,
      `${what} ${JSON.stringify(value)}: expected letters, digits, '.', '_' or '-'` +
        (value === '' ? ' (got an empty string)' : ''),
      { what, value },
    );
  }
}
