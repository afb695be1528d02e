/**
 * The cluster-job activities and the shared watcher against the real single-host Slurm
 * cluster over the real sshd: idempotent submission, the pinned-A10G capacity hang the
 * seed study hit, and one bulk status call for many jobs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { ApplicationFailure } from '@temporalio/common';
import { WorkerResources } from '../../src/worker-resources.js';
import { createClusterJobActivities, type SubmitJobInput } from '../../src/activities/cluster-job.js';
import { SlurmWatcher } from '../../src/scheduler/watcher.js';
import { createStatusQuery } from '../../src/activities/status-query.js';
import { devConfig, uniqueId, waitUntil } from '../helpers/env.js';

describe('cluster-job activities on the dev cluster', () => {
  let resources: WorkerResources;
  let activities: ReturnType<typeof createClusterJobActivities>;
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 30_000 }, { logger: new DefaultLogger('WARN') });
  const cleanup: Array<{ jobId: string; jobName: string }> = [];
  const run = <A, R>(fn: (input: A) => Promise<R>, input: A): Promise<R> => env.run(fn, input) as Promise<R>;

  before(async () => {
    const config = await devConfig();
    resources = new WorkerResources(config, () => {});
    activities = createClusterJobActivities(resources);
  });

  after(async () => {
    for (const job of cleanup) await run(activities.cancelJob, { cluster: 'dev', ...job });
    resources.close();
  });

  const job = (key: string, extra: Partial<SubmitJobInput> = {}): SubmitJobInput => ({
    cluster: 'dev',
    key: `cryoet/test/${key}`,
    partition: 'gpu',
    gres: 'gpu:t4:1',
    command: ['true'],
    ...extra,
  });

  test('submitting the same key twice re-attaches instead of submitting a second job', async () => {
    const key = uniqueId('twice');
    const first = await run(activities.submitJob, job(key, { command: ['sleep', '30'] }));
    const second = await run(activities.submitJob, job(key, { command: ['sleep', '30'] }));
    cleanup.push(first);
    assert.equal(first.reattached, false);
    assert.equal(second.reattached, true);
    assert.equal(second.jobId, first.jobId);
    const listed = await resources.pool
      .get('dev')
      .exec(`squeue -h -t all --name ${first.jobName} -o %i`, { timeoutMs: 10_000 });
    assert.deepEqual(listed.stdout.trim().split('\n'), [first.jobId]);
  });

  test('a job pinned to A10G pends on the empty a10g pool: a capacity-hang candidate', async () => {
    const submitted = await run(activities.submitJob, job(uniqueId('a10g'), { gres: 'gpu:a10g:4' }));
    cleanup.push(submitted);
    const watcher = resources.watcher('dev');
    watcher.register(submitted.jobId);
    try {
      // c1 (the only a10g node) is DOWN: the spot pool is empty, the job pends on it.
      const seen = await waitUntil(
        'the pinned job to report ReqNodeNotAvail',
        () => {
          const o = watcher.current(submitted.jobId);
          return o?.state === 'PENDING' && /ReqNodeNotAvail/.test(o.reason ?? '') ? o : undefined;
        },
        30_000,
        250,
      );
      assert.equal(seen.move, 'hang-candidate');
      assert.equal(seen.final, false);
    } finally {
      watcher.unregister(submitted.jobId);
    }
  });

  test('watchJob reports each change until the final state', async () => {
    const submitted = await run(activities.submitJob, job(uniqueId('done'), { command: ['bash', '-c', 'echo fine'] }));
    // Each call returns the next change; the workflow loops the same way.
    let final = await run(activities.watchJob, { cluster: 'dev', jobId: submitted.jobId });
    const tuple = (o: typeof final) => `${o.state}/${o.reason ?? ''}/${o.nodes ?? ''}`;
    const states = [tuple(final)];
    while (!final.final) {
      final = await run(activities.watchJob, {
        cluster: 'dev',
        jobId: submitted.jobId,
        known: { state: final.state, reason: final.reason, nodes: final.nodes },
      });
      states.push(tuple(final));
    }
    assert.equal(new Set(states).size, states.length, `each call reported a change: ${states.join(' → ')}`);
    assert.equal(final.state, 'COMPLETED');
    assert.equal(final.move, 'done');
    const result = await run(activities.readJobResult, {
      cluster: 'dev',
      outputPath: submitted.outputPath,
      markerPath: submitted.markerPath,
    });
    assert.equal(result.marker?.exitCode, 0);
    assert.match(result.outputTail, /fine/);
  });

  test('a name that could reach a shell unquoted is refused before anything runs', async () => {
    await assert.rejects(run(activities.submitJob, job('bad;rm -rf')), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'NameInvalid');
      assert.equal(err.nonRetryable, true);
      return true;
    });
  });

  test('one bulk squeue call per interval serves many watched jobs', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      ids.push((await run(activities.submitJob, job(uniqueId(`bulk${i}`), { command: ['sleep', '1'] }))).jobId);
    }
    const watcher = new SlurmWatcher({
      query: createStatusQuery(() => resources.pool.get('dev'), resources.cluster('dev')),
      minIntervalMs: 200,
      maxIntervalMs: 1000,
      maxCallsPerMinute: 120,
    });
    const started = Date.now();
    try {
      for (const id of ids) watcher.register(id);
      await waitUntil(
        'all 8 jobs to finish',
        () => (ids.every((id) => watcher.current(id)?.final) ? true : undefined),
        60_000,
      );
      for (const id of ids) assert.equal(watcher.current(id)?.state, 'COMPLETED');
      // 8 jobs watched for seconds, yet no more than one call per 500 ms (120 calls/min cap).
      const bound = Math.floor((Date.now() - started) / 500) + 1;
      assert.ok(
        watcher.stats.calls >= 2 && watcher.stats.calls <= bound,
        `expected 2..${bound} status calls, got ${watcher.stats.calls}`,
      );
      assert.equal(watcher.stats.failures, 0);
    } finally {
      watcher.close();
    }
  });
});
