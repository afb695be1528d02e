/**
 * Exactly-once submission: a worker SIGKILLed right after sbatch (before Temporal hears
 * of the job) and a fresh worker: one Slurm job exists for the attempt, and the
 * workflow re-attaches to it and completes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CryoEtPlugin } from '../../src/plugin.js';
import { loadConfig } from '../../src/config.js';
import { jobKey, jobNameFor } from '../../src/slurm/job-key.js';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { repoRoot, startTemporalWithConfig, uniqueId } from '../helpers/env.js';
import { spawnWorkerProcess } from '../helpers/worker-process.js';
import { ladder } from '../helpers/worker.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

describe('exactly-once submission', () => {
  let env: TestWorkflowEnvironment;
  let configFile: string;
  const taskQueue = uniqueId('tq-once');

  before(async () => {
    ({ env, configFile } = await startTemporalWithConfig(taskQueue));
  });
  after(async () => {
    await env?.teardown();
  });

  test('SIGKILL right after sbatch: one job exists, the next worker re-attaches and completes', async () => {
    const doomed = await spawnWorkerProcess(
      ['--import', 'tsx', join(repoRoot, 'test/fixtures/worker-dies-after-submit.ts'), configFile],
      'polling',
    );

    const workflowId = `cryoet/test/${uniqueId('once')}`;
    const input: ClusterJobInput = {
      step: 'once',
      placement: ladder(['gpu:t4:1']),
      command: ['bash', '-c', 'sleep 2; echo once'],
    };
    const handle = await env.client.workflow.start('clusterJob', { taskQueue, workflowId, args: [input] });
    assert.equal((await doomed.exited).signal, 'SIGKILL', doomed.output());
    assert.match(doomed.output(), /sbatch done/);

    const config = await loadConfig(configFile);
    const plugin = new CryoEtPlugin({ config, log: () => {} });
    const jobName = jobNameFor(jobKey(workflowId, 'once-1'));
    const listJobs = async () =>
      (
        await plugin.resources.pool.get('dev').exec(`squeue -h -t all --name ${jobName} -o %i`, { timeoutMs: 10_000 })
      ).stdout
        .trim()
        .split('\n')
        .filter(Boolean);
    const before = await listJobs();
    assert.equal(before.length, 1, `jobs named ${jobName}: ${before.join(', ')}`);

    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, plugins: [plugin] });
    const result: ClusterJobResult = await worker.runUntil(handle.result());
    assert.equal(result.job.jobId, before[0]);
    assert.equal(result.job.reattached, true);
    assert.ok(result.record.events.some((e) => e.kind === 'reattached'));
    assert.match(result.result.outputTail, /once/);
    try {
      assert.deepEqual(await listJobs(), before);
    } finally {
      plugin.resources.close();
    }
  });
});
