/**
 * Replays recorded histories (test/histories/*.pb, written by scripts/record-history.ts)
 * against today's workflow code. A failure here means a change to workflow code would
 * break running workflows: make it safe as CHANGELOG.md says (patched() or worker versioning).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import proto from '@temporalio/proto';

const { temporal } = proto;
import { workflowsPath } from '../../src/plugin.js';
import { repoRoot } from '../helpers/env.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

test('recorded histories replay on the current workflow code', async () => {
  const dir = join(repoRoot, 'test', 'histories');
  const files = readdirSync(dir).filter((f) => f.endsWith('.pb'));
  assert.ok(files.length > 0, 'no recorded histories');
  for (const file of files) {
    const history = temporal.api.history.v1.History.decode(readFileSync(join(dir, file)));
    const workflowId = readFileSync(join(dir, file.replace(/\.pb$/, '.workflow-id')), 'utf8').trim();
    await Worker.runReplayHistory({ workflowsPath, replayName: file }, history, workflowId);
  }
});
