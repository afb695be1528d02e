/**
 * A worker stopped by SIGTERM mid-job, as an operator or a deploy would: the `cryoet
 * worker` process exits cleanly after its grace time, the in-flight watch is retried on
 * the next worker, and the workflow finishes on the same Slurm job — nothing submitted
 * twice. Real Temporal dev server, real worker process, real SSH and Slurm.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CryoEtPlugin } from '../../src/plugin.js';
import { loadConfig } from '../../src/config.js';
import { CryoSlurmJobId } from '../../src/search-attributes.js';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { repoRoot, startTemporalWithConfig, uniqueId, waitUntil } from '../helpers/env.js';
import { spawnWorkerProcess } from '../helpers/worker-process.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

describe('worker restart mid-job', () => {
  let env: TestWorkflowEnvironment;
  let configFile: string;
  const taskQueue = uniqueId('tq-restart');

  before(async () => {
    ({ env, configFile } = await startTemporalWithConfig(taskQueue));
  });

  after(async () => {
    await env?.teardown();
  });

  test('SIGTERM stops the worker cleanly; the next worker finishes the same job', async () => {
    const worker1 = await spawnWorkerProcess(
      [join(repoRoot, 'bin', 'cryoet.js'), 'worker', '--config', configFile],
      'cryoet worker: task queue',
    );

    const workflowId = `cryoet/test/${uniqueId('restart')}`;
    const handle = await env.client.workflow.start('clusterJob', {
      taskQueue,
      workflowId,
      args: [
        {
          step: 'long',
          placement: {
            ladder: [{ cluster: 'dev', partition: 'gpu', gres: 'gpu:t4:1', timeScale: 1 }],
            hangAfterMs: 60_000,
            onExhausted: 'fail',
          },
          command: ['bash', '-c', 'sleep 12; echo survived'],
        } satisfies ClusterJobInput,
      ],
    });
    // The long-lived worker sizes its V8 heaps for memory (src/worker-heap.ts) and says so.
    assert.match(worker1.output(), /cryoet worker: task queue .*; V8 --optimize-for-size --max-semi-space-size=1/);
    const jobId = await waitUntil(
      'the job to be submitted',
      async () => (await handle.describe()).typedSearchAttributes.get(CryoSlurmJobId),
      30_000,
    );

    const stoppedAt = Date.now();
    worker1.child.kill('SIGTERM');
    const { code } = await worker1.exited;
    assert.equal(code, 0, worker1.output());
    assert.match(worker1.output(), /cryoet worker: stopped/);
    assert.ok(Date.now() - stoppedAt < 20_000, `worker took ${Date.now() - stoppedAt} ms to stop`);

    const config = await loadConfig(configFile);
    const plugin = new CryoEtPlugin({ config });
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, plugins: [plugin] });
    const result: ClusterJobResult = await worker.runUntil(handle.result());
    assert.equal(result.job.jobId, jobId);
    assert.equal(result.final.state, 'COMPLETED');
    assert.match(result.result.outputTail, /survived/);
    const history = await handle.fetchHistory();
    const submits =
      history.events?.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'submitJob') ?? [];
    assert.equal(submits.length, 1, 'submitted once');
  });
});
