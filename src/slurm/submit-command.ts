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
        throw new CryoError(
          ErrorType.NameInvalid,
          `environment variable name ${JSON.stringify(name)}: expected ${ENV_NAME}`,
        );
      }
      return `export ${name}=${shellQuote(value)}; `;
    })
    .join('');
}

/**
 * Exit status of the submit and look-up commands when they could not tell whether the job
 * exists (squeue failed: controller down or busy) or another submission of the same job is
 * still running: transient, try again later; never read as "no such job".
 */
export const SUBMIT_RETRY_LATER = 75;

/** Looks the job name up: `existing=<newest id>` or empty; exits SUBMIT_RETRY_LATER when squeue cannot answer. */
function lookupLines(jobName: string, lookBackDays: number): string[] {
  const name = shellQuote(jobName);
  return [
    // squeue failing (controller down) is not "no job": a submit made before the outage may exist.
    `ids=$(squeue -h -t all --name ${name} -o %i) || ` +
      `{ echo "cryoet: squeue could not look up ${jobName}; not submitting" >&2; exit ${SUBMIT_RETRY_LATER}; }; `,
    'existing=$(printf \'%s\\n\' "$ids" | sort -n | tail -n 1); ',
    // Older than MinJobAge: only accounting still knows it. No accounting: sacct fails, ignore.
    `[ -n "$existing" ] || existing=$(sacct -X -n -P --name ${name} -S now-${lookBackDays}days -o JobIDRaw ` +
      '2>/dev/null | sort -n | tail -n 1 || true); ',
    'if [ -n "$existing" ]; then echo "existing:$existing"; exit 0; fi; ',
  ];
}

/**
 * The look-up half of the submit command on its own: prints `existing:<id>` when a job with
 * this name (an earlier try of the same submit) exists, nothing otherwise.
 */
export function buildLookupCommand(spec: Pick<SubmitCommandSpec, 'jobName' | 'environment' | 'lookBackDays'>): string {
  assertSafeName(spec.jobName, 'job name');
  return [exportPrefix(spec.environment), 'set -e; ', ...lookupLines(spec.jobName, spec.lookBackDays ?? 30)].join('');
}

/**
 * The shell command line; the batch script goes to its stdin. Look-up and sbatch run under
 * a lock on the job's folder (`flock`, where installed): an sbatch left running by a dropped
 * SSH connection (it waits for a controller that is down) holds it, so a retry waits for it
 * to end and then finds its job, instead of submitting a second one.
 */
export function buildSubmitCommand(spec: SubmitCommandSpec): string {
  assertSafeName(spec.jobName, 'job name');
  const script = shellQuote(spec.scriptPath);
  const lock = shellQuote(`${spec.jobDir}/submit.lock`);
  return [
    exportPrefix(spec.environment),
    'set -e; ',
    `mkdir -p ${shellQuote(spec.jobDir)}; `,
    `exec 9>>${lock}; `,
    'if command -v flock >/dev/null 2>&1; then flock -w 30 9 || ' +
      `{ echo "cryoet: another submission of ${spec.jobName} is still running" >&2; exit ${SUBMIT_RETRY_LATER}; }; ` +
      'fi; ',
    ...lookupLines(spec.jobName, spec.lookBackDays ?? 30),
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
  throw new CryoError(
    ErrorType.SubmitOutputUnreadable,
    `submit command printed ${JSON.stringify(stdout.slice(-500))}, expected "existing:<id>" or "submitted:<id>"`,
  );
}
