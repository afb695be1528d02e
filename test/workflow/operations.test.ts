/**
 * What operators do to running work, against the real stack: `relax` moves a pending job
 * down its ladder at once (and is refused for a running one), the picks gate waits for
 * `approvePicks` (refused before the gate; a rejection ends the campaign with the reason),
 * and the worker's Prometheus exporter on 127.0.0.1 serves the SDK's and the plugin's
 * metrics.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { campaignInput } from '../../src/campaign/input.js';
import { parseCampaign } from '../../src/campaign/load.js';
import { startCampaign } from '../../src/client.js';
import { EMBEDDED_CAMPAIGN, EMBEDDED_PYTHON, MAKE_DATASET } from '../../src/embedded.js';
import type { ClusterJobResult } from '../../src/workflows/cluster-job.js';
import type { CampaignStatus } from '../../src/model/campaign-status.js';
import { jobRecordQuery } from '../../src/workflows/job-record.js';
import { CryoStatus } from '../../src/search-attributes.js';
import { approvePicksUpdate, campaignStatusQuery, relaxUpdate } from '../../src/workflows/operations.js';
import { freePort, uniqueId, waitUntil } from '../helpers/env.js';
import { installTestRuntime, ladder, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';

describe('operator controls and metrics', () => {
  let h: WorkerHarness;
  let metricsPort: number;
  before(async () => {
    metricsPort = await freePort();
    installTestRuntime({
      telemetryOptions: {
        metrics: { prometheus: { bindAddress: `127.0.0.1:${metricsPort}`, countersTotalSuffix: true } },
      },
    });
    h = await startWorkerHarness();
  });
  after(async () => {
    await h?.stop();
  });

  const start = (step: string, gres: string[], command: string[], hangAfterMs = 600_000) =>
    h.env.client.workflow.start('clusterJob', {
      taskQueue: h.taskQueue,
      workflowId: `cryoet/test/${uniqueId(step)}`,
      args: [{ step, placement: ladder(gres, hangAfterMs), command }],
    });

  test('relax moves a pending job to the next rung now; a running job or the last rung is refused', async () => {
    // hangAfter 10 min: only the operator can move this job.
    const handle = await start('relax', ['gpu:a10g:4', 'gpu:1'], ['bash', '-c', 'sleep 4; echo done']);
    await waitUntil(
      'the pinned job pending',
      async () =>
        (await handle.query(jobRecordQuery)).events.some((e) => e.kind === 'observed' && e.state === 'PENDING') ||
        undefined,
      30_000,
    );
    const answer = await handle.executeUpdate(relaxUpdate, { args: [{ reason: 'spot pool empty, operator test' }] });
    assert.equal(answer.toRung, 1);
    assert.match(answer.toRungDescription, /gpu:1/);
    // The cancelled job is gone from the queue.
    assert.match(await h.slurm(['squeue', '-h', '-t', 'all', '-j', answer.cancelledJobId, '-o', '%T']), /CANCELLED/);
    // Running on the last rung: refused by the validator, with the reason.
    await waitUntil(
      'the relaxed job running',
      async () =>
        (await handle.query(jobRecordQuery)).events.some((e) => e.rung === 1 && e.state === 'RUNNING') || undefined,
      30_000,
    );
    await assert.rejects(handle.executeUpdate(relaxUpdate, { args: [{}] }), (err: Error) => {
      assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
      assert.match(
        String((err as Error & { cause?: Error }).cause?.message),
        /only a pending job can be relaxed|already on the last rung/,
      );
      return true;
    });
    const result: ClusterJobResult = await handle.result();
    const kinds = result.record.events.map((e) => e.kind).filter((k) => k !== 'observed');
    assert.deepEqual(kinds, ['submitted', 'hung', 'relaxed', 'resubmitted', 'completed']);
    assert.match(
      result.record.events.find((e) => e.kind === 'relaxed')!.note ?? '',
      /relaxed by operator: spot pool empty, operator test/,
    );
    assert.equal(result.record.hung[0]!.jobId, answer.cancelledJobId);
  });

  test(
    'the picks gate: refused before the gate, waits at it, ' + 'a rejection ends the campaign with the reason',
    async () => {
      const dataDir = join(h.config.paths.data, 'synthetic-10164-fast');
      execFileSync(EMBEDDED_PYTHON, [MAKE_DATASET, '--out', dataDir, '--size', '128,128,48', '--particles', '8'], {
        stdio: 'ignore',
      });
      const parsed = parseCampaign(readFileSync(EMBEDDED_CAMPAIGN, 'utf8'), 'embedded');
      assert.ok(parsed.ok);
      const spec = {
        ...parsed.spec,
        dataDir: 'synthetic-10164-fast',
        tiltSeries: parsed.spec.tiltSeries.slice(0, 1),
        reconstruction: { ...parsed.spec.reconstruction, volZ: 48 },
        limits: { maxParallelTiltSeries: 1, minTiltSeries: 1 },
        approvePicks: { required: true, timeout: 600_000, onTimeout: 'fail' as const },
      };
      const id = uniqueId('gate');
      const handle = await startCampaign(
        h.env.client,
        { ...h.config, temporal: { ...h.config.temporal, taskQueue: h.taskQueue } },
        campaignInput(h.config, spec, id),
      );
      await assert.rejects(
        handle.executeUpdate(approvePicksUpdate, { args: [{ approve: true, by: 'early' }] }),
        (err: Error & { cause?: Error }) => {
          assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
          assert.match(String(err.cause?.message), /not waiting for picks approval/);
          return true;
        },
      );
      const waiting = await waitUntil(
        'the campaign at the picks gate',
        async () => {
          const s: CampaignStatus = await handle.query(campaignStatusQuery);
          return s.stage === 'picks' ? s : undefined;
        },
        120_000,
        500,
      );
      assert.equal(waiting.picks.state, 'waiting');
      assert.equal(waiting.tiltSeries['TS_01']?.status, 'done');
      assert.equal((await handle.describe()).typedSearchAttributes.get(CryoStatus), 'waiting-approval');
      const answer = await handle.executeUpdate(approvePicksUpdate, {
        args: [{ approve: false, by: 'tester', comment: 'picks off by one box' }],
      });
      assert.deepEqual(answer, { accepted: false });
      await assert.rejects(handle.result(), (err: Error) => {
        assert.ok(err instanceof WorkflowFailedError);
        assert.match(String(err.cause?.message), /picks rejected by tester: picks off by one box/);
        return true;
      });
      const after: CampaignStatus = await handle.query(campaignStatusQuery);
      assert.equal(after.picks.state, 'rejected');
      assert.match(after.error ?? '', /picks rejected/);
      assert.equal((await handle.describe()).typedSearchAttributes.get(CryoStatus), 'failed');
      // Nothing was extracted: no job for the extract step.
      const jobs = await h.slurm(['sacct', '-X', '-n', '-P', '-S', 'now-1hour', '-o', 'JobName%200']);
      assert.ok(!jobs.includes(`${id}.extract`), 'an extract job was submitted');
    },
  );

  test('the Prometheus exporter on 127.0.0.1 serves SDK and cryoet metrics', async () => {
    const text = await waitUntil(
      'cryoet metrics exported',
      async () => {
        const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
        return /cryoet_hangs_relaxed_total/.test(body) && /cryoet_step_cost_usd/.test(body) ? body : undefined;
      },
      20_000,
      500,
    );
    const value = (name: string, label: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(name) && l.includes(label))
        .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
    assert.ok(value('cryoet_jobs_submitted_total', 'step="relax"') >= 2, 'two submissions of the relaxed job');
    assert.equal(value('cryoet_hangs_relaxed_total', 'step="relax"'), 1);
    assert.ok(value('cryoet_step_cost_usd_count', 'step="reconstruct"') >= 1, 'the reconstruct step was costed');
    assert.match(text, /temporal_workflow_completed_total|temporal_workflow_task_execution_latency/);
  });
});
