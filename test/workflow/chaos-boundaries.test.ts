/**
 * Chaos against the real stack, part 2: the worker SIGKILLed at every stage boundary of a
 * campaign — the moment a stage was entered and its first step started (or was queued ahead), or right after a
 * step ran and before Temporal heard of it (sbatch done; the run record written). Real
 * Temporal dev server (SQLite), the worker as its own process (test/fixtures/chaos-worker.ts
 * dies at the planned activity; the next worker takes over), the second dev cluster `dev2`,
 * the fast synthetic dataset.
 *
 * Nine boundaries cost a heartbeat timeout each (10–30 s) before the next worker retries the
 * step, so they are shared between two campaigns run side by side, each with its own task
 * queue and worker: the first is killed at inspect, stage, probe (after sbatch), reconstruct
 * and extract; the second at refine, postprocess, record and after the run record is written.
 * For each: it completed; each worker died in the stage planned; from Slurm's records each
 * step ran exactly one job (nothing submitted twice, nothing completed run again); every
 * output's sha256 in the run record is the file's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { campaignInput, type CampaignInput } from '../../src/campaign/input.js';
import { startCampaign } from '../../src/client.js';
import { ARETOMO2_STANDIN, EMBEDDED_PYTHON } from '../../src/embedded.js';
import type { RunRecord } from '../../src/model/campaign-status.js';
import {
  chaosWorkers,
  checkCampaign,
  dev2Cluster,
  ensureDev2,
  fastCampaignSpec,
  resetDev2,
  makeFastDataset,
  resultThroughOutages,
  SlurmLedger,
  stageOf,
  startChaosEnv,
  type ChaosEnv,
  type DiePlan,
  type WorkerSupervisor,
} from '../helpers/chaos.js';
import { repoRoot, uniqueId } from '../helpers/env.js';

const TILT_SERIES = ['TS_01', 'TS_03', 'TS_43', 'TS_45', 'TS_54'];
const CAMPAIGN_LIMIT_MS = 20 * 60_000; // measured 4.6 min alone, 7.4 min with the machine shared

/** Where each worker dies, and the stage the campaign must be in then. */
interface Boundary extends DiePlan {
  readonly stage: string;
}
// Steps are queued ahead: the campaign checks its input while it stages the binary, queues
// extract while the series reconstruct, and the refine and postprocess while extract runs.
const FIRST_HALF: Boundary[] = [
  { label: 'inspect', stage: 'stage', when: 'start', activity: 'inspectMaps', match: '"reference"' },
  { label: 'stage', stage: 'stage', when: 'start', activity: 'stageBinary' },
  // sbatch has run; Temporal never hears of the job: the exactly-once moment.
  { label: 'probe', stage: 'probe', when: 'end', activity: 'submitJob', match: '/probe/probe-1' },
  {
    label: 'reconstruct',
    stage: 'reconstruct',
    when: 'start',
    activity: 'submitJob',
    match: '/reconstruct/reconstruct-1',
  },
  { label: 'extract', stage: 'reconstruct', when: 'start', activity: 'submitJob', match: '/extract/extract-1' },
];
const SECOND_HALF: Boundary[] = [
  { label: 'refine', stage: 'extract', when: 'start', activity: 'submitJob', match: '/refine/refine-1' },
  { label: 'postprocess', stage: 'extract', when: 'start', activity: 'submitJob', match: '/postprocess/postprocess-1' },
  { label: 'record', stage: 'record', when: 'start', activity: 'checksumFiles' },
  // The run record is on disk; Temporal has not heard: written again, the same.
  { label: 'done', stage: 'record', when: 'end', activity: 'writeFiles', match: 'run-record.json' },
];

// dev2 is this file's (and failover.test.ts's) alone: up for it, down after it, as npm test expects.
before(() => {
  ensureDev2();
});
after(() => {
  dev2Cluster('stop');
});

describe('chaos: the worker SIGKILLed at every stage boundary (dev2)', () => {
  let env: ChaosEnv;
  const ledger = new SlurmLedger();
  const runs: {
    name: string;
    boundaries: Boundary[];
    input?: CampaignInput;
    supervisor?: WorkerSupervisor;
    record?: RunRecord;
    failure?: unknown;
    seconds?: number;
  }[] = [
    { name: 'first-half', boundaries: FIRST_HALF },
    { name: 'second-half', boundaries: SECOND_HALF },
  ];

  before(
    async () => {
      makeFastDataset();
      await resetDev2();
      env = await startChaosEnv(join(repoRoot, '.dev', 'chaos', uniqueId('boundaries')));
      ledger.start(1000);
      // The extract kill must find the series still reconstructing (extract is queued ahead once
      // the probe is seen done and the last series has its job). The stand-in reconstructs the
      // fast dataset in about 0.5 s. The reconstruct kill takes down the worker watching the
      // probe, so the probe is seen done only when its watch is retried, the watch's heartbeat
      // timeout (30 s) after that kill; behind this wrapper each reconstruct runs 60 s longer,
      // so the queued-ahead moment is always inside it (20 s was not, twice: the extract started
      // once the series were done). The series reconstruct side by side.
      const slow = join(env.runDir, 'aretomo2_standin_slow.sh');
      writeFileSync(
        slow,
        '#!/bin/bash\n# TEST WRAPPER: the CPU AreTomo2 stand-in, 60 s slower.\nsleep 60\n' +
          `exec ${EMBEDDED_PYTHON} ${ARETOMO2_STANDIN} "$@"\n`,
        { mode: 0o755 },
      );
      await Promise.all(
        runs.map(async (run) => {
          const { config, supervisor } = await chaosWorkers(
            env,
            run.name,
            run.boundaries,
            async (life) => {
              await sleep(1000); // the stage the workflow entered reaches visibility
              life.stage = (await stageOf(env.client.workflow.getHandle(run.input!.id))) ?? '?';
            },
            undefined,
            run.name === 'first-half' ? slow : undefined,
          );
          run.supervisor = supervisor;
          run.input = campaignInput(config, fastCampaignSpec(), uniqueId(`chaos-${run.name}`));
          supervisor.start();
          const t0 = Date.now();
          const handle = await startCampaign(env.client, config, run.input);
          await resultThroughOutages(handle, CAMPAIGN_LIMIT_MS).then(
            (r) => (run.record = r),
            (err: unknown) => (run.failure = err),
          );
          run.seconds = Math.round((Date.now() - t0) / 1000);
        }),
      );
      await ledger.poll(); // the final states
    },
    { timeout: CAMPAIGN_LIMIT_MS + 60_000 },
  );

  after(async () => {
    await ledger.stop().catch(() => undefined);
    for (const run of runs) {
      await run.supervisor?.stop();
      const verdict = run.record ? 'completed' : `failed: ${String(run.failure)}`;
      const lives = run.supervisor?.lives
        .map((l) => `${l.end}${l.end === 'plan' ? `:${l.plan!.label}@${l.stage}` : ''}`)
        .join(' ');
      console.log(`chaos campaign ${run.input?.id}: ${verdict} in ${run.seconds} s; workers: ${lives}`);
    }
    await env?.close();
    for (const run of runs) run.supervisor?.assertNoFailedWorkflowTasks();
  });

  for (const [i, name] of ['first-half', 'second-half'].entries()) {
    test(`${name}: completed; a worker died at each planned boundary, in the stage planned`, () => {
      const run = runs[i]!;
      assert.equal(run.failure, undefined, String(run.failure));
      assert.ok(run.record);
      assert.deepEqual(
        run.supervisor!.done,
        run.boundaries.map((b) => b.label),
      );
      for (const life of run.supervisor!.lives.filter((l) => l.end === 'plan')) {
        assert.equal(
          life.stage,
          run.boundaries.find((b) => b.label === life.plan!.label)!.stage,
          `the ${life.plan!.label} kill`,
        );
      }
      // Every worker but the last (still serving) died as planned: none crashed or exited on its own.
      assert.ok(
        run.supervisor!.lives.slice(0, -1).every((l) => l.end === 'plan'),
        `worker ends: ${run.supervisor!.lives.map((l) => l.end ?? 'running').join(' ')}`,
      );
    });

    test(`${name}: one Slurm job per step — nothing submitted twice, nothing completed run again`, () => {
      const run = runs[i]!;
      const jobs = ledger.of(run.input!.id);
      const check = checkCampaign(run.record!, jobs);
      assert.deepEqual(check.duplicates, []);
      assert.deepEqual(check.rerunSteps, []);
      const names = jobs.map((j) => `${j.name.slice(`cryoet.${run.input!.id}.`.length)} ${j.lastState}`).sort();
      assert.deepEqual(
        names,
        [
          'extract.extract-1',
          'postprocess.postprocess-1',
          'probe.probe-1',
          ...TILT_SERIES.map((ts) => `${ts}.reconstruct.reconstruct-1`),
          'refine.refine-1',
        ]
          .map((n) => `${n} COMPLETED`)
          .sort(),
      );
      for (const s of run.record!.steps) assert.equal(s.jobIds.length, 1, `${s.step} ${s.tiltSeries ?? ''}`);
      const logged = ledger.submittedIds();
      assert.deepEqual(
        logged.filter((id) => !ledger.jobs.has(id)),
        [],
        'submissions slurmctld accepted that no squeue snapshot saw',
      );
    });

    test(`${name}: every output's sha256 in the run record is the file's; the record on disk is the result`, () => {
      const run = runs[i]!;
      const check = checkCampaign(run.record!, ledger.of(run.input!.id));
      assert.ok(run.record!.outputs.length >= TILT_SERIES.length + 7);
      assert.deepEqual(check.checksumMismatches, []);
      assert.equal(check.recordMismatch, false);
    });
  }

  test('the job submitted by a worker that died right after sbatch was re-attached, not submitted again', () => {
    const probe = runs[0]!.record!.steps.find((s) => s.step === 'probe')!;
    assert.ok(
      probe.events.some((e) => e.kind === 'reattached'),
      probe.events.map((e) => e.kind).join(','),
    );
  });
});
