/**
 * Scheduler edge cases users of other Slurm orchestrators keep hitting, each on the real
 * dev cluster: a job Slurm requeues under the same id, sbatch refusing a rung, slurmctld
 * down for 20 s during submits and polls, a black-hole node, and a job that runs out of
 * time (resubmitted once with twice the time, resuming from its newest iteration).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { jobRecordQuery } from '../../src/workflows/job-record.js';
import type { JobRecord } from '../../src/model/job-record.js';
import { JOB_NAME_PREFIX } from '../../src/slurm/job-key.js';
import { repoRoot, uniqueId, waitUntil } from '../helpers/env.js';
import { ladder, rung, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';

describe('scheduler edge cases on the dev cluster', () => {
  let h: WorkerHarness;
  const resume: string[] = [];
  before(async () => {
    h = await startWorkerHarness();
  });
  after(async () => {
    for (const node of resume)
      await h.slurm(['scontrol', 'update', `NodeName=${node}`, 'State=RESUME']).catch(() => {});
    await h?.stop();
  });

  const start = (name: string, input: ClusterJobInput) =>
    h.env.client.workflow.start('clusterJob', {
      taskQueue: h.taskQueue,
      workflowId: `cryoet/test/${uniqueId(name)}`,
      args: [input],
    });
  const runningNode = (handle: { query: (q: typeof jobRecordQuery) => Promise<JobRecord> }) =>
    waitUntil(
      'the job to run',
      async () => (await handle.query(jobRecordQuery)).events.find((e) => e.state === 'RUNNING' && e.node)?.node,
      30_000,
    );
  /** Every Slurm job id ever submitted for a workflow (squeue keeps finished jobs for MinJobAge). */
  const jobsOf = async (workflowId: string) => {
    const prefix = `${JOB_NAME_PREFIX}${workflowId.replaceAll('/', '.')}.`;
    const rows = (await h.slurm(['squeue', '-h', '-t', 'all', '-o', '%i|%j']))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('|'));
    return rows.filter(([, name]) => name!.startsWith(prefix)).map(([id, name]) => ({ id: id!, name: name! }));
  };
  const showJob = async (jobId: string) => h.slurm(['scontrol', 'show', 'job', jobId]);

  test('same-id requeue: scontrol requeue is followed under the same id, one reclaim, no second job', async () => {
    const handle = await start('requeue', {
      step: 'refine',
      placement: ladder(['gpu:t4:1'], 60_000),
      requeue: true,
      // The second run (SLURM_RESTART_COUNT=1) ends at once.
      command: [
        'bash',
        '-c',
        'echo "run ${SLURM_RESTART_COUNT:-0}"; [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ] || sleep 120',
      ],
    });
    await runningNode(handle);
    const jobId = (await handle.query(jobRecordQuery)).events.find((e) => e.jobId)!.jobId!;
    await h.slurm(['scontrol', 'requeue', jobId]);
    const result: ClusterJobResult = await handle.result();
    const kinds = result.record.events.map((e) => e.kind);
    assert.equal(result.job.jobId, jobId);
    assert.equal(result.record.reclaims, 1, kinds.join(','));
    assert.equal(result.record.attempt, 1);
    assert.equal(kinds.filter((k) => k === 'submitted' || k === 'resubmitted').length, 1);
    assert.ok(kinds.includes('requeued'), kinds.join(','));
    assert.match(result.result.outputTail, /run 1/);
    assert.deepEqual(
      (await jobsOf(handle.workflowId)).map((j) => j.id),
      [jobId],
    );
  });

  test(
    "submit-time rejection: refused rungs are marked impossible with Slurm's message, " +
      'the next rung is taken at once',
    async () => {
      const handle = await start('refused', {
        step: 'extract',
        placement: {
          ladder: [rung('gpu:h100:1'), rung('gpu:1', 'nosuch'), rung('gpu:t4:1')],
          hangAfterMs: 60_000,
          onExhausted: 'fail',
        },
        command: ['true'],
      });
      const result: ClusterJobResult = await handle.result();
      assert.equal(result.record.rung, 2);
      assert.equal(
        result.record.attempt,
        3,
        'each refusal used up its attempt (Slurm keeps refused jobs under their name)',
      );
      assert.deepEqual(
        result.record.refused?.map((r) => r.rung),
        [0, 1],
      );
      assert.match(result.record.refused![0]!.message, /Requested node configuration is not available/);
      assert.match(result.record.refused![1]!.message, /Invalid partition name specified/);
      assert.equal(result.record.events.filter((e) => e.kind === 'refused').length, 2);
      const jobs = await jobsOf(handle.workflowId);
      assert.deepEqual(
        jobs.map((j) => j.name.split('.').at(-1)).sort(),
        ['extract-1', 'extract-3'],
        'a refused record (Slurm keeps the gres one) and the real job',
      );
      assert.equal(jobs.find((j) => j.name.endsWith('extract-3'))!.id, result.job.jobId);
      // No waiting on a refused rung: the whole thing takes about as long as the job.
      const first = Date.parse(result.record.events[0]!.at);
      const submitted = result.record.events.find((e) => e.kind === 'submitted')!;
      assert.ok(Date.parse(submitted.at) - first < 5_000, 'the possible rung was submitted within seconds');
    },
  );

  test('black-hole node: a node that fails a job is excluded from the resubmission and from later jobs', async () => {
    const handle = await start('blackhole', {
      step: 'refine',
      placement: { ...ladder(['gpu:t4:1'], 60_000), excludeNodesForMs: 600_000 },
      command: ['bash', '-c', 'sleep 120'],
      resume: { command: ['bash', '-c', 'echo resumed on $SLURMD_NODENAME'] },
    });
    const node = await runningNode(handle);
    resume.push(node);
    // The node goes down under the job (NODE_FAIL): a black hole until proven otherwise.
    await h.slurm(['scontrol', 'update', `NodeName=${node}`, 'State=DOWN', 'Reason=black-hole']);
    const result: ClusterJobResult = await handle.result();
    await h.slurm(['scontrol', 'update', `NodeName=${node}`, 'State=RESUME']);
    const excluded = result.record.excluded ?? [];
    assert.deepEqual(
      excluded.map((e) => e.node),
      [node],
    );
    assert.match(excluded[0]!.reason, /NODE_FAIL/);
    assert.notEqual(result.final.nodes, node);
    const resubmitted = result.record.events.find((e) => e.kind === 'resubmitted')!;
    assert.match(resubmitted.note ?? '', new RegExp(`excluding ${node}`));
    assert.match(await showJob(result.job.jobId), new RegExp(`ExcNodeList=${node}\\b`));

    // A later job of the same campaign gets the list: it never lands on the node, although it is up again.
    const later = await start('blackhole-later', {
      step: 'postprocess',
      placement: ladder(['gpu:t4:4'], 60_000),
      command: ['true'],
      exclude: excluded,
    });
    const laterResult: ClusterJobResult = await later.result();
    assert.notEqual(laterResult.final.nodes, node);
    assert.match(await showJob(laterResult.job.jobId), new RegExp(`ExcNodeList=${node}\\b`));
    assert.match(laterResult.record.events[0]!.note ?? '', new RegExp(`excluding ${node}`));
  });

  test("a node drained right after its job failed: the failure is the node's, the job goes elsewhere", async () => {
    const handle = await start('drained', {
      step: 'reconstruct',
      placement: { ...ladder(['gpu:t4:1'], 60_000), excludeNodesForMs: 600_000 },
      // Fails once its node is draining; the resubmission succeeds.
      command: [
        'bash',
        '-c',
        'for i in $(seq 60); do sinfo -h -n $SLURMD_NODENAME -o %T | grep -q drain && exit 1; sleep 1; done',
      ],
      resume: { command: ['bash', '-c', 'echo fine on $SLURMD_NODENAME'] },
    });
    const node = await runningNode(handle);
    resume.push(node);
    await h.slurm(['scontrol', 'update', `NodeName=${node}`, 'State=DRAIN', 'Reason=bad-gpu']);
    const result: ClusterJobResult = await handle.result();
    await h.slurm(['scontrol', 'update', `NodeName=${node}`, 'State=RESUME']);
    const lost = result.record.events.find((e) => e.kind === 'lost')!;
    assert.equal(lost.state, 'FAILED');
    assert.match(lost.note ?? '', /bad-gpu/);
    assert.deepEqual(
      result.record.excluded?.map((e) => e.node),
      [node],
    );
    assert.notEqual(result.final.nodes, node);
    assert.match(result.result.outputTail, /fine on /);
  });

  test('a job that fails on a healthy node is its own failure: no resubmission, nothing excluded', async () => {
    const handle = await start('healthy-fail', {
      step: 'extract',
      placement: ladder(['gpu:t4:1'], 60_000),
      command: ['bash', '-c', 'exit 3'],
    });
    await assert.rejects(handle.result(), (err: Error) =>
      /ended FAILED.*exit 3/.test(String((err.cause as Error | undefined)?.message)),
    );
    const record = await handle.query(jobRecordQuery);
    assert.deepEqual(record.excluded, []);
    assert.equal(record.attempt, 1);
  });

  test('slurmctld down for 20 s during submits and polls: nothing lost, nothing submitted twice', async () => {
    const slurmConf = execFileSync('bash', [join(repoRoot, 'scripts/dev-cluster.sh'), 'env'], { encoding: 'utf8' })
      .trim()
      .split('=')[1]!;
    const pidFile = join(dirname(dirname(slurmConf)), 'run', 'slurmctld.pid');
    const input = (n: number): ClusterJobInput => ({
      step: 'extract',
      placement: ladder(['gpu:t4:1'], 600_000),
      command: ['bash', '-c', `sleep 5; echo job ${n}`],
    });
    const before = await Promise.all([1, 2].map((n) => start('ctld-down', input(n))));
    await Promise.all(before.map((handle) => runningNode(handle)));
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    await waitUntil(
      'slurmctld to stop',
      () =>
        h.slurm(['scontrol', 'ping']).then(
          (out) => (/DOWN/.test(out) ? true : undefined),
          () => true,
        ),
      15_000,
    );
    const stoppedAt = Date.now();
    // Submitted while the controller is down: sbatch fails "Unable to contact slurm controller" and is retried.
    const during = await Promise.all([3, 4].map((n) => start('ctld-down', input(n))));
    await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - stoppedAt))));
    execFileSync('bash', [join(repoRoot, 'scripts/dev-cluster.sh'), 'start'], { stdio: 'ignore' });
    const results: ClusterJobResult[] = await Promise.all([...before, ...during].map((handle) => handle.result()));
    for (const [i, result] of results.entries()) {
      assert.match(result.result.outputTail, new RegExp(`job ${i + 1}`));
      assert.equal(result.record.attempt, 1);
    }
    for (const handle of [...before, ...during])
      assert.equal((await jobsOf(handle.workflowId)).length, 1, `${handle.workflowId}: one Slurm job`);
    // The submits made while it was down were retried, not failed.
    for (const handle of during) {
      const history = await handle.fetchHistory();
      const submit = history.events?.find((e) => e.activityTaskStartedEventAttributes);
      assert.ok((submit?.activityTaskStartedEventAttributes?.attempt ?? 0) > 1, 'submit retried');
    }
  });

  test('TIMEOUT: resubmitted once with twice the time, resuming from the newest complete iteration', async () => {
    const dir = `${h.config.clusters['dev']!.workDir}/${uniqueId('timeout')}`;
    const files = (it: string, parts: string[]) => parts.map((p) => `Refine3D/run_it${it}_${p}`).join(' ');
    const all = [
      'optimiser.star',
      'data.star',
      'half1_model.star',
      'half2_model.star',
      'half1_class001.mrc',
      'half2_class001.mrc',
    ];
    const handle = await start('timeout', {
      step: 'refine',
      placement: ladder(['gpu:t4:1'], 600_000),
      timeLimitMinutes: 1,
      command: [
        'bash',
        '-c',
        `mkdir -p ${dir}/Refine3D && cd ${dir} && ` +
          `touch ${files('001', all)} ${files('002', all)} ${files('003', ['optimiser.star'])} && sleep 600`,
      ],
      resume: {
        command: ['bash', '-c', 'echo continue from {{continue_from}}'],
        fromIteration: { dir, outRoot: 'Refine3D/run' },
      },
    });
    const result: ClusterJobResult = await handle.result();
    const timeout = result.record.events.find((e) => e.kind === 'timeout')!;
    assert.ok(timeout, result.record.events.map((e) => e.kind).join(','));
    assert.equal(timeout.state, 'TIMEOUT');
    assert.match(timeout.note ?? '', /time limit 1 min reached; resubmitting with 2 min/);
    assert.equal(result.record.timeouts, 1);
    assert.equal(result.record.attempt, 2);
    const resumed = result.record.events.find((e) => e.kind === 'resumed')!;
    assert.equal(resumed.iteration, 2);
    assert.deepEqual(resumed.redone, [3]);
    assert.match(result.result.outputTail, /continue from Refine3D\/run_it002_optimiser\.star/);
    assert.match(await showJob(result.job.jobId), /TimeLimit=00:02:00/);
  });
});
