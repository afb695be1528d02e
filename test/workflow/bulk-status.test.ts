/**
 * Scheduler load does not grow with the number of jobs: 5 and then 50 concurrent
 * clusterJobs on the dev cluster, one worker, one shared watcher. The watcher's status
 * calls per minute stay under the configured cap either way, and each call covers every
 * watched job.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { uniqueId } from '../helpers/env.js';
import { ladder, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';

describe('bulk status', () => {
  let h: WorkerHarness;
  before(async () => {
    h = await startWorkerHarness();
  });
  after(async () => {
    await h?.stop();
  });

  async function runBatch(count: number): Promise<{ calls: number; minutes: number }> {
    const watcher = h.plugin.resources.watcher('dev');
    const callsBefore = watcher.stats.calls;
    const started = Date.now();
    const prefix = uniqueId(`bulk${count}`);
    const results: ClusterJobResult[] = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        h.env.client.workflow.execute('clusterJob', {
          taskQueue: h.taskQueue,
          workflowId: `cryoet/test/${prefix}-${i}`,
          // Eight fake T4s for all: most jobs queue (Resources), so a long hangAfter.
          args: [{ step: 'bulk', placement: ladder(['gpu:t4:1'], 600_000), command: ['sleep', '1'] }],
        }),
      ),
    );
    for (const r of results) assert.equal(r.final.state, 'COMPLETED');
    assert.equal(watcher.stats.failures, 0);
    return { calls: watcher.stats.calls - callsBefore, minutes: (Date.now() - started) / 60_000 };
  }

  test('status calls per minute stay flat from 5 to 50 concurrent jobs', async () => {
    const cap = h.config.clusters['dev']!.maxStatusCallsPerMinute;
    const small = await runBatch(5);
    const large = await runBatch(50);
    const rate = (b: { calls: number; minutes: number }) => b.calls / b.minutes;
    // One call per floor interval at most (plus the first call of the batch).
    assert.ok(rate(small) <= cap * 1.1 + 1 / small.minutes, `5 jobs: ${rate(small).toFixed(1)} calls/min, cap ${cap}`);
    assert.ok(rate(large) <= cap * 1.1 + 1 / large.minutes, `50 jobs: ${rate(large).toFixed(1)} calls/min, cap ${cap}`);
    // Far fewer calls than jobs × polls: 50 jobs shared each call.
    assert.ok(large.calls < 50, `50 jobs took ${large.calls} status calls`);
    console.log(
      `bulk status: 5 jobs ${small.calls} calls in ${(small.minutes * 60).toFixed(1)} s; ` +
        `50 jobs ${large.calls} calls in ${(large.minutes * 60).toFixed(1)} s`,
    );
  });
});
