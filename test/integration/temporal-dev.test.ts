/**
 * The embedded Temporal server script: binds to 127.0.0.1, registers the project's search
 * attributes, serves the UI on 127.0.0.1, keeps workflows across a restart (SQLite), is
 * idempotent and leaves no process behind after stop. Own ports and state dir.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort, repoRoot, uniqueId } from '../helpers/env.js';

describe('scripts/temporal-dev.ts', () => {
  let port: number;
  let uiPort: number;
  let stateDir: string;
  const script = (command: string) =>
    execFileSync('node', ['--import', 'tsx', join(repoRoot, 'scripts', 'temporal-dev.ts'), command], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...process.env,
        CRYOET_TEMPORAL_PORT: String(port),
        CRYOET_TEMPORAL_UI_PORT: String(uiPort),
        CRYOET_TEMPORAL_DIR: stateDir,
      },
    });
  const pid = () => Number(readFileSync(join(stateDir, 'server.pid'), 'utf8'));
  const listening = (): string =>
    execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(`pid=${pid()},`))
      .join('\n');

  // A zombie waiting for a reaper has exited too (PID 1 in our sandboxes does not reap).
  const exited = (p: number): boolean => {
    try {
      return readFileSync(`/proc/${p}/stat`, 'utf8').split(' ')[2] === 'Z';
    } catch {
      return true;
    }
  };

  before(async () => {
    // Ports well apart: the script also takes port+10 (HTTP API) and port+11 (metrics).
    port = await freePort();
    uiPort = await freePort();
    stateDir = mkdtempSync(join(tmpdir(), 'cryoet-temporal-dev-'));
  });

  after(() => {
    try {
      script('stop');
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('starts on 127.0.0.1 with the search attributes, survives a restart, stops cleanly', async () => {
    assert.match(script('start'), new RegExp(`serving on 127.0.0.1:${port}`));
    assert.match(script('start'), /already running/);
    for (const line of listening().split('\n'))
      assert.match(line, /127\.0\.0\.1:\d+/, `listens beyond loopback: ${line}`);
    const ui = await fetch(`http://127.0.0.1:${uiPort}/`);
    assert.equal(ui.status, 200);

    const workflowId = uniqueId('survives-restart');
    let connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const client = new Client({ connection });
      // No worker serves this queue: the workflow just stays open in the SQLite file.
      await client.workflow.start('clusterJob', { taskQueue: uniqueId('nobody'), workflowId, args: [] });
      const attributes = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      for (const name of ['CryoStage', 'CryoIteration', 'CryoGpuType', 'CryoCostUsd']) {
        assert.ok(name in (attributes.customAttributes ?? {}), `${name} is registered`);
      }
    } finally {
      await connection.close();
    }

    const firstPid = pid();
    assert.match(script('stop'), /stopped/);
    assert.ok(exited(firstPid), 'the server process is gone after stop');
    script('start');
    connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const described = await new Client({ connection }).workflow.getHandle(workflowId).describe();
      assert.equal(described.status.name, 'RUNNING');
    } finally {
      await connection.close();
    }
  });
});
