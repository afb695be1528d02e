/**
 * Property-based tests (fast-check) for the command builders: what a generated name or
 * argument turns into cannot escape its quoting, add a line or a directive, and names and keys
 * round-trip. Deterministic: every property runs with a fixed seed and at most 200 runs; a
 * failure prints the seed and the shrunk counterexample (rerun with { seed, path }).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CryoError, ErrorType } from '../../src/errors.js';
import { SHELL_SAFE_WORD, shellJoin, shellQuote } from '../../src/shell/quote.js';
import { JOB_NAME_PREFIX, jobKey, jobNameFor, keyFromJobName } from '../../src/slurm/job-key.js';
import { MAX_NAME_LENGTH, SAFE_NAME } from '../../src/slurm/names.js';
import { buildOrphanScancelArgs, ownerOf, parseOurJobs } from '../../src/slurm/orphans.js';
import { buildSacctArgs } from '../../src/slurm/sacct.js';
import { buildSbatchScript, type SbatchSpec } from '../../src/slurm/sbatch-script.js';
import { buildSqueueArgs, JOB_ID_PATTERN } from '../../src/slurm/squeue-format.js';
import { buildSubmitCommand } from '../../src/slurm/submit-command.js';
import { check, parsesOr, throwsType, nasty } from '../helpers/arbitraries.js';

/** Bash's builtins: a first word naming one runs it, so the first-word check leaves them out. */
const BASH_BUILTINS = new Set(
  spawnSync('bash', ['--norc', '--noprofile', '-c', 'compgen -b'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean),
);

/**
 * Runs the given command lines in ONE bash and returns the argv each line produced: `f` (and
 * `command_not_found_handle`, for a line whose first word is not a command) prints `$#` and
 * then each argument, NUL-terminated. PATH is empty, so every first word is "not found".
 */
function bashArgvs(lines: readonly string[]): string[][] {
  const script = [
    'f() { printf \'%s\\0\' "$#" "$@"; }',
    'command_not_found_handle() { printf \'%s\\0\' "$#" "$@"; }',
    'PATH=/nonexistent',
    ...lines,
  ].join('\n');
  const run = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
    encoding: 'buffer',
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  assert.equal(run.status, 0, `bash exited ${run.status}: ${run.stderr?.toString()}`);
  const fields = run.stdout.toString('utf8').split('\0');
  fields.pop(); // after the last NUL
  const out: string[][] = [];
  while (fields.length > 0) {
    const n = Number(fields.shift());
    out.push(fields.splice(0, n));
  }
  return out;
}

const argWord = fc.oneof(
  nasty(10),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('', 'if', 'time', '!', 'A=b', '$(id)', '`id`', "'", '"', '\\', '\n', '--', '-n', '~', '#x', '*'),
);

describe('command builders', () => {
  it('shellJoin: bash reads every generated argv back exactly (as arguments, 100 argvs, 5 bash runs)', () => {
    check(
      fc.property(
        fc.array(fc.array(argWord, { minLength: 0, maxLength: 6 }), { minLength: 20, maxLength: 20 }),
        (argvs) => {
          assert.deepEqual(bashArgvs(argvs.map((argv) => `f ${shellJoin(argv)}`)), argvs);
        },
      ),
      5,
    );
  });

  it(
    'shellJoin: an arbitrary first word stays the command name (assignments, reserved words), ' +
      '100 argvs, 5 bash runs',
    () => {
      // Not checkable: builtins (they run), words with '/' (a path is executed, not looked up) and
      // words starting with '%' (bash reads them as job specs even quoted: `'%1'` is `fg %1`).
      const firstWord = argWord.filter(
        (w) =>
          !w.includes('/') &&
          !w.startsWith('%') &&
          !BASH_BUILTINS.has(w) &&
          w !== 'f' &&
          w !== 'command_not_found_handle',
      );
      check(
        fc.property(
          fc.array(fc.tuple(firstWord, fc.array(argWord, { maxLength: 3 })), { minLength: 20, maxLength: 20 }),
          (argvs) => {
            const lines = argvs.map(([cmd, rest]) => shellJoin([cmd, ...rest]));
            assert.deepEqual(
              bashArgvs(lines),
              argvs.map(([cmd, rest]) => [cmd, ...rest]),
            );
          },
        ),
        5,
      );
    },
  );

  it('shellQuote: a safe word stays bare, anything else is quoted; a NUL is NameInvalid', () => {
    check(
      fc.property(fc.oneof(argWord, fc.string({ unit: 'binary', maxLength: 8 })), (arg) => {
        if (arg.includes('\0')) {
          throwsType(ErrorType.NameInvalid, () => shellQuote(arg));
          throwsType(ErrorType.NameInvalid, () => shellJoin(['x', arg]));
          throwsType(ErrorType.NameInvalid, () => shellJoin([arg]));
          return;
        }
        const quoted = shellQuote(arg);
        if (quoted === arg) assert.match(arg, SHELL_SAFE_WORD);
        else assert.ok(quoted.startsWith("'") && quoted.endsWith("'"), quoted);
      }),
      200,
    );
  });

  const BASE: SbatchSpec = {
    jobName: 'cryoet.w.s-1',
    partition: 'gpu',
    gres: 'gpu:1',
    timeLimitMinutes: 60,
    workDir: '/work/j',
    outputPath: '/work/j/out-%j.txt',
    comment: 'step s',
    exclude: ['n1'],
    environment: { SLURM_CONF: '/etc/slurm.conf' },
    command: ['echo', 'hi'],
    resultMarkerPath: '/work/j/result',
  };
  /** `#SBATCH` lines sbatch reads: those before the first line that is neither a comment nor blank. */
  const directives = (script: string): string[] => {
    const lines = script.split('\n');
    const end = lines.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
    return lines.slice(0, end).filter((l) => l.startsWith('#SBATCH'));
  };
  const baseDirectives = directives(buildSbatchScript(BASE));
  const nameArb = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9._-]{1,140}$/),
    nasty(16),
    fc.string({ unit: 'binary', maxLength: 10 }),
  );

  it('sbatch script: a job name that passes SAFE_NAME changes its own directive only; any other is NameInvalid', () => {
    check(
      fc.property(nameArb, (jobName) => {
        if (!SAFE_NAME.test(jobName) || jobName.length > MAX_NAME_LENGTH) {
          throwsType(ErrorType.NameInvalid, () => buildSbatchScript({ ...BASE, jobName }));
          return;
        }
        const script = buildSbatchScript({ ...BASE, jobName });
        const base = buildSbatchScript(BASE);
        assert.deepEqual(
          directives(script),
          baseDirectives.map((d) => (d.startsWith('#SBATCH --job-name=') ? `#SBATCH --job-name=${jobName}` : d)),
        );
        // Outside its directive the script is the same, line for line.
        const drop = (s: string): string[] => s.split('\n').filter((l) => !l.startsWith('#SBATCH --job-name='));
        assert.deepEqual(drop(script), drop(base));
      }),
      200,
    );
  });

  it('sbatch script: partition and excluded nodes follow the same rule', () => {
    check(
      fc.property(nameArb, nameArb, (partition, node) => {
        const safe = (s: string): boolean => SAFE_NAME.test(s) && s.length <= MAX_NAME_LENGTH;
        if (!safe(partition) || !safe(node)) {
          throwsType(ErrorType.NameInvalid, () => buildSbatchScript({ ...BASE, partition, exclude: [node] }));
          return;
        }
        const d = directives(buildSbatchScript({ ...BASE, partition, exclude: [node] }));
        assert.deepEqual(
          d,
          baseDirectives.map((l) =>
            l.startsWith('#SBATCH --partition=')
              ? `#SBATCH --partition=${partition}`
              : l.startsWith('#SBATCH --exclude=')
                ? `#SBATCH --exclude=${node}`
                : l,
          ),
        );
      }),
      200,
    );
  });

  it('sbatch script: free text (comment, paths, environment, command) never adds a line or a directive', () => {
    const text = fc.oneof(nasty(16), fc.string({ unit: 'binary', maxLength: 10 }));
    const path = fc.oneof(
      text.map((t) => `/${t}`),
      text,
    );
    const spec = fc.record({
      comment: text,
      workDir: path,
      outputPath: path,
      resultMarkerPath: path,
      env: text,
      command: fc.array(argWord, { minLength: 1, maxLength: 4 }),
    });
    /** sbatch's reading of one directive value: bare, or double-quoted with \\ escapes. */
    const unquote = (value: string): string =>
      value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    check(
      fc.property(spec, (s) => {
        let script: string;
        try {
          script = buildSbatchScript({
            ...BASE,
            comment: s.comment,
            workDir: s.workDir,
            outputPath: s.outputPath,
            resultMarkerPath: s.resultMarkerPath,
            environment: { SLURM_CONF: s.env },
            command: s.command,
          });
        } catch (err) {
          assert.ok(err instanceof CryoError && err.type === ErrorType.NameInvalid, String(err));
          const bad =
            [s.comment, s.workDir, s.outputPath, s.resultMarkerPath].some((v) => /[\n\r\0]/.test(v)) ||
            [s.workDir, s.outputPath, s.resultMarkerPath].some((p) => !p.startsWith('/'));
          const nul = [s.env, s.resultMarkerPath, ...s.command].some((v) => v.includes('\0'));
          assert.ok(bad || nul, `refused a valid spec: ${String(err)}`);
          return;
        }
        const d = directives(script);
        assert.deepEqual(
          d.map((l) => l.replace(/=.*$/, '')),
          baseDirectives.map((l) => l.replace(/=.*$/, '')),
          'same directives, in the same order',
        );
        const values = new Map(d.map((l) => [l.replace(/=.*$/, ''), unquote(l.slice(l.indexOf('=') + 1))]));
        assert.equal(values.get('#SBATCH --comment'), s.comment);
        assert.equal(values.get('#SBATCH --chdir'), s.workDir);
        assert.equal(values.get('#SBATCH --output'), s.outputPath);
        // What follows the directives is the fixed script with the quoted values in place.
        assert.ok(
          script.includes(`\nexport SLURM_CONF=${shellQuote(s.env)}\n(\n  ${shellJoin(s.command)}\n) </dev/null\n`),
        );
      }),
      200,
    );
  });

  const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);

  it(
    'job keys: key → job name → key round-trips; ' + 'the owner is the workflow id (orphan parsing inverts jobNameFor)',
    () => {
      check(
        fc.property(
          fc.array(segment, { minLength: 1, maxLength: 8 }),
          segment,
          fc.integer({ min: 1, max: 99_999 }),
          (parts, step, jobId) => {
            const workflowId = parts.join('/');
            let key: string;
            try {
              key = jobKey(workflowId, step);
            } catch (err) {
              assert.ok(err instanceof CryoError && err.type === ErrorType.NameInvalid);
              assert.ok(
                JOB_NAME_PREFIX.length + workflowId.length + 1 + step.length > MAX_NAME_LENGTH,
                'only too long a name is refused',
              );
              return;
            }
            const name = jobNameFor(key);
            assert.match(name, SAFE_NAME);
            assert.equal(keyFromJobName(name), key);
            assert.deepEqual(ownerOf(name), { key, workflowId });
            const [job] = parseOurJobs(`${jobId}|RUNNING|2026-11-25T10:08:18|n1|${name}\n`);
            assert.deepEqual(
              { key: job?.key, workflowId: job?.workflowId, jobId: job?.jobId },
              { key, workflowId, jobId: String(jobId) },
            );
          },
        ),
        200,
      );
    },
  );

  it('job keys: any name reads as a key only when jobNameFor gives that very name back', () => {
    const name = fc.oneof(
      fc.stringMatching(/^cryoet\.[A-Za-z0-9_.-]{0,20}$/),
      nasty(16),
      fc.stringMatching(/^cryoet\.[A-Za-z0-9_-]{1,30}(\.[A-Za-z0-9_-]{1,30}){3,5}$/),
    );
    check(
      fc.property(name, (n) => {
        const key = keyFromJobName(n);
        if (key === undefined) return;
        try {
          assert.equal(jobNameFor(key), n);
        } catch (err) {
          assert.ok(
            err instanceof CryoError && err.type === ErrorType.NameInvalid && n.length > MAX_NAME_LENGTH,
            String(err),
          );
        }
      }),
      200,
    );
  });

  it('job keys: a workflow id or step outside the grammar is NameInvalid', () => {
    check(
      fc.property(fc.oneof(nasty(12), segment), fc.oneof(nasty(8), segment), (workflowId, step) => {
        const key = parsesOr(ErrorType.NameInvalid, () => jobKey(workflowId, step));
        if (key !== undefined) for (const s of key.split('/')) assert.match(s, /^[A-Za-z0-9_-]+$/);
      }),
      200,
    );
  });

  it(
    'status and cancel argv: ids are digits (or digits_digits) or NameInvalid; ' +
      'the submit command quotes every path',
    () => {
      const id = fc.oneof(
        { weight: 6, arbitrary: fc.stringMatching(/^[0-9]{1,6}(_[0-9]{1,3})?$/) },
        { weight: 1, arbitrary: nasty(6) },
      );
      check(
        fc.property(
          fc.array(id, { maxLength: 4 }),
          nameArb,
          fc.oneof(nasty(12), fc.constant('/w/j')),
          (ids, user, dir) => {
            const squeue = parsesOr(ErrorType.NameInvalid, () => buildSqueueArgs(ids));
            if (squeue) for (const i of squeue[5]!.split(',')) assert.match(i, JOB_ID_PATTERN);
            const sacct = parsesOr(ErrorType.NameInvalid, () => buildSacctArgs(ids));
            if (sacct) for (const i of sacct[5]!.split(',')) assert.match(i, JOB_ID_PATTERN);
            const scancel = parsesOr(ErrorType.NameInvalid, () => buildOrphanScancelArgs(user, ids));
            if (scancel) {
              assert.match(user, SAFE_NAME);
              for (const i of scancel.slice(3)) assert.match(i, /^[0-9]+$/);
            }
            const submit = parsesOr(ErrorType.NameInvalid, () =>
              buildSubmitCommand({ jobName: user, jobDir: dir, scriptPath: `${dir}/job.sh` }),
            );
            if (submit) {
              assert.match(user, SAFE_NAME);
              assert.ok(submit.includes(`mkdir -p ${shellQuote(dir)}; `));
            }
          },
        ),
        200,
      );
    },
  );
});
