/**
 * The batch script we hand to `sbatch`, and the result marker it leaves behind.
 *
 * The script runs one argv command and then writes a small marker file (exit code,
 * job id, node, finish time) atomically. Success needs both the marker and a clean
 * scheduler record: the exit status Slurm reports alone has let OOM-killed jobs pass
 * (Nextflow issues #1285, #5332).
 */
import { CryoError, ErrorType } from '../errors.js';
import { shellJoin, shellQuote } from '../shell/quote.js';
import { assertSafeName } from './names.js';

/** What one batch job needs. Paths are absolute paths on the cluster. */
export interface SbatchSpec {
  /** `--job-name`; carries the idempotency key (see `jobNameFor` in `job-key.ts`). */
  readonly jobName: string;
  /** `--partition`: one partition name. */
  readonly partition: string;
  /** `--gres`, e.g. `gpu:t4:2` or `gpu:1`. */
  readonly gres?: string;
  /** `--cpus-per-task`, a positive integer. */
  readonly cpusPerTask?: number;
  /** `--mem` in MiB, a positive integer. */
  readonly memMb?: number;
  /** `--time` in minutes, a positive integer; written as `D-HH:MM:SS`. */
  readonly timeLimitMinutes?: number;
  /** `--chdir`: absolute working directory of the job. */
  readonly workDir: string;
  /** `--output`: absolute path of the job's stdout+stderr; sbatch expands `%j`, `%x`, `%%`. */
  readonly outputPath: string;
  /** `--comment`: free text on one line. */
  readonly comment?: string;
  /** `--requeue` when true; default false writes `--no-requeue` so the workflow owns retries. */
  readonly requeue?: boolean;
  /** `--exclude`: nodes this job must not run on (black-hole nodes), one name each. */
  readonly exclude?: readonly string[];
  /**
   * `--dependency=afterok:<ids>` with `--kill-on-invalid-dep=yes`: Slurm starts the job the
   * moment every listed job has COMPLETED, and cancels it if one ends otherwise.
   */
  readonly afterOk?: readonly string[];
  /**
   * `--kill-on-invalid-dep=no` instead (whatever the site's kill_invalid_depend): the job
   * stays pending (DependencyNeverSatisfied) so its dependency can be re-pointed.
   */
  readonly keepOnFailedDependency?: boolean;
  /** Variables exported before the command runs; names must match {@link ENV_NAME}. */
  readonly environment?: Readonly<Record<string, string>>;
  /** The command as an argv array; never a shell string. */
  readonly command: readonly string[];
  /** Absolute path of the result marker the script writes when the command ends. */
  readonly resultMarkerPath: string;
}

/** What a result marker says. */
export interface ResultMarker {
  /** Exit status of the command (128+n when it died from signal n). */
  readonly exitCode: number;
  /** `$SLURM_JOB_ID` of the run that wrote the marker; tells a stale marker from ours. */
  readonly jobId?: string;
  /** Node the command ran on. */
  readonly node?: string;
  /** UTC finish time, `YYYY-MM-DDTHH:MM:SSZ`. */
  readonly finishedAt?: string;
}

/** A generic GPU request: `gpu:<count>` or `gpu:<type>:<count>`. */
export const GRES_PATTERN = /^gpu(:[A-Za-z0-9_-]+)?:[1-9][0-9]*$/;

/** A shell variable name that may be exported. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// Values that need no quoting in an #SBATCH line. Everything else is double-quoted with
// `\`, `"` and `'` backslash-escaped: checked against sbatch 22.05 (`--test-only -v`),
// and older sbatch versions, which only know `"` and `\`, read the same encoding.
const SBATCH_BARE = /^[A-Za-z0-9_./:=@%+,-]+$/;

function invalid(message: string, details: Record<string, unknown>): CryoError {
  return new CryoError(ErrorType.NameInvalid, message, details);
}

function assertOneLine(value: string, what: string): void {
  if (/[\n\r\0]/.test(value)) {
    throw invalid(`${what} ${JSON.stringify(value)}: must not contain a newline, carriage return or NUL`, {
      what,
      value,
    });
  }
}

function assertAbsolutePath(value: string, what: string): void {
  assertOneLine(value, what);
  if (!value.startsWith('/')) {
    throw invalid(`${what} ${JSON.stringify(value)}: expected an absolute path starting with '/'`, { what, value });
  }
}

function assertPositiveInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw invalid(`${what} ${String(value)}: expected a positive whole number`, { what, value });
  }
}

function sbatchValue(value: string): string {
  return SBATCH_BARE.test(value) ? value : `"${value.replace(/[\\"']/g, '\\$&')}"`;
}

/** Minutes as Slurm's `D-HH:MM:SS`, e.g. 90 → `0-01:30:00`, 1500 → `1-01:00:00`. */
export function formatTimeLimit(minutes: number): string {
  assertPositiveInteger(minutes, 'time limit (minutes)');
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${days}-${pad(hours)}:${pad(minutes % 60)}:00`;
}

function directives(spec: SbatchSpec): string[] {
  assertSafeName(spec.jobName, 'job name');
  assertSafeName(spec.partition, 'partition');
  assertAbsolutePath(spec.workDir, 'work directory');
  assertAbsolutePath(spec.outputPath, 'output path');
  const lines: [string, string | undefined][] = [
    ['job-name', spec.jobName],
    ['partition', spec.partition],
  ];
  if (spec.gres !== undefined) {
    if (!GRES_PATTERN.test(spec.gres)) {
      throw invalid(`gres ${JSON.stringify(spec.gres)}: expected gpu:<count> or gpu:<type>:<count>, e.g. gpu:t4:2`, {
        what: 'gres',
        value: spec.gres,
      });
    }
    lines.push(['gres', spec.gres]);
  }
  if (spec.cpusPerTask !== undefined) {
    assertPositiveInteger(spec.cpusPerTask, 'cpus per task');
    lines.push(['cpus-per-task', String(spec.cpusPerTask)]);
  }
  if (spec.memMb !== undefined) {
    assertPositiveInteger(spec.memMb, 'memory (MiB)');
    lines.push(['mem', `${spec.memMb}M`]);
  }
  if (spec.timeLimitMinutes !== undefined) lines.push(['time', formatTimeLimit(spec.timeLimitMinutes)]);
  if (spec.exclude !== undefined && spec.exclude.length > 0) {
    for (const node of spec.exclude) assertSafeName(node, 'excluded node');
    lines.push(['exclude', [...new Set(spec.exclude)].join(',')]);
  }
  if (spec.afterOk !== undefined && spec.afterOk.length > 0) {
    const bad = spec.afterOk.find((id) => !/^[0-9]+$/.test(id));
    if (bad !== undefined)
      throw invalid(`dependency job id ${JSON.stringify(bad)}: expected a Slurm job id (digits)`, {
        what: 'dependency job id',
        value: bad,
      });
    lines.push(
      ['dependency', `afterok:${[...new Set(spec.afterOk)].join(':')}`],
      ['kill-on-invalid-dep', spec.keepOnFailedDependency ? 'no' : 'yes'],
    );
  }
  lines.push(['chdir', spec.workDir], ['output', spec.outputPath]);
  if (spec.comment !== undefined) {
    assertOneLine(spec.comment, 'comment');
    lines.push(['comment', spec.comment]);
  }
  lines.push([spec.requeue === true ? 'requeue' : 'no-requeue', undefined]);
  return lines.map(([key, value]) =>
    value === undefined ? `#SBATCH --${key}` : `#SBATCH --${key}=${sbatchValue(value)}`,
  );
}

function exportLines(environment: Readonly<Record<string, string>> = {}): string[] {
  return Object.entries(environment).map(([name, value]) => {
    if (!ENV_NAME.test(name)) {
      throw invalid(
        `environment variable name ${JSON.stringify(name)}: ` +
          "expected letters, digits and '_', not starting with a digit",
        {
          what: 'environment variable name',
          value: name,
        },
      );
    }
    return `export ${name}=${shellQuote(value)}`;
  });
}

function parentDir(path: string): string {
  const dir = path.slice(0, path.lastIndexOf('/'));
  return dir === '' ? '/' : dir;
}

/**
 * The text of a bash batch script for `spec`: `#SBATCH` directives, `set -u`, exported
 * environment, the command (in a subshell, stdin from /dev/null, so a builtin such as
 * `exit` cannot skip the marker), then the result marker written to `<marker>.tmp` and
 * renamed into place, and finally `exit` with the command's status. `--parsable` is
 * not a directive: pass it on the sbatch command line. Throws `NameInvalid` for any
 * field outside its grammar.
 */
export function buildSbatchScript(spec: SbatchSpec): string {
  const head = directives(spec);
  assertAbsolutePath(spec.resultMarkerPath, 'result marker path');
  if (spec.command.length === 0) throw invalid('command: empty argv; nothing to run', { what: 'command' });
  const marker = shellQuote(spec.resultMarkerPath);
  const tmp = shellQuote(`${spec.resultMarkerPath}.tmp`);
  return [
    '#!/bin/bash',
    ...head,
    '# Written by cryoet-temporal: runs one command, then records its exit status in a result',
    '# marker, so success never rests on the scheduler record alone.',
    'set -u',
    // A requeued run reuses the job id and the marker path: drop what a previous run left.
    `rm -f -- ${marker} ${tmp}`,
    `mkdir -p -- ${shellQuote(parentDir(spec.resultMarkerPath))}`,
    ...exportLines(spec.environment),
    '(',
    `  ${shellJoin(spec.command)}`,
    ') </dev/null',
    'cryoet_exit_code=$?',
    '{',
    `  printf 'exit_code=%s\\n' "$cryoet_exit_code"`,
    `  printf 'job_id=%s\\n' "\${SLURM_JOB_ID:-}"`,
    `  printf 'node=%s\\n' "\${SLURMD_NODENAME:-$(uname -n)}"`,
    `  printf 'finished_at=%s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"`,
    `} >${tmp} && mv -f -- ${tmp} ${marker}`,
    'exit "$cryoet_exit_code"',
    '',
  ].join('\n');
}

function unreadable(text: string, why: string): CryoError {
  const shown = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  return new CryoError(ErrorType.ResultMarkerMissing, `result marker unreadable (${why}): ${JSON.stringify(shown)}`, {
    text: shown,
  });
}

/**
 * Read a result marker written by {@link buildSbatchScript}: `key=value` lines with a
 * required `exit_code`. Unknown keys are ignored (a newer script may add some); blank
 * and empty values count as absent. Throws `ResultMarkerMissing` with the text quoted
 * for anything else: no exit code, a non-numeric one, a line without `=`, a repeated key.
 */
export function parseResultMarker(text: string): ResultMarker {
  const fields = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw unreadable(text, `line ${JSON.stringify(line)} is not key=value`);
    const key = line.slice(0, eq);
    if (fields.has(key)) throw unreadable(text, `key ${key} repeated`);
    fields.set(key, line.slice(eq + 1));
  }
  const code = fields.get('exit_code');
  if (code === undefined) throw unreadable(text, 'no exit_code line');
  if (!/^[0-9]{1,3}$/.test(code)) throw unreadable(text, `exit_code ${JSON.stringify(code)} is not a number 0-255`);
  const exitCode = Number(code);
  if (exitCode > 255) throw unreadable(text, `exit_code ${code} is not a number 0-255`);
  const optional = (key: string): string | undefined => {
    const value = fields.get(key)?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const jobId = optional('job_id');
  const node = optional('node');
  const finishedAt = optional('finished_at');
  return {
    exitCode,
    ...(jobId === undefined ? {} : { jobId }),
    ...(node === undefined ? {} : { node }),
    ...(finishedAt === undefined ? {} : { finishedAt }),
  };
}
