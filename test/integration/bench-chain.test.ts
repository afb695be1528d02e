/**
 * The peers benchmark's harness end to end on the dev cluster, as small as it gets: one
 * tilt series of SLEEP jobs (0–1 s each) through the plain sbatch afterok chain, with the
 * counting shim on the driver's PATH. Checks that the chain runs our command lines, that
 * the tool log and the scheduler-call log say what happened, and that the critical path
 * comes out of them. (`npm run bench` runs the full comparison; it is not part of npm test.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  criticalPath,
  eventsIn,
  parseCallLog,
  parseToolLog,
  pipelineDag,
  stepWorkMs,
  summarizeCalls,
} from '../../bench/peers/metrics.js';
import { sleepSpec, stepCommands, type PipelineVariant } from '../../bench/peers/pipeline.js';
import { writeSleepDataset, writeSleepTools } from '../../bench/peers/sleep-tools.js';
import { writeCountingShim } from '../../bench/peers/host.js';
import { chainWay, type RunSpec } from '../../bench/peers/ways.js';
import { devConfig, repoRoot, uniqueId } from '../helpers/env.js';

test('bench harness: one SLEEP tilt series through the sbatch chain, counted', { timeout: 180_000 }, async () => {
  const config = await devConfig();
  // Under the repo: the dev cluster's jobs see this machine's /tmp too, but keep it with the rest.
  const tmp = mkdtempSync(join(repoRoot, '.dev', 'bench-smoke-'));
  const toolLog = join(tmp, 'tools.log');
  const callsLog = join(tmp, 'calls.log');
  writeFileSync(toolLog, '');
  writeFileSync(callsLog, '');
  const data = writeSleepDataset(join(tmp, 'data'));
  const tools = writeSleepTools(
    join(tmp, 'tools'),
    { reconstruct: 1, extract: 0, refineIterations: 2, refineIteration: 1, postprocess: 0 },
    toolLog,
  );
  const variant: PipelineVariant = {
    name: 'sleep',
    spec: sleepSpec(1, { dir: join(tmp, 'data'), ...data }),
    // The chain runs the tool in place of a staged copy: the stage folder is the tools folder.
    tools: {
      aretomo2: tools.aretomo2,
      relionBinDir: tools.relionBinDir,
      mpirun: [tools.mpirun],
      stageDir: join(tmp, 'tools'),
    },
  };
  const id = uniqueId('smoke');
  const dir = join(tmp, 'work', id);
  const run: RunSpec = {
    id,
    way: 'chain',
    scenario: 'clean',
    variant,
    dir,
    driverDir: join(dir, '.driver'),
    refinePinned: false,
    commands: stepCommands(variant, config, dir, { cluster: 'dev', partition: 'gpu', gres: 'gpu:4', timeScale: 1 }),
    shimDir: writeCountingShim(join(tmp, 'shim')),
    callsLog,
  };
  const way = chainWay();
  const { driver, t0 } = await way.start(run);
  try {
    assert.equal(await driver.done, true, driver.output());
  } finally {
    await way.stop(run);
  }
  const events = eventsIn(parseToolLog(readFileSync(toolLog, 'utf8')), dir);
  assert.deepEqual([...new Set(events.map((e) => e.step))], ['reconstruct', 'extract', 'refine', 'postprocess']);
  const cp = criticalPath(pipelineDag(['TS_01'], false), stepWorkMs(events));
  assert.ok(cp.ms >= 3000 && cp.ms < 5000, `critical path ${cp.ms} ms`);
  const calls = parseCallLog(readFileSync(callsLog, 'utf8')).filter((c) => c.run === id);
  const summary = summarizeCalls(calls, Date.now() - t0);
  assert.equal(summary.byCommand['sbatch'], 4);
  assert.ok(summary.byKind.status >= 1, JSON.stringify(summary));
});
