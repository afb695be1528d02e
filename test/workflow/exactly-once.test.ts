/**
 * Exactly-once submission: a worker SIGKILLed right after sbatch (before Temporal hears
 * of the job) and a fresh worker: one Slurm job exists for the attempt, and the
 * workflow re-attaches to it and completes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CryoEtPlugin } from '../../src/plugin.js';
import { loadConfig } from '../../src/config.js';
import { jobKey, jobNameFor } from '../../src/slurm/job-key.js';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { freePort, repoRoot, startTemporal, uniqueId, waitUntil, writeTestConfig } from '../helpers/env.js';
import { ladder } from '../helpers/worker.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

describe('exactly-once submission', () => {
  let env: TestWorkflowEnvironment;
  let configFile: string;
  const taskQueue = uniqueId('tq-once');

  before(async () => {
    const port = await freePort();
    env = await startTemporal(port);
    configFile = writeTestConfig(port, taskQueue);
  });
  after(async () => {
    await env?.teardown();
  });

  test('SIGKILL right after sbatch: one job exists, the next worker re-attaches and completes', async () => {
    const child = spawn('node', ['--import', 'tsx', join(repoRoot, 'test/fixtures/worker-dies-after-submit.ts'), configFile], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const died = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    await waitUntil('the doomed worker to poll', () => (output.includes('polling') ? true : undefined), 60_000);

    const workflowId = `cryoet/test/${uniqueId('once')}`;
    const input: ClusterJobInput = { step: 'once', placement: ladder(['gpu:t4:1']), command: ['bash', '-c', 'sleep 2; echo once'] };
    const handle = await env.client.workflow.start('clusterJob', { taskQueue, workflowId, args: [input] });
    assert.equal(await died, 'SIGKILL', output);
    assert.match(output, /sbatch done/);

    const config = await loadConfig(configFile);
    const plugin = new CryoEtPlugin({ config, log: () => {} });
    const jobName = jobNameFor(jobKey(workflowId, 'once-1'));
    const listJobs = async () => (await plugin.resources.pool.get('dev').exec(`squeue -h -t all --name ${jobName} -o %i`, { timeoutMs: 10_000 })).stdout.trim().split('\n').filter(Boolean);
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
