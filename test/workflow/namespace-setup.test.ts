/**
 * `cryoet setup` against a real Temporal dev server started WITHOUT our search attributes (as a
 * production namespace is before set-up): a worker and `cryoet start` stop at once naming
 * `cryoet setup`; setup registers all of them through the operator API and, run again, adds
 * nothing; then start goes through.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { cryoSearchAttributes } from '../../src/search-attributes.js';
import { freePort, repoRoot, startTemporal, uniqueId, writeTestConfig } from '../helpers/env.js';

function cryoet(...args: string[]) {
  const r = spawnSync('node', [join(repoRoot, 'bin', 'cryoet.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const ALL = cryoSearchAttributes.map((k) => k.name).join(', ');

describe('cryoet setup: our search attributes on a namespace that lacks them', { timeout: 180_000 }, () => {
  let env: TestWorkflowEnvironment;
  let config: string;

  before(async () => {
    const port = await freePort();
    env = await startTemporal(port, true);
    config = writeTestConfig(port, uniqueId('setup'));
  });
  after(async () => env?.teardown());

  test('a worker and cryoet start stop at once, naming cryoet setup', () => {
    const worker = cryoet('worker', '--config', config);
    assert.equal(worker.code, 2, worker.err);
    assert.match(
      worker.err,
      new RegExp(
        `namespace "default" lacks the search attributes cryoet workflows set: ${ALL}\\. ` +
          `Run: cryoet setup -c ${config}`,
      ),
    );
    const start = cryoet(
      'start',
      join(repoRoot, 'campaigns', 'embedded-10164.yaml'),
      '--config',
      config,
      '--id',
      uniqueId('nosetup'),
    );
    assert.equal(start.code, 2, start.err);
    assert.match(start.err, /lacks the search attributes .*Run: cryoet setup -c /);
  });

  test('setup registers all of them; a second run adds nothing', async () => {
    const first = cryoet('setup', '--config', config);
    assert.equal(first.code, 0, first.err);
    assert.match(
      first.out,
      new RegExp(`namespace "default" at 127\\.0\\.0\\.1:\\d+: added ${ALL}; already there: none`),
    );
    const listed = await env.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const k of cryoSearchAttributes)
      assert.ok(listed.customAttributes?.[k.name] !== undefined, `${k.name} not registered`);
    const again = cryoet('setup', '--config', config);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, new RegExp(`added none; already there: ${ALL}$`, 'm'));
  });

  test('after setup, cryoet start goes through', () => {
    const id = uniqueId('aftersetup');
    // The campaign's dataset is not made here: its preflight is doctor.test.ts's.
    const start = cryoet(
      'start',
      join(repoRoot, 'campaigns', 'embedded-10164.yaml'),
      '--config',
      config,
      '--id',
      id,
      '--no-preflight',
    );
    assert.equal(start.code, 0, start.err);
    assert.match(start.out, new RegExp(`started campaign ${id}`));
  });
});
