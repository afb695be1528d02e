/**
 * The placement ladder on the real dev cluster: a job pinned to A10G (whose pool is empty)
 * hangs, is cancelled and relaxed to any GPU, and runs on a T4; a job held for a
 * non-capacity reason is never relaxed; a ladder where every rung hangs fails with a
 * list of rungs and reasons, or waits when told to.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { jobRecordQuery } from '../../src/workflows/job-record.js';
import { CryoRung, CryoSlurmJobId } from '../../src/search-attributes.js';
import { devConfig, uniqueId, waitUntil } from '../helpers/env.js';
import { ladder, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';

describe('placement ladder on the dev cluster', () => {
  let h: WorkerHarness;
  const reservation = uniqueId('later').replaceAll('-', '_');
  before(async () => {
    // `devlater`: the dev cluster again, but sbatch (reading SBATCH_RESERVATION from the
    // login shell's environment) submits into a reservation that starts in an hour: a
    // pending job with a non-capacity reason (Reservation).
    const config = await devConfig();
    h = await startWorkerHarness({
      clusters: {
        ...config.clusters,
        devlater: { ...config.clusters['dev']!, environment: { SBATCH_RESERVATION: reservation } },
      },
    });
  });
  after(async () => {
    await h?.slurm(['scontrol', 'delete', `ReservationName=${reservation}`]).catch(() => {});
    await h?.stop();
  });

  const start = (step: string, input: Omit<ClusterJobInput, 'step'>) =>
    h.env.client.workflow.start('clusterJob', {
      taskQueue: h.taskQueue,
      workflowId: `cryoet/test/${uniqueId(step)}`,
      args: [{ step, ...input }],
    });

  test('a job pinned to A10G hangs, is relaxed to any GPU and finishes on a T4 node', async () => {
    const handle = await start('relax', {
      placement: ladder(['gpu:a10g:4', 'gpu:4']),
      command: ['bash', '-c', 'echo ran on $(hostname) with $CUDA_VISIBLE_DEVICES'],
    });
    const result: ClusterJobResult = await handle.result();
    const kinds = result.record.events.map((e) => e.kind);
    assert.deepEqual(
      kinds.filter((k) => k !== 'observed'),
      ['submitted', 'hung', 'relaxed', 'resubmitted', 'completed'],
    );
    const hung = result.record.events.find((e) => e.kind === 'hung')!;
    assert.equal(hung.rung, 0);
    assert.match(hung.reason ?? '', /ReqNodeNotAvail/);
    // The hang clock runs from the submission (the job's first sight was already a capacity
    // wait), not from the first status call that saw it.
    const waited = Date.parse(hung.at) - Date.parse(result.record.events.find((e) => e.kind === 'submitted')!.at);
    assert.ok(waited >= 3000 && waited < 4500, `hung ${waited} ms after submission (hangAfter 3 s)`);
    assert.equal(result.record.hung.length, 1);
    assert.match(result.final.nodes ?? '', /^n[12]$/);
    assert.equal(result.record.rung, 1);
    const described = await handle.describe();
    assert.equal(described.typedSearchAttributes.get(CryoRung), 1);
    // What the Temporal UI shows as current details.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(metadata.currentDetails ?? '', /rung 2 \(dev\/gpu, gpu:4\) of 2/);
    assert.match(metadata.currentDetails ?? '', /Slurm job \d+: COMPLETED on n[12]/);
    assert.match(metadata.currentDetails ?? '', /1 rung\(s\) relaxed/);
    // The hung job was cancelled, not left pending.
    const firstJob = result.record.events.find((e) => e.kind === 'submitted')!.jobId!;
    assert.match(await h.slurm(['squeue', '-h', '-t', 'all', '-j', firstJob, '-o', '%T']), /CANCELLED/);
  });

  test('a job queued behind another times its hang from its release, not its submission', async () => {
    const first = await start('ahead', { placement: ladder(['gpu:1']), command: ['sleep', '6'] });
    const firstJob = await waitUntil('the first job to be submitted', async () =>
      (await first.describe()).typedSearchAttributes.get(CryoSlurmJobId),
    );
    const queued = await start('queued', {
      placement: ladder(['gpu:a10g:4', 'gpu:4']),
      command: ['true'],
      afterJobs: [firstJob],
    });
    const [ahead, result] = (await Promise.all([first.result(), queued.result()])) as [
      ClusterJobResult,
      ClusterJobResult,
    ];
    const kinds = result.record.events.map((e) => `${e.kind}${e.reason ? `(${e.reason})` : ''}`);
    assert.ok(kinds.includes('observed(Dependency)'), kinds.join(' '));
    const at = (r: ClusterJobResult, kind: string) => Date.parse(r.record.events.find((e) => e.kind === kind)!.at);
    // The dependency wait (6 s) is not a capacity wait; the 3 s run from Slurm's release (its
    // eligible time, whole seconds), not from a poll that saw it later.
    const sinceEnd = at(result, 'hung') - at(ahead, 'completed');
    assert.ok(at(result, 'hung') - at(result, 'submitted') >= 6000, kinds.join(' '));
    assert.ok(
      sinceEnd >= 1500 && sinceEnd < 4500,
      `hung ${sinceEnd} ms after the job it waited for was seen completed (hangAfter 3 s)`,
    );
    assert.equal(result.record.rung, 1);
  });

  test('a job pending for a non-capacity reason (a future reservation) is not relaxed', async () => {
    await h.slurm([
      'scontrol',
      'create',
      'reservation',
      `ReservationName=${reservation}`,
      'StartTime=now+1hour',
      'Duration=10',
      'Nodes=n1,n2',
      'Users=root',
    ]);
    const later = ladder(['gpu:t4:1', 'gpu:1'], 2000);
    const handle = await start('later', {
      placement: { ...later, ladder: later.ladder.map((r) => ({ ...r, cluster: 'devlater' })) },
      command: ['true'],
    });
    const jobId = await waitUntil('submission', async () =>
      (await handle.describe()).typedSearchAttributes.get(CryoSlurmJobId),
    );
    await waitUntil('the reservation wait to be seen', async () =>
      (await handle.query(jobRecordQuery)).events.some((e) => e.reason === 'Reservation') ? true : undefined,
    );
    // Pending well past hangAfter: still the first rung, nothing cancelled.
    await new Promise((r) => setTimeout(r, 4000));
    const record = await handle.query(jobRecordQuery);
    assert.equal(record.rung, 0);
    assert.equal(record.hung.length, 0);
    await h.slurm(['scontrol', 'update', `ReservationName=${reservation}`, 'StartTime=now']);
    const result: ClusterJobResult = await handle.result();
    // An active reservation would keep every later job off n1 and n2.
    await h.slurm(['scontrol', 'delete', `ReservationName=${reservation}`]);
    assert.equal(result.job.jobId, jobId);
    assert.equal(result.final.state, 'COMPLETED');
  });

  test('when every rung hangs the workflow fails listing each rung and its reason', async () => {
    const handle = await start('exhaust', { placement: ladder(['gpu:a10g:4', 'gpu:a10g:1'], 2000), command: ['true'] });
    await assert.rejects(handle.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'LadderExhausted');
      assert.match(err.cause.message, /rung 1 \(dev\/gpu, gpu:a10g:4\): job \d+ pending \d+s \(ReqNodeNotAvail/);
      assert.match(err.cause.message, /rung 2 \(dev\/gpu, gpu:a10g:1\): job \d+ pending \d+s \(ReqNodeNotAvail/);
      return true;
    });
  });

  test('onExhausted: wait keeps waiting on the last rung instead of failing', async () => {
    const handle = await start('wait', { placement: ladder(['gpu:a10g:4'], 1500, 'wait'), command: ['true'] });
    const jobId = await waitUntil('submission', async () =>
      (await handle.describe()).typedSearchAttributes.get(CryoSlurmJobId),
    );
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal((await handle.describe()).status.name, 'RUNNING');
    assert.equal((await handle.query(jobRecordQuery)).hung.length, 0);
    await handle.cancel();
    await assert.rejects(handle.result());
    await waitUntil('scancel', async () =>
      /CANCELLED/.test(await h.slurm(['squeue', '-h', '-t', 'all', '-j', jobId, '-o', '%T'])) ? true : undefined,
    );
  });
});
