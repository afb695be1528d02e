/**
 * `cryoet cancel` at every stage of a campaign, with a real `cryoet worker` serving it, a
 * real Temporal dev server and the dev Slurm cluster over sshd. The campaigns run the
 * SLEEP tool set (bench/peers/sleep-tools.ts: the real tools' flags and files, sleeping
 * instead of computing); the step a test cancels in sleeps far longer than the test, so
 * the stage holds until the cancel comes. Staging holds on a FIFO as AreTomo2's local
 * file (the upload blocks until the test writes it).
 *
 * Each case checks: `cryoet cancel` ends the campaign CANCELLED; no job of the campaign is
 * PENDING or RUNNING in Slurm's records; no workflow of its tree is FAILED or TERMINATED;
 * the status query answers during and after; `cryoet status --json` and `cryoet report
 * --json` list what was running and the Slurm jobs cancelled. Also: cancelling one step
 * (`<id>/refine`) cancels its job, and a cancel sent while no worker is up is carried out
 * when one comes back. The worker's log must never show a failed workflow task.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { campaignInput, type CampaignInput } from '../../src/campaign/input.js';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import { startCampaign } from '../../src/client.js';
import { loadConfig, type CryoConfig } from '../../src/config.js';
import type { CampaignCancellation, CampaignStage, CampaignStatus } from '../../src/model/campaign-status.js';
import { campaignStatusQuery } from '../../src/workflows/operations.js';
import { sleepSpec } from '../../bench/peers/pipeline.js';
import { writeSleepDataset, writeSleepTools, type SleepDurations } from '../../bench/peers/sleep-tools.js';
import { freePort, repoRoot, startTemporal, uniqueId, waitUntil, writeTestConfig } from '../helpers/env.js';
import { spawnWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';
import { failedWorkflowTaskLines, ladder } from '../helpers/worker.js';

/** Seconds a held step sleeps: far past any test here. */
const HOLD = 1800;
const QUICK: SleepDurations = { reconstruct: 1, extract: 1, refineIterations: 2, refineIteration: 1, postprocess: 1 };
const BASE = join(repoRoot, '.dev', 'test-cancel');
const SLURM_CONF = join(repoRoot, '.dev', 'cluster', 'etc', 'slurm.conf');
/** Ceilings on waits for conditions (each measured at a few seconds here). */
const STAGE_WAIT_MS = 180_000;
const SETTLE_MS = 90_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** A Slurm job of a campaign, as squeue / sacct show it. */
interface SlurmJob {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly reason: string;
}

const TSX = import.meta.resolve('tsx');
let env: TestWorkflowEnvironment;
let configFile: string;
let config: CryoConfig;
let taskQueue: string;
let worker: WorkerProcess | undefined;
/** Output of every worker process this file started. */
const workerLogs: (() => string)[] = [];
/** Writers that serve the staging test's FIFO. */
const feeders: ChildProcess[] = [];

function cryoet(args: string[], timeoutMs = 240_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, join(repoRoot, 'src', 'cli.ts'), ...args, '--config', configFile],
      { cwd: repoRoot, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, CRYOET_UI: '' } },
      (err, stdout, stderr) => {
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
          stdout,
          stderr,
          ms: Date.now() - started,
        });
      },
    );
  });
}

/** Every Slurm job whose name is of campaign `id` (squeue -t all, then sacct for the ones it dropped). */
function campaignJobs(id: string): SlurmJob[] {
  const run = (argv: string[]) =>
    execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, SLURM_CONF } });
  const jobs = new Map<string, SlurmJob>();
  const mine = (name: string) => name.startsWith(`cryoet.${id}.`);
  for (const line of run(['sacct', '-X', '-n', '-P', '-S', 'now-2hours', '-o', 'JobID,JobName%300,State,Reason']).split(
    '\n',
  )) {
    const [jobId, name, state, reason] = line.split('|');
    if (jobId && name && mine(name))
      jobs.set(jobId, { id: jobId, name, state: state!.split(' ')[0]!, reason: reason ?? '' });
  }
  // squeue is the controller's live view; it wins where both know the job.
  for (const line of run(['squeue', '-h', '-t', 'all', '-o', '%i|%j|%T|%r']).split('\n')) {
    const [jobId, name, state, reason] = line.split('|');
    if (jobId && name && mine(name)) jobs.set(jobId, { id: jobId, name, state: state!, reason: reason ?? '' });
  }
  return [...jobs.values()];
}

const ACTIVE = /^(PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED|REQUEUED|RESIZING)$/;
/** The step of a job name `cryoet.<id>.<...>.<step>-<attempt>`. */
const stepOf = (job: SlurmJob) => job.name.split('.').at(-1)!.replace(/-\d+$/, '');

/** A campaign with the SLEEP tools of its own folder. */
function sleepCampaign(
  name: string,
  durations: SleepDurations,
  change: (spec: CampaignSpec) => CampaignSpec = (s) => s,
  series = 3,
): CampaignInput {
  const dir = join(BASE, name);
  rmSync(dir, { recursive: true, force: true });
  const tools = writeSleepTools(join(dir, 'tools'), durations, join(dir, 'tools.log'));
  const data = writeSleepDataset(join(BASE, 'data'));
  const id = uniqueId(`cancel-${name}`);
  const built = campaignInput(config, change(sleepSpec(series, { dir: join(BASE, 'data'), ...data })), id);
  return {
    ...built,
    tools: {
      ...built.tools,
      aretomo2Local: tools.aretomo2,
      stageDir: join(dir, 'stage'),
      relion: { ...built.tools.relion, binDir: tools.relionBinDir, mpirun: [tools.mpirun] },
    },
    // The refine on any 4 GPUs (the config's first rung is the pinned a10g that never boots).
    placements: { ...built.placements, refine: ladder(['gpu:4'], 600_000) },
    progressEveryMs: 1000,
  };
}

/** Campaigns this file started: any job of theirs a failed test left behind is cancelled in `after`. */
const started: string[] = [];

async function start(input: CampaignInput): Promise<WorkflowHandle> {
  started.push(input.id);
  return startCampaign(env.client, { ...config, temporal: { ...config.temporal, taskQueue } }, input);
}

/** Waits until the status query shows `stage` and `ready` holds for the campaign's jobs. */
async function atStage(
  handle: WorkflowHandle,
  stage: CampaignStage,
  ready: (jobs: SlurmJob[]) => boolean = () => true,
): Promise<{ status: CampaignStatus; jobs: SlurmJob[] }> {
  return waitUntil(
    `campaign ${handle.workflowId} at stage ${stage}`,
    async () => {
      const status = await handle.query(campaignStatusQuery);
      if (status.error) throw new Error(`campaign ${handle.workflowId} failed at ${status.stage}: ${status.error}`);
      if (status.stage !== stage) return undefined;
      const jobs = campaignJobs(handle.workflowId);
      return ready(jobs) ? { status, jobs } : undefined;
    },
    STAGE_WAIT_MS,
    500,
  );
}

const active = (jobs: SlurmJob[], step: string, state: string) =>
  jobs.filter((j) => stepOf(j) === step && j.state === state);

/** `cryoet cancel`, then every check that holds after any cancel; returns what it recorded. */
async function cancelAndCheck(handle: WorkflowHandle, before: SlurmJob[]): Promise<CampaignCancellation> {
  const id = handle.workflowId;
  const r = await cryoet(['cancel', id, '--json', '--timeout', '3m']);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout) as { workflowStatus: string; cancellation?: CampaignCancellation };
  assert.equal(out.workflowStatus, 'CANCELLED', r.stdout);
  console.log(`cancel ${id}: CANCELLED ${r.ms} ms after cryoet cancel started`);
  const cancellation = out.cancellation!;
  assert.ok(cancellation, `no cancellation record: ${r.stdout}`);
  // Every job that was pending or running is among the ones the campaign says it cancelled.
  const listed = new Set(cancellation.jobsCancelled.map((j) => j.jobId));
  for (const job of before.filter((j) => ACTIVE.test(j.state)))
    assert.ok(
      listed.has(job.id),
      `${job.name} (${job.id}, ${job.state}) not in jobsCancelled ${[...listed].join(',')}`,
    );

  // Slurm's records: nothing of the campaign pending or running, everything cancelled ended CANCELLED.
  const final = await waitUntil(
    `no job of ${id} pending or running`,
    () => {
      const jobs = campaignJobs(id);
      return jobs.some((j) => ACTIVE.test(j.state)) ? undefined : jobs;
    },
    SETTLE_MS,
    500,
  );
  for (const jobId of listed)
    assert.match(final.find((j) => j.id === jobId)?.state ?? 'missing', /^CANCELLED/, `job ${jobId}`);

  // The tree in Temporal: nothing running, nothing failed or terminated.
  const tree = await waitUntil(
    `the workflows of ${id} closed in visibility`,
    async () => {
      const rows: { id: string; status: string }[] = [];
      for await (const info of env.client.workflow.list({ query: `CryoCampaign = ${JSON.stringify(id)}` }))
        rows.push({ id: info.workflowId, status: info.status.name });
      return rows.some((row) => row.status === 'RUNNING') ? undefined : rows;
    },
    SETTLE_MS,
    500,
  );
  for (const row of tree) assert.match(row.status, /^(CANCELLED|COMPLETED)$/, `${row.id}: ${row.status}`);

  // The status query answers after the close (the worker replays it), with the record.
  const after = await handle.query(campaignStatusQuery);
  assert.deepEqual(after.cancellation, cancellation);
  assert.deepEqual(Object.values(after.running), []);

  // cryoet status and report --json, without a worker's help (the memo).
  const status = await cryoet(['status', id, '--json']);
  assert.equal(status.code, 1, status.stderr);
  assert.deepEqual((JSON.parse(status.stdout) as { cancellation: unknown }).cancellation, cancellation);
  const report = await cryoet(['report', id, '--json', '--out', '-']);
  assert.equal(report.code, 0, report.stderr);
  const record = JSON.parse(report.stdout) as { workflowStatus: string; cancellation: CampaignCancellation };
  assert.equal(record.workflowStatus, 'CANCELLED');
  assert.deepEqual(record.cancellation, cancellation);
  return cancellation;
}

describe('cryoet cancel at every stage, with a worker serving the campaign', () => {
  before(async () => {
    mkdirSync(BASE, { recursive: true });
    const port = await freePort();
    env = await startTemporal(port);
    taskQueue = uniqueId('cancel');
    configFile = writeTestConfig(port, taskQueue, '2s');
    config = await loadConfig(configFile);
    worker = await startWorker();
  });

  after(async () => {
    await stopWorker(5000);
    // The whole group: the loop's forked child may sit in open() on the FIFO, not the loop itself.
    for (const feeder of feeders) {
      try {
        process.kill(-feeder.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // A held step sleeps for half an hour: never leave one holding the dev cluster's GPUs.
    const left = started.flatMap((id) =>
      campaignJobs(id)
        .filter((j) => ACTIVE.test(j.state))
        .map((j) => j.id),
    );
    if (left.length > 0) execFileSync('scancel', left, { env: { ...process.env, SLURM_CONF } });
    await env?.teardown();
    const failed = workerLogs.flatMap((log) => failedWorkflowTaskLines(log()));
    assert.deepEqual(failed, [], 'a worker failed a workflow task');
  });

  async function startWorker(): Promise<WorkerProcess> {
    const w = await spawnWorkerProcess(
      [join(repoRoot, 'bin', 'cryoet.js'), 'worker', '--config', configFile],
      'cryoet worker: task queue',
    );
    workerLogs.push(() => w.output());
    return w;
  }

  /**
   * SIGTERM, as an operator stops a worker; SIGKILL if it has not exited after `graceMs`
   * (the staging test's upload, blocked on its FIFO, holds a graceful shutdown: it runs last).
   */
  async function stopWorker(graceMs = 30_000): Promise<void> {
    if (!worker) return;
    const w = worker;
    worker = undefined;
    w.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      console.log(`cancel test: the worker had not stopped ${graceMs} ms after SIGTERM; SIGKILL`);
      w.child.kill('SIGKILL');
    }, graceMs);
    await w.exited;
    clearTimeout(timer);
  }

  test('reconstructing, series running and queued, extract queued ahead: every job cancelled', async () => {
    // Ten series of one GPU each on eight GPUs: eight run, two wait for a GPU.
    const input = sleepCampaign('reconstruct', { ...QUICK, reconstruct: HOLD }, (s) => s, 10);
    const handle = await start(input);
    const { jobs, status } = await atStage(
      handle,
      'reconstruct',
      (j) =>
        active(j, 'reconstruct', 'RUNNING').length > 0 &&
        active(j, 'reconstruct', 'PENDING').length > 0 &&
        active(j, 'extract', 'PENDING').length === 1,
    );
    assert.equal(Object.keys(status.running).filter((k) => k.startsWith('TS_')).length, 10);
    const c = await cancelAndCheck(handle, jobs);
    assert.equal(c.stage, 'reconstruct');
    assert.deepEqual(c.jobsCancelled.map((j) => j.step).sort(), [...Array(10).fill('reconstruct'), 'extract'].sort());
    const after = await handle.query(campaignStatusQuery);
    assert.deepEqual(
      Object.values(after.tiltSeries).map((t) => t.status),
      Array(10).fill('cancelled'),
    );
  });

  test('waiting at the picks gate: cancelled, no job left', async () => {
    const input = sleepCampaign('picks', QUICK, (s) => ({
      ...s,
      approvePicks: { required: true, timeout: 3_600_000, onTimeout: 'fail' },
    }));
    const handle = await start(input);
    const { jobs } = await atStage(handle, 'picks');
    assert.ok(
      jobs.every((j) => j.state === 'COMPLETED'),
      JSON.stringify(jobs),
    );
    const c = await cancelAndCheck(handle, jobs);
    assert.equal(c.stage, 'picks');
    assert.deepEqual(c.jobsCancelled, []);
    assert.ok(c.stepsCompleted >= 4, `steps completed ${c.stepsCompleted}`); // probe + 3 reconstructions
  });

  test('extracting, refine and postprocess queued behind it: all three cancelled', async () => {
    const handle = await start(sleepCampaign('extract', { ...QUICK, extract: HOLD }));
    const { jobs } = await atStage(
      handle,
      'extract',
      (j) =>
        active(j, 'extract', 'RUNNING').length === 1 &&
        active(j, 'refine', 'PENDING').length === 1 &&
        active(j, 'postprocess', 'PENDING').length === 1,
    );
    const c = await cancelAndCheck(handle, jobs);
    assert.equal(c.stage, 'extract');
    assert.deepEqual(c.jobsCancelled.map((j) => j.step).sort(), ['extract', 'postprocess', 'refine']);
  });

  test('refining with its job running, postprocess queued: both cancelled', async () => {
    const handle = await start(sleepCampaign('refine', { ...QUICK, refineIterations: 1, refineIteration: HOLD }));
    const { jobs } = await atStage(
      handle,
      'refine',
      (j) => active(j, 'refine', 'RUNNING').length === 1 && active(j, 'postprocess', 'PENDING').length === 1,
    );
    const c = await cancelAndCheck(handle, jobs);
    assert.deepEqual(c.jobsCancelled.map((j) => j.step).sort(), ['postprocess', 'refine']);
  });

  test('refining with its job pending on a hung rung: cancelled before it is relaxed', async () => {
    const input = sleepCampaign('refine-hung', QUICK);
    // The pinned a10g rung (its node never boots), relaxed only after 10 min.
    const handle = await start({
      ...input,
      placements: { ...input.placements, refine: ladder(['gpu:a10g:4', 'gpu:4'], 600_000) },
    });
    const { jobs } = await atStage(
      handle,
      'refine',
      (j) =>
        active(j, 'refine', 'PENDING').some((r) => r.reason !== 'Dependency') &&
        active(j, 'postprocess', 'PENDING').length === 1,
    );
    const c = await cancelAndCheck(handle, jobs);
    assert.deepEqual(c.jobsCancelled.map((j) => j.step).sort(), ['postprocess', 'refine']);
  });

  test('postprocessing, its job running: cancelled', async () => {
    const handle = await start(sleepCampaign('postprocess', { ...QUICK, postprocess: HOLD }));
    const { jobs } = await atStage(handle, 'postprocess', (j) => active(j, 'postprocess', 'RUNNING').length === 1);
    const c = await cancelAndCheck(handle, jobs);
    assert.deepEqual(
      c.jobsCancelled.map((j) => j.step),
      ['postprocess'],
    );
    assert.ok(c.stepsCompleted >= 6, `steps completed ${c.stepsCompleted}`);
  });

  test(
    'cancelling one step (<id>/refine) cancels its job; ' + 'the campaign fails saying so, postprocess cancelled',
    async () => {
      const handle = await start(sleepCampaign('step', { ...QUICK, refineIterations: 1, refineIteration: HOLD }));
      await atStage(handle, 'refine', (j) => active(j, 'refine', 'RUNNING').length === 1);
      const r = await cryoet(['cancel', `${handle.workflowId}/refine`, '--timeout', '3m']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /step .*\/refine CANCELLED/);
      await assert.rejects(handle.result(), (err: Error & { cause?: Error }) =>
        /refine: cancelled on its own/.test(String(err.cause?.message)),
      );
      const jobs = await waitUntil(
        'no job pending or running',
        () => {
          const all = campaignJobs(handle.workflowId);
          return all.some((j) => ACTIVE.test(j.state)) ? undefined : all;
        },
        SETTLE_MS,
        500,
      );
      assert.match(jobs.find((j) => stepOf(j) === 'refine')!.state, /^CANCELLED/);
      assert.match(jobs.find((j) => stepOf(j) === 'postprocess')!.state, /^CANCELLED/);
    },
  );

  test('a cancel sent while no worker is up is carried out when one comes back', async () => {
    const handle = await start(sleepCampaign('no-worker', { ...QUICK, refineIterations: 1, refineIteration: HOLD }));
    const { jobs } = await atStage(handle, 'refine', (j) => active(j, 'refine', 'RUNNING').length === 1);
    await stopWorker();
    const r = await cryoet(['cancel', handle.workflowId, '--timeout', '2s']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cancel requested, but .* is still running after 2 s/);
    assert.equal(
      active(campaignJobs(handle.workflowId), 'refine', 'RUNNING').length,
      1,
      'the job went on while no worker was up',
    );
    worker = await startWorker();
    await waitUntil(
      'the campaign CANCELLED',
      async () => ((await handle.describe()).status.name === 'CANCELLED' ? true : undefined),
      SETTLE_MS,
      500,
    );
    const refine = active(jobs, 'refine', 'RUNNING')[0]!;
    await waitUntil(
      `job ${refine.id} CANCELLED`,
      () =>
        /^CANCELLED/.test(campaignJobs(handle.workflowId).find((j) => j.id === refine.id)?.state ?? '')
          ? true
          : undefined,
      SETTLE_MS,
      500,
    );
    assert.ok(!campaignJobs(handle.workflowId).some((j) => ACTIVE.test(j.state)));
  });

  test('staging (the upload still running): cancelled, nothing submitted', async () => {
    const input = sleepCampaign('staging', QUICK);
    const fifo = join(BASE, 'staging', 'AreTomo2-upload');
    execFileSync('mkfifo', [fifo]);
    const handle = await start({ ...input, tools: { ...input.tools, aretomo2Local: fifo } });
    try {
      const { jobs } = await atStage(handle, 'stage');
      assert.deepEqual(jobs, []);
      const c = await cancelAndCheck(handle, jobs);
      assert.equal(c.stage, 'stage');
      assert.deepEqual(c.jobsCancelled, []);
      assert.deepEqual(campaignJobs(handle.workflowId), []);
    } finally {
      // Let the blocked upload finish (it reads the file twice: its sha256, then the copy),
      // or the worker could not stop. Its result is no longer wanted.
      feeders.push(
        spawn('bash', ['-c', 'while :; do cat -- "$0" >"$1" || exit; done', input.tools.aretomo2Local, fifo], {
          stdio: 'ignore',
          detached: true,
        }),
      );
    }
  });
});
