/**
 * Spot reclaim on the real dev cluster: the node under a running job is set DOWN
 * (reason spot-reclaim); Slurm ends the job NODE_FAIL (we submit --no-requeue) and the
 * workflow puts it back in scheduling at once, with the resume command, on another node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { jobRecordQuery } from '../../src/workflows/job-record.js';
import { uniqueId, waitUntil } from '../helpers/env.js';
import { ladder, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';

describe('spot reclaim on the dev cluster', () => {
  let h: WorkerHarness;
  const downed: string[] = [];
  before(async () => {
    h = await startWorkerHarness();
  });
  after(async () => {
    for (const node of downed)
      await h.slurm(['scontrol', 'update', `NodeName=${node}`, 'State=RESUME']).catch(() => {});
    await h?.stop();
  });

  test('a node lost under a running job sends it back to scheduling; it resumes and completes elsewhere', async () => {
    const handle = await h.env.client.workflow.start('clusterJob', {
      taskQueue: h.taskQueue,
      workflowId: `cryoet/test/${uniqueId('reclaim')}`,
      args: [
        {
          step: 'refine',
          placement: ladder(['gpu:t4:1'], 60_000),
          command: ['bash', '-c', 'echo first try; sleep 60'],
          resume: { command: ['bash', '-c', 'echo resumed on $SLURMD_NODENAME'] },
        },
      ],
    });
    const node = await waitUntil('the job to run', async () => {
      const running = (await handle.query(jobRecordQuery)).events.find((e) => e.state === 'RUNNING' && e.node);
      return running?.node;
    });
    downed.push(node);
    await h.slurm(['scontrol', 'update', `NodeName=${node}`, 'State=DOWN', 'Reason=spot-reclaim']);

    const result: ClusterJobResult = await handle.result();
    const events = result.record.events;
    const lost = events.find((e) => e.kind === 'lost')!;
    assert.ok(lost, `no lost event in ${events.map((e) => e.kind).join(', ')}`);
    assert.equal(lost.state, 'NODE_FAIL');
    const resubmitted = events.find((e) => e.kind === 'resubmitted')!;
    assert.ok(Date.parse(resubmitted.at) - Date.parse(lost.at) < 5000, 'resubmitted within seconds of the loss');
    assert.equal(result.record.reclaims, 1);
    assert.equal(result.record.attempt, 2);
    assert.notEqual(result.final.nodes, node);
    assert.match(result.result.outputTail, new RegExp(`resumed on ${result.final.nodes}`));
    assert.notEqual(result.job.jobId, events.find((e) => e.kind === 'submitted')!.jobId);
  });

  test('a spot preemption (PREEMPTED) sends the job back to scheduling too', async () => {
    const handle = await h.env.client.workflow.start('clusterJob', {
      taskQueue: h.taskQueue,
      workflowId: `cryoet/test/${uniqueId('preempt')}`,
      args: [
        {
          step: 'refine',
          placement: ladder(['gpu:t4:2'], 60_000),
          command: ['bash', '-c', 'sleep 60'],
          resume: { command: ['bash', '-c', 'echo resumed after preemption'] },
        },
      ],
    });
    const node = await waitUntil(
      'the job to run',
      async () => (await handle.query(jobRecordQuery)).events.find((e) => e.state === 'RUNNING' && e.node)?.node,
    );
    // A higher-priority partition claims every GPU of that node: Slurm preempts our job.
    await h.slurm([
      'sbatch',
      '--parsable',
      '-p',
      'urgent',
      '--gres=gpu:t4:4',
      '-w',
      node,
      '-o',
      '/dev/null',
      '--wrap',
      'sleep 3',
    ]);
    const result: ClusterJobResult = await handle.result();
    const lost = result.record.events.find((e) => e.kind === 'lost');
    assert.equal(lost?.state, 'PREEMPTED');
    assert.equal(result.record.reclaims, 1);
    assert.match(result.result.outputTail, /resumed after preemption/);
  });
});
