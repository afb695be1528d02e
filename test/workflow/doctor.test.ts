/**
 * `cryoet doctor` against the real dev cluster (sshd, slurmctld, slurmd) and a real Temporal
 * dev server: it passes on the shipped setup, and each failure mode is broken on purpose:
 * a missing binary, a bad partition and gres, a read-only folder, a wrong host key, missing
 * search attributes, missing and damaged campaign files. `cryoet start` refuses a campaign
 * whose files are missing, and starts nothing.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { EMBEDDED_CAMPAIGN, EMBEDDED_PYTHON, MAKE_DATASET } from '../../src/embedded.js';
import type { DoctorCheck } from '../../src/doctor/checks.js';
import { freePort, repoRoot, startTemporal, uniqueId, writeTestConfig } from '../helpers/env.js';

function cryoet(...args: string[]) {
  const r = spawnSync('node', [join(repoRoot, 'bin', 'cryoet.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function doctorJson(...args: string[]): { code: number | null; checks: DoctorCheck[]; err: string } {
  const r = cryoet('doctor', '--json', ...args);
  assert.ok(r.out.trim().startsWith('{'), `no JSON: ${r.out}\n${r.err}`);
  return { code: r.code, checks: (JSON.parse(r.out) as { checks: DoctorCheck[] }).checks, err: r.err };
}

function find(checks: DoctorCheck[], name: string | RegExp): DoctorCheck {
  const c = checks.find((x) => (typeof name === 'string' ? x.check === name : name.test(x.check)));
  assert.ok(c, `no check ${String(name)} in ${checks.map((x) => x.check).join(' | ')}`);
  return c;
}

/** A variant of the test config: `edit` rewrites its text. */
function variant(config: string, edit: (text: string) => string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cryoet-doctor-')), 'temporal.yaml');
  writeFileSync(file, edit(readFileSync(config, 'utf8')));
  return file;
}

/** The embedded campaign file on the dataset in `dir` (absolute dataDir). */
function campaignOn(dir: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'cryoet-doctor-campaign-')), 'campaign.yaml');
  writeFileSync(file, readFileSync(EMBEDDED_CAMPAIGN, 'utf8').replace(/^dataDir: \S+/m, `dataDir: ${dir}`));
  return file;
}

describe('cryoet doctor on the dev cluster', { timeout: 600_000 }, () => {
  let env: TestWorkflowEnvironment;
  let config: string;
  let dataset: string;
  let campaign: string;
  const scratch = mkdtempSync(join(tmpdir(), 'cryoet-doctor-data-'));

  before(async () => {
    const port = await freePort();
    env = await startTemporal(port);
    // paths.data: the scratch folder the datasets are made in (a fresh clone has no .dev/data).
    config = variant(writeTestConfig(port, uniqueId('doctor')), (t) =>
      t.replace(/^ {2}data: .*$/m, `  data: ${scratch}`),
    );
    dataset = join(scratch, 'good');
    execFileSync(EMBEDDED_PYTHON, [MAKE_DATASET, '--out', dataset, '--size', '128,128,48', '--particles', '8'], {
      stdio: 'ignore',
      timeout: 300_000,
    });
    campaign = campaignOn(dataset);
  });
  after(async () => {
    await env?.teardown();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('the shipped setup passes: Temporal, ssh, scheduler, rungs, tools, a compute node, every file', () => {
    const text = cryoet('doctor', '-c', config, campaign);
    assert.equal(text.code, 0, `${text.out}\n${text.err}`);
    assert.match(text.out, /^PASS {2}temporal +search attributes: all 11 registered$/m);
    assert.match(text.out, /^PASS {2}cluster dev +ssh: root@127\.0\.0\.1:2222: host key matches /m);
    assert.match(
      text.out,
      new RegExp(
        '^WARN {2}cluster dev +rung gpu gpu:a10g:4 \\(refine#1\\): ' +
          'offered by c1 \\(down~\\), but Slurm would not place a job now',
        'm',
      ),
    );
    assert.match(text.out, /^ +fix: a job here pends and moves to the next rung after hangAfter \(20s\)/m);
    assert.match(text.out, /^\d+ check\(s\): \d+ passed, 1 warning\(s\), 0 failed$/m);
    const { checks } = doctorJson('-c', config, campaign);
    assert.deepEqual(
      checks.filter((c) => c.status !== 'pass').map((c) => c.check),
      ['rung gpu gpu:a10g:4 (refine#1)'],
    );
    assert.match(find(checks, 'relion').detail, /relion_refine_mpi --version: 3\.1/);
    assert.match(find(checks, `folder ${scratch}`).detail, /^readable from compute node \S+$/);
    assert.match(find(checks, 'tiltSeries[0] (TS_01).stack').detail, /TS_01\.mrc: 128×128×\d+ mode 2/);
    assert.match(find(checks, 'tiltSeries[4] (TS_54).angles').detail, /\d+ tilts, -?\d+° to \d+°/);
    assert.match(find(checks, 'reference').detail, /reference\.mrc: \d+×\d+×\d+ mode 2/);
  });

  test('cryoet start runs the cheap part first: it passes, the warning is printed, the campaign starts', async () => {
    const id = uniqueId('doctor-started');
    const start = cryoet('start', campaign, '-c', config, '--id', id);
    assert.equal(start.code, 0, start.err);
    assert.match(start.out, new RegExp(`started campaign ${id}`));
    assert.match(start.err, /^WARN .*rung gpu gpu:a10g:4 \(refine#1\)/m);
    assert.doesNotMatch(start.err, /compute node|folder /);
    await env.client.workflow.getHandle(id).terminate('test cleanup: no worker runs it');
  });

  test('a missing binary: RELION outside relionBinDir and an MPI launcher not on PATH', () => {
    const broken = variant(config, (t) =>
      t
        .replace('relionBinDir: { relion5:', 'relionBinDir: { embedded: /opt/no-relion/bin, relion5:')
        .replace('mpirun: [mpirun,', 'mpirun: [no-such-mpirun,'),
    );
    const { code, checks } = doctorJson('-c', broken, '--no-compute-node');
    assert.equal(code, 1);
    const tools = find(checks, 'tools');
    assert.equal(tools.status, 'fail');
    assert.match(
      tools.detail,
      /not found: no-such-mpirun, \/opt\/no-relion\/bin\/relion_preprocess, \/opt\/no-relion\/bin\/relion_refine_mpi/,
    );
    assert.match(tools.fix!, /tools\.relionBinDir/);
    const relion = find(checks, 'relion');
    assert.equal(relion.status, 'fail');
    assert.match(relion.detail, /\/opt\/no-relion\/bin\/relion_refine_mpi --version printed no version/);
  });

  test('a bad partition and a gres no node offers fail, naming what the cluster has', () => {
    const broken = variant(config, (t) =>
      t
        .replace('partitions: [gpu]', 'partitions: [gpu, nope]')
        .replace(
          'postprocess: { ladder: [{ partition: gpu, gres: "gpu:1" }] }',
          'postprocess: { ladder: [{ partition: nope, gres: "gpu:1" }, { partition: gpu, gres: "gpu:v100:1" }] }',
        ),
    );
    const { code, checks } = doctorJson('-c', broken, '--no-compute-node');
    assert.equal(code, 1);
    assert.match(find(checks, 'partitions').detail, /^nope not on the cluster \(sinfo lists gpu, urgent\)$/);
    const nope = find(checks, 'rung nope gpu:1 (postprocess#1)');
    assert.equal(nope.status, 'fail');
    assert.match(nope.detail, /partition nope does not exist/);
    const v100 = find(checks, 'rung gpu gpu:v100:1 (postprocess#2)');
    assert.equal(v100.status, 'fail');
    assert.match(v100.detail, /no node of partition gpu offers gpu:v100:1 \(gpu:a10g:4 on c1; gpu:t4:4 on n1,n2\)/);
  });

  test('a folder jobs write that is read-only on the compute node', (t) => {
    const ro = join(scratch, 'readonly');
    mkdirSync(ro, { recursive: true });
    let mounted = spawnSync('mount', ['--bind', ro, ro]).status === 0;
    mounted &&= spawnSync('mount', ['-o', 'remount,bind,ro', ro]).status === 0;
    // Where this machine refuses mounts, a path under a regular file is as unwritable (and said so).
    const work = mounted ? ro : join(dataset, 'dataset.json', 'work');
    if (!mounted) t.diagnostic('mount refused here: a folder under a regular file stands for the read-only one');
    try {
      const broken = variant(config, (text) => text.replace(/^ {2}work: .*$/m, `  work: ${work}`));
      const { code, checks } = doctorJson('-c', broken);
      assert.equal(code, 1);
      const folder = find(checks, `folder ${work}`);
      assert.equal(folder.status, 'fail');
      assert.match(
        folder.detail,
        mounted
          ? /^not writable \(Read-only file system\) on compute node \S+ \(jobs need it writable\)$/
          : /^cannot create it \(Not a directory\) on compute node/,
      );
      assert.match(folder.fix!, /shared filesystem/);
      assert.equal(find(checks, /^folder .*\.dev\/cluster\/work$/).status, 'pass');
    } finally {
      if (mounted) spawnSync('umount', [ro]);
    }
  });

  test('a host key that is not the one in known_hosts: ssh fails and nothing else is tried on that cluster', () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'cryoet-doctor-key-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keyDir, 'other')]);
    const other = readFileSync(join(keyDir, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(join(keyDir, 'known_hosts'), `[127.0.0.1]:2222 ${other}\n`);
    const broken = variant(config, (t) =>
      t.replace(/knownHostsFile: \S+/, `knownHostsFile: ${join(keyDir, 'known_hosts')}`),
    );
    const { code, checks } = doctorJson('-c', broken);
    assert.equal(code, 1);
    const ssh = find(checks, 'ssh');
    assert.equal(ssh.status, 'fail');
    assert.match(ssh.detail, /host key/i);
    assert.match(ssh.fix!, /known_hosts/);
    assert.deepEqual(
      checks.filter((c) => c.scope === 'cluster dev').map((c) => c.check),
      ['ssh'],
    );
  });

  test('a namespace without our search attributes fails, naming cryoet setup', async () => {
    const port = await freePort();
    const bare = await startTemporal(port, true);
    try {
      const other = writeTestConfig(port, uniqueId('doctor-bare'));
      const { code, checks } = doctorJson('-c', other, '--no-compute-node');
      assert.equal(code, 1);
      const attrs = find(checks, 'search attributes');
      assert.equal(attrs.status, 'fail');
      assert.match(attrs.detail, /missing or mistyped: CryoCampaign, /);
      assert.equal(attrs.fix, `cryoet setup -c ${other} (without them every campaign's workflow task fails)`);
    } finally {
      await bare.teardown();
    }
  });

  test(
    'missing and damaged campaign files: each named by field and path; ' + 'cryoet start refuses and starts nothing',
    async () => {
      const damaged = join(scratch, 'damaged');
      cpSync(dataset, damaged, { recursive: true });
      rmSync(join(damaged, 'TS_03.mrc'));
      truncateSync(join(damaged, 'TS_43.mrc'), 4096);
      const angles = readFileSync(join(damaged, 'TS_45.rawtlt'), 'utf8').trim().split('\n');
      writeFileSync(join(damaged, 'TS_45.rawtlt'), `${angles.slice(1).join('\n')}\n`);
      const file = campaignOn(damaged);
      const { code, checks } = doctorJson('-c', config, file, '--no-compute-node');
      assert.equal(code, 1);
      const failed = checks.filter((c) => c.status === 'fail');
      assert.deepEqual(
        failed.map((c) => c.check),
        ['tiltSeries[1] (TS_03).stack', 'tiltSeries[2] (TS_43).stack', 'tiltSeries[3] (TS_45).angles'],
      );
      assert.match(failed[0]!.detail, /TS_03\.mrc does not exist/);
      assert.match(failed[0]!.fix!, new RegExp(`fix tiltSeries\\[1\\] \\(TS_03\\)\\.stack in ${file}`));
      assert.match(failed[1]!.detail, /TS_43\.mrc: .*4096/);
      assert.match(
        failed[2]!.detail,
        new RegExp(`TS_45\\.mrc has ${angles.length} tilt images but TS_45\\.rawtlt has ${angles.length - 1} angles`),
      );

      const id = uniqueId('doctor-refused');
      const start = cryoet('start', file, '-c', config, '--id', id);
      assert.equal(start.code, 1, start.err);
      assert.match(start.err, /^FAIL .*TS_03\)\.stack: /m);
      assert.match(
        start.err,
        new RegExp(
          'not started: 3 preflight check\\(s\\) failed ' +
            '\\(cryoet doctor -c .* runs them all; --no-preflight starts anyway\\)',
        ),
      );
      await assert.rejects(env.client.workflow.getHandle(id).describe(), /not found/i);
    },
  );
});
