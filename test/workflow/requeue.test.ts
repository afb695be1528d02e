/**
 * clusterJob's own follow logic for a job Slurm requeues under the same id (a site that
 * requeues despite --no-requeue, or REQUEUE preemption). The dev cluster cannot make
 * Slurm requeue a --no-requeue job (scontrol refuses: "Requested operation is presently
 * disabled"), so this test drives the workflow with stand-in activities: the workflow's
 * logic is the subject, not Slurm's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { workflowsPath } from '../../src/plugin.js';
import type { JobObservation } from '../../src/scheduler/watcher.js';
import type { ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { startTemporal, uniqueId } from '../helpers/env.js';
import { ladder } from '../helpers/worker.js';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startTemporal();
});
after(async () => {
  await env?.teardown();
});

const observation = (state: string, version: number, extra: Partial<JobObservation> = {}): JobObservation => ({
  jobId: '42',
  state,
  move: 'pending',
  final: false,
  version,
  ...extra,
});

test('a job requeued by Slurm is followed under the same id: one reclaim, no second submission', async () => {
  // What Slurm reports, in order: running on n1, requeued (PENDING/BeginTime), running on n2, done.
  const script: JobObservation[] = [
    observation('RUNNING', 1, { move: 'running', nodes: 'n1' }),
    observation('PENDING', 2, { reason: 'BeginTime' }),
    observation('RUNNING', 3, { move: 'running', nodes: 'n2' }),
    observation('COMPLETED', 4, { move: 'done', nodes: 'n2', final: true }),
  ];
  let submits = 0;
  let watches = 0;
  const activities = {
    async submitJob() {
      submits += 1;
      return {
        cluster: 'dev',
        jobId: '42',
        jobName: 'cryoet.x',
        jobDir: '/j',
        outputPath: '/j/out',
        markerPath: '/j/result',
        reattached: false,
      };
    },
    async watchJob() {
      return script[Math.min(watches++, script.length - 1)]!;
    },
    async cancelJob() {},
    async readJobResult() {
      return { marker: { exitCode: 0, jobId: '42', node: 'n2' }, outputTail: 'ok\n' };
    },
    async grantedGpus() {
      return [{ jobId: '42', gpuType: 't4', gpus: 1, node: 'n2', source: 'sacct AllocTRES' }];
    },
  };
  const taskQueue = uniqueId('tq-requeue');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath, activities });
  const result: ClusterJobResult = await worker.runUntil(
    env.client.workflow.execute('clusterJob', {
      taskQueue,
      workflowId: `cryoet/test/${uniqueId('requeue')}`,
      args: [{ step: 'refine', placement: ladder(['gpu:t4:1'], 60_000), command: ['true'] }],
    }),
  );
  assert.equal(submits, 1);
  assert.equal(result.record.reclaims, 1);
  assert.equal(result.record.attempt, 1);
  const kinds = result.record.events.map((e) => e.kind);
  assert.deepEqual(kinds, ['submitted', 'observed', 'observed', 'requeued', 'observed', 'observed', 'completed']);
  assert.equal(result.final.nodes, 'n2');
  assert.deepEqual(
    result.record.granted?.map((g) => g.gpuType),
    ['t4'],
  );
});
