/**
 * The doctor's pure half: sinfo's node list and gres, `sbatch --test-only` answers (as Slurm
 * 22.05 prints them on the dev cluster), the rung verdicts, the probe script (run here by
 * bash for real) and its parser, what a profile needs, and the report lines.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  check,
  computeProbeArgs,
  doctorExitCode,
  formatChecks,
  nodesOffering,
  parseNodeGres,
  parseProbe,
  parseSinfoNodes,
  parseTestOnly,
  probeScript,
  rungCheck,
  testOnlyArgs,
} from '../../src/doctor/checks.js';
import { foldersNeeded, programsNeeded, relionPrograms, rungUses } from '../../src/doctor/needs.js';
import { campaignFiles } from '../../src/doctor/files.js';
import { parseCampaign } from '../../src/campaign/load.js';
import { devConfig, repoRoot } from '../helpers/env.js';

const SINFO =
  'c1|gpu|gpu:a10g:4|down~\nn1|gpu*|gpu:t4:4(S:0-1)|idle\nn1|urgent|gpu:t4:4|idle\nn2|gpu|gpu:t4:4,shard:8|mix\n\n';

describe('doctor: the scheduler view', () => {
  test('sinfo rows: partition without the default star, gpu gres by type, other gres left out', () => {
    const nodes = parseSinfoNodes(SINFO);
    assert.equal(nodes.length, 4);
    assert.deepEqual(nodes[1], { node: 'n1', partition: 'gpu', gpus: [{ type: 't4', count: 4 }], state: 'idle' });
    assert.deepEqual(nodes[3]!.gpus, [{ type: 't4', count: 4 }]);
    assert.deepEqual(parseNodeGres('gpu:2,gpu:a100:8(S:0-1),(null)'), [{ count: 2 }, { type: 'a100', count: 8 }]);
  });

  test('a rung is offered by nodes with its type (any type when untyped) and at least its count', () => {
    const nodes = parseSinfoNodes(SINFO);
    assert.deepEqual(
      nodesOffering(nodes, { partition: 'gpu', gres: 'gpu:a10g:4' }).map((n) => n.node),
      ['c1'],
    );
    assert.deepEqual(
      nodesOffering(nodes, { partition: 'gpu', gres: 'gpu:4' }).map((n) => n.node),
      ['c1', 'n1', 'n2'],
    );
    assert.deepEqual(nodesOffering(nodes, { partition: 'gpu', gres: 'gpu:t4:8' }), []);
    assert.deepEqual(nodesOffering(nodes, { partition: 'urgent', gres: 'gpu:a10g:1' }), []);
  });

  test("sbatch --test-only: where it could start, or Slurm's refusal", () => {
    assert.deepEqual(testOnlyArgs({ partition: 'gpu', gres: 'gpu:4' }).slice(0, 4), [
      'sbatch',
      '--test-only',
      '--partition=gpu',
      '--gres=gpu:4',
    ]);
    const ok = parseTestOnly(
      0,
      'sbatch: Job 3 to start at 2026-12-03T05:32:48 using 1 processors on nodes n1 in partition gpu\n',
    );
    assert.deepEqual(ok, { ok: true, message: 'could start at 2026-12-03T05:32:48 on n1' });
    const no = parseTestOnly(1, 'allocation failure: Requested node configuration is not available\n');
    assert.deepEqual(no, { ok: false, message: 'allocation failure: Requested node configuration is not available' });
    const bad = parseTestOnly(
      1,
      'sbatch: error: invalid partition specified: nope\nallocation failure: Invalid partition name specified\n',
    );
    assert.equal(bad.ok, false);
    assert.match(bad.message, /invalid partition specified: nope/);
  });

  test('rung verdicts: missing partition and gres not offered fail; offered but unplaceable now warns', () => {
    const nodes = parseSinfoNodes(SINFO);
    const base = { scope: 'cluster dev', label: 'rung', nodes, hangAfterMs: 20_000 };
    const yes = { ok: true, message: 'could start on n1' };
    const no = { ok: false, message: 'allocation failure: Requested node configuration is not available' };
    const missing = rungCheck({ ...base, rung: { partition: 'nope', gres: 'gpu:1' }, testOnly: no });
    assert.equal(missing.status, 'fail');
    assert.match(missing.detail, /partition nope does not exist \(sinfo lists gpu, urgent\)/);
    const v100 = rungCheck({ ...base, rung: { partition: 'gpu', gres: 'gpu:v100:1' }, testOnly: no });
    assert.equal(v100.status, 'fail');
    assert.match(v100.detail, /no node of partition gpu offers gpu:v100:1 \(gpu:a10g:4 on c1; gpu:t4:4 on n1,n2\)/);
    const down = rungCheck({ ...base, rung: { partition: 'gpu', gres: 'gpu:a10g:4' }, testOnly: no });
    assert.equal(down.status, 'warn');
    assert.match(down.detail, /offered by c1 \(down~\), but Slurm would not place a job now/);
    assert.match(down.fix!, /moves to the next rung after hangAfter \(20s\)/);
    assert.equal(rungCheck({ ...base, rung: { partition: 'gpu', gres: 'gpu:4' }, testOnly: yes }).status, 'pass');
  });
});

describe('doctor: the probe script', () => {
  test('run by bash: programs found or not, folders writable, created, read-only or absent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'doctor-probe-'));
    const ro = join(dir, 'ro');
    spawnSync('mkdir', [ro]);
    chmodSync(ro, 0o555);
    writeFileSync(join(dir, 'file'), 'x');
    const script = probeScript({
      programs: ['bash', 'no-such-program-cryoet', '/bin/sh'],
      writable: [join(dir, 'new', 'deep'), join(dir, "it's quoted"), join(dir, 'file', 'sub')],
      readable: [dir, join(dir, 'absent')],
    });
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const probe = parseProbe(r.stdout);
    assert.notEqual(probe.host, 'unknown');
    assert.match(probe.programs.get('bash') ?? '', /bash$/);
    assert.equal(probe.programs.get('no-such-program-cryoet'), null);
    assert.equal(probe.programs.get('/bin/sh'), '/bin/sh');
    assert.equal(probe.folders.get(join(dir, 'new', 'deep')), null);
    assert.equal(probe.folders.get(join(dir, "it's quoted")), null);
    assert.match(probe.folders.get(join(dir, 'file', 'sub')) ?? '', /^cannot create it \(Not a directory\)$/);
    assert.equal(probe.folders.get(dir), null);
    assert.equal(probe.folders.get(join(dir, 'absent')), 'does not exist');
    // No probe file is left behind.
    assert.deepEqual(spawnSync('ls', ['-A', join(dir, 'new', 'deep')], { encoding: 'utf8' }).stdout, '');
  });

  test("the compute-node job is one srun with --immediate, on the rung's partition and gres", () => {
    const argv = computeProbeArgs({ partition: 'gpu', gres: 'gpu:1' }, 60, 'echo hi');
    assert.deepEqual(argv.slice(0, 3), ['srun', '--partition=gpu', '--gres=gpu:1']);
    assert.ok(argv.includes('--immediate=60'));
    assert.deepEqual(argv.slice(-3), ['bash', '-c', 'echo hi']);
  });
});

describe('doctor: what a configuration needs', () => {
  test('rungs of every step, deduplicated, with the steps that use them', async () => {
    const config = await devConfig();
    const uses = rungUses(config).map((u) => `${u.rung.partition} ${u.rung.gres}: ${u.usedBy.join(',')}`);
    assert.deepEqual(uses, [
      'gpu gpu:1: probe#1,reconstruct#1,extract#1,refine#3,postprocess#1',
      'gpu gpu:a10g:4: refine#1',
      'gpu gpu:4: refine#2',
    ]);
  });

  test('programs per profile, in relionBinDir when set; folders on the first cluster', async () => {
    const config = await devConfig();
    assert.deepEqual(relionPrograms('embedded'), [
      'relion_preprocess',
      'relion_refine_mpi',
      'relion_postprocess',
      'relion_mask_create',
    ]);
    assert.ok(relionPrograms('relion5').includes('relion_tomo_subtomo'));
    const relion5 = programsNeeded({ ...config, tools: { ...config.tools, profile: 'relion5' } });
    assert.ok(
      relion5.some((p) => p.endsWith('/.dev/relion5/bin/relion_tomo_subtomo')),
      relion5.join(' '),
    );
    assert.equal(relion5[0], 'mpirun');
    const folders = foldersNeeded(config, 'dev');
    assert.deepEqual(folders.readable, [config.paths.data]);
    assert.ok(folders.writable.includes(config.paths.work));
  });

  test('every file a campaign names, with its field', () => {
    const parsed = parseCampaign(readFileSync(join(repoRoot, 'campaigns', 'relion5-10164.yaml'), 'utf8'), 'relion5');
    assert.ok(parsed.ok);
    const files = campaignFiles(parsed.spec, { dir: '/w', dataDir: '/d' });
    const fields = files.map((f) => f.field);
    assert.ok(fields.includes('tiltSeries[0] (TS_01).stack'));
    assert.ok(fields.includes('relion5.tomograms'));
    assert.ok(fields.includes('truth.map'));
    assert.ok(files.every((f) => f.path.startsWith('/d/')));
  });
});

describe('doctor: the report', () => {
  test('one line per check, the fix under a warn or fail, a total; exit 1 only when one failed', () => {
    const checks = [
      check('pass', 'temporal', 'connection', '127.0.0.1:7233', 'not shown'),
      check('warn', 'cluster dev', 'rung', 'down now', 'bring it up'),
      check('fail', 'cluster dev', 'tools', 'not found: relion_refine_mpi', 'set tools.relionBinDir'),
    ];
    assert.equal(checks[0]!.fix, undefined);
    const text = formatChecks(checks);
    assert.match(text, /^PASS {2}temporal {5}connection: 127\.0\.0\.1:7233$/m);
    assert.match(
      text,
      /^FAIL {2}cluster dev {2}tools: not found: relion_refine_mpi\n {19}fix: set tools\.relionBinDir$/m,
    );
    assert.match(text, /3 check\(s\): 1 passed, 1 warning\(s\), 1 failed$/);
    assert.equal(doctorExitCode(checks), 1);
    assert.equal(doctorExitCode(checks.slice(0, 2)), 0);
  });
});
