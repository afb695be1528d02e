/**
 * Chaos against the real stack, part 1: the machines under a campaign disappear. A
 * Temporal dev server with a SQLite file, the SECOND dev Slurm cluster `dev2` (its
 * slurmctld, slurmd m1/m2 and sshd are ours to break; `dev` is shared and never touched),
 * the worker as its own process, the CPU AreTomo2 stand-in and RELION 3.1 on the fast
 * synthetic dataset.
 *
 * One campaign goes through these faults in sequence, each once, bounded in time:
 *   reconstruct — slurmctld stopped for 15 s with campaign jobs both PENDING and RUNNING
 *     (a blocker job holds all but one CPU, so the reconstructs queue), and sshd cut while
 *     a remote command runs (the worker's squeue, hanging on the dead controller);
 *   refine — the worker SIGKILLed mid-job; the Temporal server SIGKILLed and started again
 *     on its SQLite file; sshd cut while polling; the refine's node lost (its slurmd and
 *     job processes SIGKILLed: Slurm marks it DOWN after SlurmdTimeout, the job ends
 *     NODE_FAIL) and the refine resumes on the other node from its newest complete iteration.
 * Then: it completed; from Slurm's own records each job name (the idempotency key of one
 * attempt) has exactly one job id and no accepted submission went unseen; no completed step
 * ran again; every output's sha256 in the run record is the file's; the refined map still
 * matches the ground truth; and the same campaign id started again — while it ran and once
 * it completed — is refused, one run.
 *
 * A second, short case: sshd cut while a submit runs and slurmctld is down; the remote
 * submit script outlives the connection, and a retry must still not make a second job.
 *
 * Worker SIGKILLs at every stage boundary: chaos-boundaries.test.ts. Output folder
 * unwritable or full: chaos-output.test.ts. Many campaigns with random faults: npm run soak.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { campaignInput, type CampaignInput } from '../../src/campaign/input.js';
import { startCampaign } from '../../src/client.js';
import { CHECK_TRUTH, EMBEDDED_PYTHON } from '../../src/embedded.js';
import type { CryoConfig } from '../../src/config.js';
import type { RunRecord } from '../../src/model/campaign-status.js';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import {
  chaosWorkers,
  checkCampaign,
  cutSsh,
  DEV2,
  dev2Cluster,
  ensureDev2,
  FAST_DATASET,
  fastCampaignSpec,
  healDev2,
  resetDev2,
  holdCpus,
  loseNode,
  makeFastDataset,
  refineOnDisk,
  resultThroughOutages,
  slurm2,
  SlurmLedger,
  stageOf,
  startChaosEnv,
  startSlurmctld,
  stopSlurmctld,
  type ChaosEnv,
  type NodeLoss,
  type SshCut,
  type WorkerSupervisor,
} from '../helpers/chaos.js';
import { repoRoot, uniqueId } from '../helpers/env.js';

const TILT_SERIES = ['TS_01', 'TS_03', 'TS_43', 'TS_45', 'TS_54'];
/** Bound on the campaign (about 3 min here on an idle machine). */
const CAMPAIGN_LIMIT_MS = 12 * 60_000;
const CTLD_DOWN_MS = 15_000;
const SSH_DOWN_MS = 3000;

/** A fault the test injected: what, when (s after the start), the campaign's stage, what it hit. */
interface Fault {
  readonly kind: string;
  readonly atS: number;
  readonly stage?: string;
  readonly detail?: string;
}

// dev2 is this file's (and failover.test.ts's) alone: up for it, down after it, as npm test expects.
before(() => {
  ensureDev2();
});
after(() => {
  dev2Cluster('stop');
});

describe('chaos: a campaign whose machines disappear (dev2)', () => {
  let env: ChaosEnv;
  let config: CryoConfig;
  let input: CampaignInput;
  let supervisor: WorkerSupervisor;
  const ledger = new SlurmLedger();
  const faults: Fault[] = [];
  const blockers: string[] = [];
  const cuts: SshCut[] = [];
  let record: RunRecord | undefined;
  let failure: unknown;
  let secondStartWhileRunning: unknown;
  let loss: NodeLoss | undefined;
  let ctldSaw: { running: string[]; pending: string[] } | undefined;
  let t0 = 0;

  before(
    async () => {
      makeFastDataset();
      await resetDev2();
      env = await startChaosEnv(join(repoRoot, '.dev', 'chaos', uniqueId('infra')));
      ({ config, supervisor } = await chaosWorkers(env, 'infra', []));
      input = campaignInput(config, fastCampaignSpec(), uniqueId('chaos'));
      const handle = env.client.workflow.getHandle(input.id);
      const note = async (kind: string, detail?: string) =>
        faults.push({
          kind,
          atS: Math.round((Date.now() - t0) / 1000),
          stage: (await stageOf(handle)) ?? '?',
          ...(detail ? { detail } : {}),
        });

      ledger.start(1000);
      // All CPUs but one held: the campaign's reconstructs queue behind each other, PENDING.
      blockers.push(await holdCpus('m2', 8), await holdCpus('m1', 7));
      supervisor.start();
      t0 = Date.now();
      await startCampaign(env.client, config, input);
      secondStartWhileRunning = await startCampaign(env.client, config, input).then(
        () => 'started',
        (err: unknown) => err,
      );

      let settled = false;
      const outcome = resultThroughOutages(handle, CAMPAIGN_LIMIT_MS)
        .then(
          (r) => (record = r),
          (err: unknown) => (failure = err),
        )
        .finally(() => (settled = true));
      /** Waits for `check`, bounded; gives up, saying so, if the campaign ended first. */
      const until = async (what: string, check: () => Promise<boolean> | boolean, limitMs = 6 * 60_000) => {
        const deadline = Date.now() + limitMs;
        while (!(await check())) {
          if (settled)
            throw new Error(`the campaign ended (${failure ? String(failure) : 'completed'}) before ${what}`);
          if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
          await sleep(200);
        }
      };
      const jobsNow = async () =>
        (await slurm2(['squeue', '-h', '-t', 'all', '-o', '%i|%j|%T|%N']).catch(() => ''))
          .split('\n')
          .map((l) => l.split('|'))
          .filter(([, name]) => name?.startsWith(`cryoet.${input.id}.`))
          .map(([id, name, state, nodes]) => ({ id: id!, name: name!, state: state!, nodes: nodes ?? '' }));
      const refineRunning = async () =>
        (await jobsNow()).find((j) => j.name.includes('.refine.') && j.state === 'RUNNING');
      const iteration = () => refineOnDisk(input.layout.dir).newestComplete ?? -1;

      try {
        // Reconstruct: slurmctld down with jobs pending and running; SSH cut during a remote command meanwhile.
        await until('reconstruct jobs both running and pending', async () => {
          const jobs = (await jobsNow()).filter((j) => j.name.includes('.reconstruct.'));
          const running = jobs.filter((j) => j.state === 'RUNNING').map((j) => j.id);
          const pending = jobs.filter((j) => j.state === 'PENDING').map((j) => j.id);
          if (running.length > 0 && pending.length > 0) ctldSaw = { running, pending };
          return ctldSaw !== undefined;
        });
        await stopSlurmctld();
        const ctldDownAt = Date.now();
        await note(
          'slurmctld stopped',
          `reconstruct jobs running ${ctldSaw!.running.join(',')}, pending ${ctldSaw!.pending.join(',')}`,
        );
        cuts.push(await cutSsh(SSH_DOWN_MS, { waitForExecMs: 10_000 }));
        await note(
          'sshd cut during an exec',
          `${cuts[0]!.connections} connection(s); running: ${cuts[0]!.execsInFlight.join(',') || 'none'}`,
        );
        await sleep(Math.max(0, CTLD_DOWN_MS - (Date.now() - ctldDownAt)));
        await startSlurmctld();
        await note('slurmctld started', `down ${Math.round((Date.now() - ctldDownAt) / 1000)} s`);
        await slurm2(['scancel', ...blockers]);

        // Refine: worker killed mid-job, Temporal server killed, SSH cut while polling, node lost.
        await until(
          'the refine running at iteration 1',
          async () => iteration() >= 1 && (await refineRunning()) !== undefined,
        );
        await supervisor.killCurrent();
        await note('worker SIGKILL mid-job', `refine at iteration ${iteration()}`);
        await until('the refine at iteration 2', () => iteration() >= 2);
        await note('Temporal server SIGKILL', `refine at iteration ${iteration()}`);
        await env.server.kill9();
        await sleep(3000);
        await env.server.start();
        await note('Temporal server started on its SQLite file');
        cuts.push(await cutSsh(SSH_DOWN_MS));
        await note(
          'sshd cut during polling',
          `${cuts[1]!.connections} connection(s); running: ${cuts[1]!.execsInFlight.join(',') || 'none'}`,
        );
        let before: { id: string; nodes: string } | undefined;
        await until(
          'the refine running at iteration 3',
          async () => iteration() >= 3 && (before = await refineRunning()) !== undefined,
        );
        loss = await loseNode(before!.nodes);
        await note(
          'node lost (slurmd and job SIGKILL)',
          `${loss.node}: job ${loss.jobs.join(',')}, ${loss.killed} processes, refine at iteration ${iteration()}`,
        );
        await until('the refine running again as another job', async () => {
          const again = await refineRunning();
          return again !== undefined && again.id !== before!.id;
        });
        await note('refine running again');
        await healDev2();
      } catch (err) {
        // A fault that could not be injected: end the campaign now rather than wait it out.
        await handle.terminate(`chaos test: ${String(err)}`).catch(() => undefined);
        await outcome;
        throw err;
      }
      await outcome;
      await ledger.poll(); // the final states
    },
    { timeout: CAMPAIGN_LIMIT_MS + 60_000 },
  );

  after(async () => {
    if (blockers.length > 0) await slurm2(['scancel', ...blockers]).catch(() => '');
    await ledger.stop().catch(() => undefined);
    await supervisor?.stop();
    await healDev2().catch(() => undefined);
    // The figures RELIABILITY.md quotes.
    const verdict = record ? 'completed' : `failed: ${String(failure)}`;
    console.log(`chaos campaign ${input?.id}: ${verdict} in ${Math.round((Date.now() - t0) / 1000)} s`);
    for (const f of faults)
      console.log(`  ${String(f.atS).padStart(4)} s  ${f.kind} [${f.stage}]${f.detail ? `: ${f.detail}` : ''}`);
    console.log(`  workers: ${supervisor?.lives.map((l) => l.end).join(' ')}`);
    await env?.close();
    supervisor?.assertNoFailedWorkflowTasks();
  });

  test('the campaign completed and every fault was injected once', () => {
    assert.equal(failure, undefined, String(failure));
    assert.ok(record);
    assert.ok(
      ctldSaw && ctldSaw.running.length > 0 && ctldSaw.pending.length > 0,
      'slurmctld stopped with jobs running and pending',
    );
    assert.equal(cuts.length, 2);
    assert.ok(cuts[0]!.execsInFlight.length > 0, 'the first SSH cut hit a running remote command');
    // The first cut must hit the worker's connection mid-exec; the second may find the pool between
    // connections (then the fault is sshd down while polling: the next connect fails and is retried).
    assert.ok(cuts[0]!.connections > 0, "the first SSH cut dropped the worker's connection");
    assert.equal(supervisor.lives.filter((l) => l.end === 'killed').length, 1, 'one worker SIGKILL mid-job');
    assert.ok(
      supervisor.lives.slice(0, -1).every((l) => l.end === 'killed'),
      `worker ends: ${supervisor.lives.map((l) => l.end ?? 'running').join(' ')}`,
    );
    assert.equal(env.server.starts, 2, 'the Temporal server was SIGKILLed and started once');
    assert.ok(loss && loss.jobs.length === 1 && loss.killed > 1, "the refine's node was lost with its job processes");
  });

  test("Slurm's records: every attempt submitted exactly once, no accepted submission unseen", () => {
    const jobs = ledger.of(input.id);
    const check = checkCampaign(record!, jobs);
    assert.deepEqual(check.duplicates, [], 'a job name (one attempt) with two job ids');
    const names = jobs.map((j) => j.name.slice(`cryoet.${input.id}.`.length)).sort();
    // The postprocess was queued behind refine-1, which lost its node: it stayed pending and
    // was re-pointed at refine-2 (scontrol update), one job that ran once.
    assert.deepEqual(
      names,
      [
        'extract.extract-1',
        'postprocess.postprocess-1',
        'probe.probe-1',
        ...TILT_SERIES.map((ts) => `${ts}.reconstruct.reconstruct-1`),
        'refine.refine-1',
        'refine.refine-2',
      ].sort(),
    );
    const logged = ledger.submittedIds();
    assert.deepEqual(
      logged.filter((id) => !ledger.jobs.has(id)),
      [],
      'submissions slurmctld accepted that no squeue snapshot saw',
    );
    for (const j of jobs) assert.ok(logged.includes(j.id), `job ${j.id} (${j.name}) is not in slurmctld's log`);
    for (const j of jobs) assert.equal(j.lastState, j.name.endsWith('refine-1') ? 'NODE_FAIL' : 'COMPLETED', j.name);
  });

  test('no completed step ran again', () => {
    assert.deepEqual(checkCampaign(record!, ledger.of(input.id)).rerunSteps, []);
    const steps = record!.steps;
    assert.deepEqual(steps.map((s) => s.step).sort(), [
      'extract',
      'postprocess',
      'probe',
      'reconstruct',
      'reconstruct',
      'reconstruct',
      'reconstruct',
      'reconstruct',
      'refine',
    ]);
    for (const s of steps)
      assert.equal(
        s.jobIds.length,
        s.step === 'refine' ? 2 : 1,
        `${s.step} ${s.tiltSeries ?? ''}: jobs ${s.jobIds.join(',')}`,
      );
    assert.deepEqual(
      record!.tiltSeries.filter((t) => t.tomogram).map((t) => t.name),
      TILT_SERIES,
    );
  });

  test('the refine lost its node via SlurmdTimeout and resumed from its newest complete iteration elsewhere', () => {
    const refine = record!.steps.find((s) => s.step === 'refine')!;
    const lost = refine.events.find((e) => e.kind === 'lost');
    const resumed = refine.events.find((e) => e.kind === 'resumed');
    assert.ok(lost && resumed, refine.events.map((e) => e.kind).join(','));
    assert.equal(lost.state, 'NODE_FAIL');
    assert.ok((resumed.iteration ?? -1) >= 3, `resumed from iteration ${resumed.iteration}`);
    assert.ok((resumed.redone ?? []).length <= 1, `redone: ${resumed.redone}`);
    assert.equal(refine.reclaims, 1);
    assert.notEqual(refine.node, loss!.node);
    assert.deepEqual(
      record!.excludedNodes?.map((e) => [e.node, e.step]),
      [[loss!.node, 'refine']],
    );
    const map = JSON.parse(
      execFileSync(
        EMBEDDED_PYTHON,
        [
          CHECK_TRUTH,
          'map',
          '--map',
          join(input.layout.dir, 'Refine3D', 'run_class001.mrc'),
          '--truth',
          join(DEV2.dir, 'data', FAST_DATASET, 'truth', 'particle_refine.mrc'),
        ],
        { encoding: 'utf8' },
      ),
    ) as Record<string, number>;
    assert.ok(map['ccTruth']! > 0.9, `the resumed refine's map vs the truth: cc ${map['ccTruth']}`);
  });

  test("every output's sha256 in the run record is the file's; the record on disk is the result", () => {
    const check = checkCampaign(record!, ledger.of(input.id));
    assert.ok(record!.outputs.length >= TILT_SERIES.length + 7);
    assert.deepEqual(check.checksumMismatches, []);
    assert.equal(check.recordMismatch, false);
  });

  test('the same campaign id started twice: refused while it ran and once it completed; one run', async () => {
    assert.ok(
      secondStartWhileRunning instanceof WorkflowExecutionAlreadyStartedError,
      `second start while running: ${String(secondStartWhileRunning)}`,
    );
    const jobsBefore = ledger.of(input.id).length;
    await assert.rejects(startCampaign(env.client, config, input), WorkflowExecutionAlreadyStartedError);
    const runs: string[] = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = "${input.id}"` })) runs.push(w.runId);
    assert.equal(runs.length, 1, `runs of ${input.id}: ${runs.join(', ')}`);
    await sleep(2000);
    await ledger.poll();
    assert.equal(ledger.of(input.id).length, jobsBefore, 'no job submitted by the refused start');
  });
});

describe('chaos: SSH cut during a submit while slurmctld is down (dev2)', () => {
  let env: ChaosEnv;
  let supervisor: WorkerSupervisor;
  let taskQueue = '';

  before(async () => {
    await resetDev2();
    env = await startChaosEnv(join(repoRoot, '.dev', 'chaos', uniqueId('submit-cut')));
    let config: CryoConfig;
    ({ config, supervisor } = await chaosWorkers(env, 'submit-cut', []));
    taskQueue = config.temporal.taskQueue;
    supervisor.start();
  });
  after(async () => {
    await supervisor?.stop();
    await healDev2().catch(() => undefined);
    await env?.close();
    supervisor?.assertNoFailedWorkflowTasks();
  });

  // The cut leaves the remote submit script running: it must never go on to sbatch a job
  // that a retry submits again (found by an earlier run of this file: three reconstructs
  // submitted twice, when the look-up read "squeue failed" as "no such job").
  test('one job, however many tries the submit took', async () => {
    await stopSlurmctld();
    const downAt = Date.now();
    const workflowId = `chaos-${uniqueId('submit-cut')}/probe`;
    const handle = await env.client.workflow.start('clusterJob', {
      taskQueue,
      workflowId,
      args: [
        {
          step: 'probe',
          placement: {
            ladder: [{ cluster: 'dev2', partition: 'gpu', gres: 'gpu:1', timeScale: 1 }],
            hangAfterMs: 600_000,
            onExhausted: 'fail',
          },
          command: ['bash', '-c', 'echo submitted once'],
        } satisfies ClusterJobInput,
      ],
    });
    let cut: SshCut;
    try {
      cut = await cutSsh(SSH_DOWN_MS, { waitForExecMs: 30_000 });
      await sleep(Math.max(0, CTLD_DOWN_MS - (Date.now() - downAt)));
    } finally {
      await startSlurmctld();
    }
    assert.ok(cut.execsInFlight.length > 0, 'the cut hit the submit command');
    const result: ClusterJobResult = await handle.result();
    assert.match(result.result.outputTail, /submitted once/);
    const names = (await slurm2(['squeue', '-h', '-t', 'all', '-o', '%i|%j']))
      .split('\n')
      .filter((l) => l.includes(`|cryoet.${workflowId.replaceAll('/', '.')}.`));
    assert.deepEqual(
      names.map((l) => l.split('|')[0]),
      [result.job.jobId],
      `jobs: ${names.join(', ')}`,
    );
    const history = await handle.fetchHistory();
    const tries =
      history.events?.find((e) => e.activityTaskStartedEventAttributes && true)?.activityTaskStartedEventAttributes
        ?.attempt ?? 0;
    assert.ok(tries > 1, `the submit was retried (${tries} tries)`);
  });
});
