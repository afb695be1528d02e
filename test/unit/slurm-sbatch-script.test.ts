import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import {
  buildSbatchScript,
  formatTimeLimit,
  parseResultMarker,
  type ResultMarker,
  type SbatchSpec,
} from '../../src/slurm/sbatch-script.js';

const base: SbatchSpec = {
  jobName: 'cryoet.cryoet.demo.c1.TS_01.align',
  partition: 'gpu',
  workDir: '/scratch/cryoet/demo',
  outputPath: '/scratch/cryoet/demo/TS_01.align.%j.out',
  command: ['aretomo2', '-InMrc', 'TS_01.mrc'],
  resultMarkerPath: '/scratch/cryoet/demo/.cryoet/TS_01.align.result',
};

function throwsNameInvalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CryoError, `expected CryoError, got ${String(err)}`);
    assert.equal(err.type, ErrorType.NameInvalid);
    assert.match(err.message, message);
    return true;
  });
}

describe('buildSbatchScript', () => {
  it('writes the full script for a spec with every field (golden)', () => {
    const script = buildSbatchScript({
      ...base,
      gres: 'gpu:t4:2',
      cpusPerTask: 4,
      memMb: 16000,
      timeLimitMinutes: 90,
      workDir: '/scratch/my data',
      outputPath: "/scratch/my data/it's #1 %j.out",
      comment: 'key=cryoet/demo "x"',
      environment: { OMP_NUM_THREADS: '4', LABEL: "a 'b' $c" },
    });
    assert.equal(
      script,
      [
        '#!/bin/bash',
        '#SBATCH --job-name=cryoet.cryoet.demo.c1.TS_01.align',
        '#SBATCH --partition=gpu',
        '#SBATCH --gres=gpu:t4:2',
        '#SBATCH --cpus-per-task=4',
        '#SBATCH --mem=16000M',
        '#SBATCH --time=0-01:30:00',
        '#SBATCH --chdir="/scratch/my data"',
        `#SBATCH --output="/scratch/my data/it\\'s #1 %j.out"`,
        '#SBATCH --comment="key=cryoet/demo \\"x\\""',
        '#SBATCH --no-requeue',
        '# Written by cryoet-temporal: runs one command, then records its exit status in a result',
        '# marker, so success never rests on the scheduler record alone.',
        'set -u',
        'rm -f -- /scratch/cryoet/demo/.cryoet/TS_01.align.result /scratch/cryoet/demo/.cryoet/TS_01.align.result.tmp',
        'mkdir -p -- /scratch/cryoet/demo/.cryoet',
        'export OMP_NUM_THREADS=4',
        `export LABEL='a '\\''b'\\'' $c'`,
        '(',
        '  aretomo2 -InMrc TS_01.mrc',
        ') </dev/null',
        'cryoet_exit_code=$?',
        '{',
        `  printf 'exit_code=%s\\n' "$cryoet_exit_code"`,
        `  printf 'job_id=%s\\n' "\${SLURM_JOB_ID:-}"`,
        `  printf 'node=%s\\n' "\${SLURMD_NODENAME:-$(uname -n)}"`,
        `  printf 'finished_at=%s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"`,
        '} >/scratch/cryoet/demo/.cryoet/TS_01.align.result.tmp && ' +
          'mv -f -- /scratch/cryoet/demo/.cryoet/TS_01.align.result.tmp ' +
          '/scratch/cryoet/demo/.cryoet/TS_01.align.result',
        'exit "$cryoet_exit_code"',
        '',
      ].join('\n'),
    );
  });

  const directiveRows: [string, Partial<SbatchSpec>, RegExp, boolean][] = [
    ['minimal spec: no gres/cpus/mem/time/comment', {}, /^#SBATCH --(gres|cpus-per-task|mem|time|comment)=/m, false],
    ['requeue defaults to --no-requeue', {}, /^#SBATCH --no-requeue$/m, true],
    ['requeue: true writes --requeue', { requeue: true }, /^#SBATCH --requeue$/m, true],
    ['requeue: true drops --no-requeue', { requeue: true }, /--no-requeue/, false],
    ['--parsable is never a directive', {}, /--parsable/, false],
    ['untyped gres', { gres: 'gpu:1' }, /^#SBATCH --gres=gpu:1$/m, true],
    ['one day and an hour', { timeLimitMinutes: 1500 }, /^#SBATCH --time=1-01:00:00$/m, true],
    ['no environment: no export lines', {}, /^export /m, false],
    ['exclude: one --exclude with each node once', { exclude: ['n2', 'n1', 'n2'] }, /^#SBATCH --exclude=n2,n1$/m, true],
    ['exclude: empty list writes nothing', { exclude: [] }, /--exclude/, false],
    [
      'afterOk: one afterok dependency on every job, each once',
      { afterOk: ['12', '7', '12'] },
      /^#SBATCH --dependency=afterok:12:7\n#SBATCH --kill-on-invalid-dep=yes$/m,
      true,
    ],
    ['afterOk: empty list writes no dependency', { afterOk: [] }, /--dependency|--kill-on-invalid-dep/, false],
    [
      'keepOnFailedDependency: the job stays pending to be re-pointed',
      { afterOk: ['12'], keepOnFailedDependency: true },
      /^#SBATCH --dependency=afterok:12\n#SBATCH --kill-on-invalid-dep=no$/m,
      true,
    ],
  ];
  for (const [name, extra, pattern, present] of directiveRows) {
    it(name, () => {
      const script = buildSbatchScript({ ...base, ...extra });
      assert.equal(pattern.test(script), present, script);
    });
  }

  const invalidRows: [string, Partial<SbatchSpec>, RegExp][] = [
    ['job name with |', { jobName: 'a|b' }, /^job name "a\|b": expected letters/],
    ['partition with space', { partition: 'gpu main' }, /^partition "gpu main"/],
    ['partition list', { partition: 'a,b' }, /^partition "a,b"/],
    ['gres count 0', { gres: 'gpu:0' }, /^gres "gpu:0": expected gpu:<count>/],
    ['gres typed count 0', { gres: 'gpu:t4:0' }, /^gres "gpu:t4:0"/],
    ['gres without count', { gres: 'gpu' }, /^gres "gpu"/],
    ['gres not gpu', { gres: 'mps:100' }, /^gres "mps:100"/],
    ['gres list', { gres: 'gpu:t4:2,gpu:a10g:1' }, /^gres /],
    ['gres with shell', { gres: 'gpu:t4:2;id' }, /^gres /],
    ['relative workDir', { workDir: 'scratch' }, /^work directory "scratch": expected an absolute path/],
    ['workDir with newline', { workDir: '/a\n#SBATCH --requeue' }, /^work directory .*newline/],
    ['outputPath with CR', { outputPath: '/a\rb' }, /^output path .*carriage return/],
    ['outputPath relative', { outputPath: 'out.log' }, /^output path "out.log"/],
    ['marker with NUL', { resultMarkerPath: '/a\0b' }, /^result marker path .*NUL/],
    ['marker relative', { resultMarkerPath: 'result' }, /^result marker path "result"/],
    ['comment with newline', { comment: 'a\nset -x' }, /^comment /],
    ['excluded node with shell', { exclude: ['n1;id'] }, /^excluded node "n1;id"/],
    ['excluded node list in one name', { exclude: ['n1,n2'] }, /^excluded node "n1,n2"/],
    ['dependency that is not a job id', { afterOk: ['12;id'] }, /^dependency job id "12;id": expected a Slurm job id/],
    ['dependency given as a list', { afterOk: ['12:13'] }, /^dependency job id "12:13"/],
    ['cpus 0', { cpusPerTask: 0 }, /^cpus per task 0: expected a positive whole number/],
    ['cpus 1.5', { cpusPerTask: 1.5 }, /^cpus per task 1.5/],
    ['cpus NaN', { cpusPerTask: Number.NaN }, /^cpus per task NaN/],
    ['mem negative', { memMb: -1 }, /^memory \(MiB\) -1/],
    ['time 0', { timeLimitMinutes: 0 }, /^time limit \(minutes\) 0/],
    ['time Infinity', { timeLimitMinutes: Number.POSITIVE_INFINITY }, /^time limit/],
    ['env name with dash', { environment: { 'A-B': '1' } }, /^environment variable name "A-B"/],
    ['env name starting with digit', { environment: { '1A': '1' } }, /^environment variable name "1A"/],
    ['env name empty', { environment: { '': '1' } }, /^environment variable name ""/],
    ['env value with NUL', { environment: { A: 'a\0b' } }, /NUL/],
    ['empty command', { command: [] }, /^command: empty argv/],
    ['command arg with NUL', { command: ['echo', 'a\0b'] }, /NUL/],
  ];
  for (const [name, extra, message] of invalidRows) {
    it(`rejects ${name}`, () => {
      throwsNameInvalid(() => buildSbatchScript({ ...base, ...extra }), message);
    });
  }
});

describe('formatTimeLimit', () => {
  const rows: [number, string][] = [
    [1, '0-00:01:00'],
    [59, '0-00:59:00'],
    [60, '0-01:00:00'],
    [90, '0-01:30:00'],
    [1439, '0-23:59:00'],
    [1440, '1-00:00:00'],
    [1500, '1-01:00:00'],
    [10080, '7-00:00:00'],
    [525600, '365-00:00:00'],
  ];
  for (const [minutes, expected] of rows) {
    it(`${minutes} min → ${expected}`, () => assert.equal(formatTimeLimit(minutes), expected));
  }
});

describe('the generated script, run by bash without Slurm', () => {
  // #SBATCH lines are comments to bash, so the script runs as-is.
  const dir = mkdtempSync(join(tmpdir(), 'cryoet-sbatch-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;

  function run(
    command: readonly string[],
    options: { environment?: Record<string, string>; env?: Record<string, string>; marker?: string } = {},
  ): { status: number | null; stdout: string; markerPath: string } {
    n += 1;
    const markerPath = options.marker ?? join(dir, `case-${n}`, 'nested dir', 'result');
    const scriptPath = join(dir, `script-${n}.sh`);
    const spec: SbatchSpec = {
      ...base,
      workDir: dir,
      outputPath: join(dir, 'out-%j.log'),
      command,
      resultMarkerPath: markerPath,
      ...(options.environment ? { environment: options.environment } : {}),
    };
    writeFileSync(scriptPath, buildSbatchScript(spec));
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...options.env };
    const result = spawnSync('bash', [scriptPath], { cwd: dir, env, encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.error, undefined);
    return { status: result.status, stdout: result.stdout, markerPath };
  }

  function marker(path: string): ResultMarker {
    assert.equal(existsSync(`${path}.tmp`), false, 'the .tmp file is renamed away');
    return parseResultMarker(readFileSync(path, 'utf8'));
  }

  it('exits with the command status and records it (sh -c "exit 3")', () => {
    const r = run(['sh', '-c', 'exit 3']);
    assert.equal(r.status, 3);
    const m = marker(r.markerPath);
    assert.equal(m.exitCode, 3);
    assert.ok(m.node !== undefined && m.node.length > 0);
    assert.match(m.finishedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(m.jobId, undefined, 'no SLURM_JOB_ID outside Slurm');
  });

  it('records exit 0 and Slurm job id and node from the environment', () => {
    const r = run(['true'], { env: { SLURM_JOB_ID: '4242', SLURMD_NODENAME: 'n7' } });
    assert.equal(r.status, 0);
    assert.deepEqual(
      { ...marker(r.markerPath), finishedAt: 'x' },
      { exitCode: 0, jobId: '4242', node: 'n7', finishedAt: 'x' },
    );
  });

  it('passes nasty arguments through unchanged', () => {
    const args = ["it's", '$(touch pwned)', '`id`', 'a b', 'x\ny', '', '🧊'];
    const r = run(['printf', '[%s]', ...args]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, args.map((a) => `[${a}]`).join(''));
    assert.equal(existsSync(join(dir, 'pwned')), false);
  });

  it('exports the environment with nasty values', () => {
    const value = `a 'b' "c" $d \`e\` \n f`;
    const r = run(['sh', '-c', 'printf %s "$LABEL"'], { environment: { LABEL: value } });
    assert.equal(r.stdout, value);
    assert.equal(marker(r.markerPath).exitCode, 0);
  });

  it('a builtin "exit" as the command still leaves a marker', () => {
    const r = run(['exit', '4']);
    assert.equal(r.status, 4);
    assert.equal(marker(r.markerPath).exitCode, 4);
  });

  it('a command that is not found records 127', () => {
    const r = run(['cryoet-no-such-command-xyz']);
    assert.equal(r.status, 127);
    assert.equal(marker(r.markerPath).exitCode, 127);
  });

  it('a command killed by a signal records 128+n', () => {
    const r = run(['sh', '-c', 'kill -TERM $$']);
    assert.equal(r.status, 143);
    assert.equal(marker(r.markerPath).exitCode, 143);
  });

  it('the command gets /dev/null on stdin', () => {
    const r = run(['sh', '-c', 'cat; echo done']);
    assert.equal(r.stdout, 'done\n');
  });

  it('removes a stale marker from an earlier run before the command starts', () => {
    const path = join(dir, 'stale', 'result');
    run(['true'], { marker: path });
    writeFileSync(path, 'garbage from a previous run\n');
    const r = run(['sh', '-c', `test -e '${path}' && exit 9; exit 5`], { marker: path });
    assert.equal(r.status, 5, 'the marker was gone while the command ran');
    assert.equal(marker(path).exitCode, 5);
  });

  it('a marker path with spaces and quotes works', () => {
    const r = run(['sh', '-c', 'exit 2'], { marker: join(dir, "it's a dir", 'res ult') });
    assert.equal(r.status, 2);
    assert.equal(marker(r.markerPath).exitCode, 2);
  });
});

describe('parseResultMarker', () => {
  const good: [string, string, ResultMarker][] = [
    [
      'full marker',
      'exit_code=0\njob_id=123\nnode=n1\nfinished_at=2026-11-25T10:08:18Z\n',
      { exitCode: 0, jobId: '123', node: 'n1', finishedAt: '2026-11-25T10:08:18Z' },
    ],
    ['exit code only', 'exit_code=3\n', { exitCode: 3 }],
    ['no trailing newline', 'exit_code=1', { exitCode: 1 }],
    ['CRLF line endings', 'exit_code=0\r\nnode=n1\r\n', { exitCode: 0, node: 'n1' }],
    ['empty job_id (outside Slurm)', 'exit_code=0\njob_id=\nnode=n1\n', { exitCode: 0, node: 'n1' }],
    ['unknown keys ignored', 'exit_code=137\nfuture_key=x\n', { exitCode: 137 }],
    ['blank lines ignored', '\n\nexit_code=255\n\n', { exitCode: 255 }],
    ['value with "="', 'exit_code=0\nnode=a=b\n', { exitCode: 0, node: 'a=b' }],
  ];
  for (const [name, text, expected] of good) {
    it(`reads ${name}`, () => assert.deepEqual(parseResultMarker(text), expected));
  }

  const bad: [string, string, RegExp][] = [
    ['empty file', '', /no exit_code line/],
    ['no exit code', 'node=n1\n', /no exit_code line/],
    ['non-numeric exit code', 'exit_code=abc\n', /exit_code "abc" is not a number/],
    ['negative exit code', 'exit_code=-1\n', /exit_code "-1"/],
    ['exit code over 255', 'exit_code=256\n', /exit_code 256/],
    ['empty exit code', 'exit_code=\n', /exit_code ""/],
    ['a line without "="', 'exit_code=0\ngarbage\n', /line "garbage" is not key=value/],
    ['a line starting with "="', '=0\n', /line "=0"/],
    ['JSON instead', '{"exitCode":0}\n', /is not key=value/],
    ['repeated key', 'exit_code=0\nexit_code=1\n', /key exit_code repeated/],
  ];
  for (const [name, text, message] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseResultMarker(text),
        (err: unknown) =>
          err instanceof CryoError &&
          err.type === ErrorType.ResultMarkerMissing &&
          message.test(err.message) &&
          err.message.includes(JSON.stringify(text)),
      );
    });
  }
});
