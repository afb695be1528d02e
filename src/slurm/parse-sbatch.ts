/**
 * Reading what `sbatch --parsable` says, and sorting its failures into ones worth a
 * retry and ones that are not.
 */
import { CryoError, ErrorType } from '../errors.js';

/** A job id and, on multi-cluster setups, the cluster sbatch reports. */
export interface SbatchResult {
  /** Numeric job id, e.g. `123`. */
  readonly jobId: string;
  /** Cluster name from `<id>;<cluster>` output. */
  readonly cluster?: string;
}

const PARSABLE_LINE = /^([0-9]+)(?:;([A-Za-z0-9._-]+))?$/;

/**
 * Parse `sbatch --parsable` stdout: `<id>` or `<id>;<cluster>`, with a trailing newline.
 * Only the last non-blank line counts: a chatty login shell (rc files that echo) can
 * print before sbatch does, and sbatch prints nothing after the id. Throws
 * `SubmitOutputUnreadable` with the raw text quoted when that line is not an id.
 * Note: that error is retryable, and the job may exist; look it up by name before
 * submitting again.
 */
export function parseSbatchParsable(stdout: string): SbatchResult {
  const lines = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const match = PARSABLE_LINE.exec(lines.at(-1) ?? '');
  if (match === null || match[1] === undefined) {
    const shown = stdout.length > 500 ? `...${stdout.slice(-500)}` : stdout;
    throw new CryoError(
      ErrorType.SubmitOutputUnreadable,
      'sbatch --parsable printed no job id: expected "<id>" or "<id>;<cluster>" on the last line, ' +
        `got ${JSON.stringify(shown)}`,
      { stdout: shown },
    );
  }
  return match[2] === undefined ? { jobId: match[1] } : { jobId: match[1], cluster: match[2] };
}

/**
 * stderr fragments of sbatch failures that a later attempt can get past: the controller
 * was busy, restarting or unreachable. Matched case-insensitively anywhere in stderr.
 */
export const TRANSIENT_SBATCH_ERRORS: readonly string[] = [
  'Socket timed out',
  'Unable to contact slurm controller',
  'Slurm temporarily unable to accept job',
  'Connection refused',
  'Resource temporarily unavailable',
  'Zero Bytes were transmitted',
];

/**
 * Sort an sbatch failure. `'transient'` when stderr matches {@link TRANSIENT_SBATCH_ERRORS}
 * or when sbatch died from a signal (exit code 128 or above, or 255 from ssh itself): it
 * never got an answer, so the job may or may not exist and the caller must look it up
 * by name before retrying. `'rejected'` otherwise, e.g. "Requested node configuration is
 * not available", "Invalid partition name specified", "Invalid generic resource (gres)
 * specification": we retry submission only for reasons we recognise.
 */
export function classifySbatchError(exitCode: number, stderr: string): 'rejected' | 'transient' {
  const text = stderr.toLowerCase();
  if (TRANSIENT_SBATCH_ERRORS.some((fragment) => text.includes(fragment.toLowerCase()))) return 'transient';
  // sbatch exits 1 for every error it reports itself; 128+ means it was killed
  // before it could report one (SSH channel closed, timeout kill).
  if (exitCode >= 128) return 'transient';
  return 'rejected';
}

/**
 * Slurm's own words in an sbatch failure: the text after `error:` on each line, each once,
 * joined by `; ` (e.g. "Batch job submission failed: Requested node configuration is not
 * available"). Falls back to the trimmed stderr, or `(no message)`.
 */
export function sbatchErrorText(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const errors = lines.map((l) => /\berror:\s*(.*)$/i.exec(l)?.[1]?.trim()).filter((t): t is string => !!t);
  const chosen = errors.length > 0 ? errors : lines;
  return [...new Set(chosen)].join('; ').slice(0, 500) || '(no message)';
}
