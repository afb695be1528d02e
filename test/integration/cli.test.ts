/**
 * The `cryoet` command as a user runs it: config check output and exit codes, and a bad
 * config that must never start a worker (no connection is even attempted).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/env.js';

function cryoet(...args: string[]) {
  const r = spawnSync('node', [join(repoRoot, 'bin', 'cryoet.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cryoet CLI', () => {
  test('config check accepts the project temporal.yaml', () => {
    const r = cryoet('config', 'check', 'temporal.yaml');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /temporal\.yaml: ok — 1 cluster\(s\) \(dev\), 3 placement rung\(s\)/);
  });

  test('config check --schema-only validates a file for another machine (the deployment example)', () => {
    const example = 'docs/examples/parallelcluster.yaml';
    const schema = cryoet('config', 'check', '--schema-only', example);
    assert.equal(schema.code, 0, schema.stderr);
    assert.match(
      schema.stdout,
      /ok \(schema only: local files not looked up\) — 1 cluster\(s\) \(pcluster\), 4 placement rung\(s\)/,
    );
    const full = cryoet('config', 'check', example);
    assert.equal(full.code, 2);
    assert.match(
      full.stderr,
      new RegExp(
        'clusters\\.pcluster\\.ssh\\.knownHostsFile: file not found: /etc/cryoet/ssh/known_hosts; ' +
          "the cluster's host key, pinned: ssh-keyscan -p 22 ",
      ),
    );
  });

  test('config check lists every problem with its path and line, exit 2', () => {
    const r = cryoet('config', 'check', 'test/fixtures/config/broken-many.yaml');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /:18 placement\.ladder\[1\]\.gres: expected "gpu\[:type\]:N"/);
    assert.match(r.stderr, /clusters\.dev\.ssh\.prot: unknown key/);
    assert.match(r.stderr, /10 problem\(s\)/);
  });

  test('a bad config never starts a worker', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryoet-badcfg-'));
    const file = join(dir, 'temporal.yaml');
    // Points at a Temporal port nothing listens on: reaching it would be a connection error, not a config error.
    writeFileSync(
      file,
      'temporal: { address: "127.0.0.1:1" }\nclusters: {}\nplacement: { ladder: [] }\npaths: { data: /d, work: /w }\n',
    );
    const r = cryoet('worker', '--config', file);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /clusters/);
    assert.doesNotMatch(r.stderr + r.stdout, /cryoet worker: task queue|connect|ECONNREFUSED|TransportError/i);
  });

  test('a missing config file names the path and exits 2', () => {
    const r = cryoet('config', 'check', 'no/such/temporal.yaml');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no\/such\/temporal\.yaml/);
  });
});
