/**
 * The one remote command that submits a job idempotently: look the job name (which
 * carries the idempotency key) up in squeue and, with accounting, sacct; if a job
 * exists, print its id and submit nothing; otherwise write the batch script from stdin
 * and `sbatch --parsable` it. One SSH round trip, and the window between look-up and
 * submission stays as short as a shell makes it.
 */
import { shellQuote } from '../shell/quote.js';
import { parseSbatchParsable } from './parse-sbatch.js';
import { assertSafeName } from './names.js';
import { ENV_NAME } from './sbatch-script.js';
import { CryoError, ErrorType } from '../errors.js';

/** Inputs of {@link buildSubmitCommand}; paths are absolute on the cluster. */
export interface SubmitCommandSpec {
  readonly jobName: string;
  readonly jobDir: string;
  readonly scriptPath: string;
  /** Variables the login shell must export first (e.g. SLURM_CONF). */
  readonly environment?: Readonly<Record<string, string>>;
  /** How far back sacct looks for an earlier job with the same name. */
  readonly lookBackDays?: number;
}

/** What the submit command reports. */
export type SubmitOutcome =
  | { readonly kind: 'existing'; readonly jobId: string }
  | { readonly kind: 'submitted'; readonly jobId: string; readonly cluster?: string };

/** `export A='x'; ` for each variable, names validated. */
export function exportPrefix(environment: Readonly<Record<string, string>> = {}): string {
  return Object.entries(environment)
    .map(([name, value]) => {
      if (!ENV_NAME.test(name)) {
        throw new CryoError(ErrorType.NameInvalid, `environment variable name ${JSON.stringify(name)}: expected ${ENV_NAME}`);
      }
      return `export ${name}=${shellQuote(value)}; `;
    })
    .join('');
}

/** The shell command line; the batch script goes to its stdin. */
export function buildSubmitCommand(spec: SubmitCommandSpec): string {
  assertSafeName(spec.jobName, 'job name');
  const name = shellQuote(spec.jobName);
  const days = spec.lookBackDays ?? 30;
  const script = shellQuote(spec.scriptPath);
  return [
    exportPrefix(spec.environment),
    'set -e; ',
    `existing=$(squeue -h -t all --name ${name} -o %i | sort -n | tail -n 1); `,
    // Older than MinJobAge: only accounting still knows it. No accounting: sacct fails, ignore.
    `[ -n "$existing" ] || existing=$(sacct -X -n -P --name ${name} -S now-${days}days -o JobIDRaw 2>/dev/null | sort -n | tail -n 1 || true); `,
    'if [ -n "$existing" ]; then echo "existing:$existing"; exit 0; fi; ',
    `mkdir -p ${shellQuote(spec.jobDir)}; `,
    `cat > ${script}.tmp; mv ${script}.tmp ${script}; `,
    // A plain assignment keeps sbatch's exit status, so `set -e` stops on a refusal.
    `submitted=$(sbatch --parsable ${script}); `,
    'echo "submitted:$submitted"',
  ].join('');
}

/** Reads the submit command's stdout. Throws SubmitOutputUnreadable on anything else. */
export function parseSubmitOutput(stdout: string): SubmitOutcome {
  const last = stdout.trim().split('\n').at(-1)?.trim() ?? '';
  const existing = /^existing:([0-9]+)$/.exec(last);
  if (existing?.[1]) return { kind: 'existing', jobId: existing[1] };
  if (last.startsWith('submitted:')) {
    const parsed = parseSbatchParsable(last.slice('submitted:'.length));
    return { kind: 'submitted', ...parsed };
  }
  throw new CryoError(ErrorType.SubmitOutputUnreadable, `submit command printed ${JSON.stringify(stdout.slice(-500))}, expected "existing:<id>" or "submitted:<id>"`);
}
