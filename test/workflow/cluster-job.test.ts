/**
 * clusterJob end to end: the real Temporal dev server, a real worker with CryoEtPlugin,
 * real activities over SSH (the dev sshd on 127.0.0.1) to the real single-host Slurm.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CryoEtPlugin } from '../../src/plugin.js';
import { ErrorType, hasErrorType } from '../../src/errors.js';
import { CryoSlurmJobId } from '../../src/search-attributes.js';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { buildSqueueArgs } from '../../src/slurm/squeue-format.js';
import { parseSqueue } from '../../src/slurm/parse-squeue.js';
import { shellJoin } from '../../src/shell/quote.js';
import { devConfig, startTemporal, uniqueId, waitUntil } from '../helpers/env.js';
import { dependencyMovedSignal } from '../../src/workflows/operations.js';
import type { CryoConfig } from '../../src/config.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

describe('clusterJob on the dev cluster', () => {
  let env: TestWorkflowEnvironment;
  let config: CryoConfig;
  let worker: Worker;
  let plugin: CryoEtPlugin;
  let running: Promise<void>;
  const taskQueue = uniqueId('tq-cluster-job');

  before(async () => {
    [env, config] = await Promise.all([startTemporal(), devConfig()]);
    plugin = new CryoEtPlugin({ config });
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue, plugins: [plugin] });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running;
    await env?.teardown();
  });

  const input = (step: string, command: string[], gres = 'gpu:t4:1'): ClusterJobInput => ({
    step,
    placement: {
      ladder: [{ cluster: 'dev', partition: 'gpu', gres, timeScale: 1 }],
      hangAfterMs: 60_000,
      onExhausted: 'fail',
    },
    command,
  });

  async function slurmState(jobId: string): Promise<string | undefined> {
    const result = await plugin.resources.pool
      .get('dev')
      .exec(shellJoin(buildSqueueArgs([jobId])), { timeoutMs: 10_000 });
    return parseSqueue(result.stdout)[0]?.state;
  }

  test('submits sbatch over SSH, waits for the job and reads its output', async () => {
    const workflowId = `cryoet/test/${uniqueId('e2e')}`;
    const result: ClusterJobResult = await env.client.workflow.execute('clusterJob', {
      taskQueue,
      workflowId,
      args: [input('hello', ['bash', '-c', 'echo "hello from $SLURM_JOB_ID gpus=$CUDA_VISIBLE_DEVICES"'])],
    });
    assert.equal(result.final.state, 'COMPLETED');
    assert.equal(result.result.marker?.exitCode, 0);
    assert.equal(result.result.marker?.jobId, result.job.jobId);
    assert.match(result.result.outputTail, new RegExp(`hello from ${result.job.jobId} gpus=\\d`));
    assert.equal(result.job.reattached, false);
    const described = await env.client.workflow.getHandle(workflowId).describe();
    assert.equal(described.typedSearchAttributes.get(CryoSlurmJobId), result.job.jobId);
  });

  test('a second run with the same workflow id re-attaches to the job instead of submitting again', async () => {
    const workflowId = `cryoet/test/${uniqueId('idem')}`;
    const args = [input('once', ['bash', '-c', 'echo ran'])];
    const first: ClusterJobResult = await env.client.workflow.execute('clusterJob', { taskQueue, workflowId, args });
    const second: ClusterJobResult = await env.client.workflow.execute('clusterJob', { taskQueue, workflowId, args });
    assert.equal(second.job.jobId, first.job.jobId);
    assert.equal(second.job.reattached, true);
  });

  test('a failing command fails the workflow with JobFailed and the exit code', async () => {
    const workflowId = `cryoet/test/${uniqueId('fail')}`;
    await assert.rejects(
      env.client.workflow.execute('clusterJob', {
        taskQueue,
        workflowId,
        args: [input('fails', ['bash', '-c', 'echo boom >&2; exit 3'])],
      }),
      (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(err.cause instanceof ApplicationFailure);
        assert.equal(err.cause.type, 'JobFailed');
        assert.match(err.cause.message, /ended FAILED.*exit 3.*boom/s);
        return true;
      },
    );
  });

  test('a GPU type no node has is refused at once, without retries: the only rung is impossible', async () => {
    const workflowId = `cryoet/test/${uniqueId('reject')}`;
    await assert.rejects(
      env.client.workflow.execute('clusterJob', {
        taskQueue,
        workflowId,
        args: [input('h100', ['true'], 'gpu:h100:1')],
      }),
      (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        const cause = err.cause;
        assert.ok(cause instanceof ApplicationFailure, `expected the workflow's own failure, got ${err.cause}`);
        assert.equal(cause.type, 'LadderExhausted');
        assert.match(
          cause.message,
          new RegExp(
            'rung 1 \\(dev/gpu, gpu:h100:1\\): refused by sbatch: ' +
              '.*(Requested node configuration is not available|Invalid generic resource)',
          ),
        );
        return true;
      },
    );
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = history.events?.filter((e) => e.activityTaskScheduledEventAttributes) ?? [];
    assert.equal(scheduled.length, 1);
    const started = history.events?.find((e) => e.activityTaskStartedEventAttributes);
    assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 1);
  });

  test('a workflow id outside the job-key grammar fails the workflow at once (no stuck task)', async () => {
    const workflowId = `cryoet/test/${uniqueId('bad')}.v2`;
    await assert.rejects(
      env.client.workflow.execute('clusterJob', {
        taskQueue,
        workflowId,
        args: [input('x', ['true'])],
        workflowTaskTimeout: '10 seconds',
      }),
      (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(err.cause instanceof ApplicationFailure);
        assert.equal(err.cause.type, 'NameInvalid');
        assert.match(err.cause.message, /workflow id .*\.v2/);
        return true;
      },
    );
  });

  test(
    'a job queued behind another (afterJobs) waits in Slurm for it, ' +
      'is not taken for a hang, and starts once it completed',
    async () => {
      const first = await env.client.workflow.start('clusterJob', {
        taskQueue,
        workflowId: `cryoet/test/${uniqueId('before')}`,
        args: [input('before', ['sleep', '4'])],
      });
      const firstJob = await waitUntil('the first job to be submitted', async () =>
        (await first.describe()).typedSearchAttributes.get(CryoSlurmJobId),
      );
      // hangAfter 1 s: the dependency wait lasts longer, and must not count as a capacity wait.
      const queued = {
        ...input('behind', ['bash', '-c', 'date +%s.%N']),
        afterJobs: [firstJob],
        placement: { ...input('x', []).placement, hangAfterMs: 1000 },
      };
      const result: ClusterJobResult = await env.client.workflow.execute('clusterJob', {
        taskQueue,
        workflowId: `cryoet/test/${uniqueId('behind')}`,
        args: [queued],
      });
      await first.result();
      const kinds = result.record.events.map((e) => `${e.kind}${e.reason ? `(${e.reason})` : ''}`);
      assert.ok(kinds.includes('observed(Dependency)'), kinds.join(' '));
      assert.ok(!kinds.some((k) => k.startsWith('hung')), kinds.join(' '));
      assert.match(result.record.events[0]!.note ?? '', new RegExp(`queued behind job\\(s\\) ${firstJob}$`));
      const rows = (
        await plugin.resources.pool
          .get('dev')
          .exec(
            shellJoin([
              'sacct',
              '-X',
              '-n',
              '-P',
              '-j',
              `${firstJob},${result.job.jobId}`,
              '-o',
              'JobID,State,Start,End',
            ]),
            { timeoutMs: 10_000 },
          )
      ).stdout
        .trim()
        .split('\n')
        .map((l) => l.split('|'));
      const [before, behind] = [rows.find((r) => r[0] === firstJob)!, rows.find((r) => r[0] === result.job.jobId)!];
      assert.equal(before[1], 'COMPLETED');
      assert.ok(
        behind[2]! >= before[3]!,
        `queued job started ${behind[2]}, before the job it waited for ended ${before[3]}`,
      );
    },
  );

  test('a job queued behind one that fails never runs: the workflow fails with DependencyFailed', async () => {
    const first = await env.client.workflow.start('clusterJob', {
      taskQueue,
      workflowId: `cryoet/test/${uniqueId('fails-first')}`,
      args: [input('fails-first', ['bash', '-c', 'sleep 2; exit 4'])],
    });
    const firstJob = await waitUntil('the first job to be submitted', async () =>
      (await first.describe()).typedSearchAttributes.get(CryoSlurmJobId),
    );
    const workflowId = `cryoet/test/${uniqueId('orphaned')}`;
    await assert.rejects(
      env.client.workflow.execute('clusterJob', {
        taskQueue,
        workflowId,
        args: [{ ...input('orphaned', ['touch', '/tmp/cryoet-must-not-run']), afterJobs: [firstJob] }],
      }),
      (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(err.cause instanceof ApplicationFailure);
        assert.equal(err.cause.type, 'DependencyFailed');
        assert.match(
          err.cause.message,
          new RegExp(`queued behind job\\(s\\) ${firstJob}, and one of them did not complete .*it never ran`),
        );
        return true;
      },
    );
    await assert.rejects(first.result());
    // Submitted again behind the failed job, sbatch itself refuses: the same failure, not a refused rung.
    await assert.rejects(
      env.client.workflow.execute('clusterJob', {
        taskQueue,
        workflowId: `${workflowId}-late`,
        args: [{ ...input('late', ['true']), afterJobs: [firstJob] }],
      }),
      (err: unknown) => err instanceof WorkflowFailedError && hasErrorType(err, ErrorType.DependencyFailed),
    );
  });

  test(
    'a job queued behind one that is replaced follows the new one: ' + 're-pointed in Slurm, the same job, COMPLETED',
    async () => {
      const sh = async (argv: string[]) =>
        (await plugin.resources.pool.get('dev').exec(shellJoin(argv), { timeoutMs: 10_000 })).stdout.trim();
      // The job it waits for, held so it cannot end before the follower is queued behind it.
      const old = await sh(['sbatch', '--parsable', '--hold', '-p', 'gpu', '-o', '/dev/null', '--wrap', 'true']);
      const workflowId = `cryoet/test/${uniqueId('follows')}`;
      const args: ClusterJobInput = { ...input('follows', ['true']), afterJobs: [old], followMovedDependencies: true };
      const handle = await env.client.workflow.start('clusterJob', { taskQueue, workflowId, args: [args] });
      const jobId = await waitUntil('the follower to be queued', async () =>
        (await handle.describe()).typedSearchAttributes.get(CryoSlurmJobId),
      );
      // Replaced, as a relaxed or reclaimed step's job is: Slurm can never satisfy afterok:<old>.
      await sh(['scancel', old]);
      const reason = () => sh(['squeue', '-h', '-j', jobId, '-o', '%r']);
      await waitUntil('DependencyNeverSatisfied', async () =>
        (await reason()) === 'DependencyNeverSatisfied' ? true : undefined,
      );
      const replacement = await sh(['sbatch', '--parsable', '-p', 'gpu', '-o', '/dev/null', '--wrap', 'sleep 1']);
      await handle.signal(dependencyMovedSignal, { from: old, to: replacement });
      const result: ClusterJobResult = await handle.result();
      assert.equal(result.job.jobId, jobId, 'the same Slurm job ran');
      assert.equal(result.final.state, 'COMPLETED');
      const moved = result.record.events.filter((e) => e.kind === 'moved');
      assert.equal(moved.length, 1);
      assert.match(moved[0]!.note ?? '', new RegExp(`queued behind job\\(s\\) ${replacement} now, not ${old}`));
      assert.equal(result.record.events.filter((e) => e.kind === 'submitted' || e.kind === 'resubmitted').length, 1);
      const rows = (await sh(['sacct', '-X', '-n', '-P', '-j', `${replacement},${jobId}`, '-o', 'JobID,Start,End']))
        .split('\n')
        .map((l) => l.split('|'));
      const times = Object.fromEntries(rows.map(([id, start, end]) => [id, { start: start!, end: end! }]));
      assert.ok(
        times[jobId]!.start >= times[replacement]!.end,
        `the follower started ${times[jobId]!.start}, before the replacement ended ${times[replacement]!.end}`,
      );
    },
  );

  test('cancelling the workflow cancels the Slurm job', async () => {
    const workflowId = `cryoet/test/${uniqueId('cancel')}`;
    const handle = await env.client.workflow.start('clusterJob', {
      taskQueue,
      workflowId,
      args: [input('long', ['sleep', '600'])],
    });
    const jobId = await waitUntil('the job to be submitted', async () =>
      (await handle.describe()).typedSearchAttributes.get(CryoSlurmJobId),
    );
    await waitUntil('the job to run', async () => ((await slurmState(jobId)) === 'RUNNING' ? true : undefined));
    await handle.cancel();
    await assert.rejects(handle.result());
    await waitUntil('scancel to reach Slurm', async () =>
      (await slurmState(jobId)) === 'CANCELLED' ? true : undefined,
    );
  });
});
