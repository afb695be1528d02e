import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { priceFor, summarizeStep } from '../../src/campaign/job-summary.js';
import type { PlacementRung } from '../../src/slurm/placement.js';
import type { JobEvent, JobEventKind, JobRecord } from '../../src/model/job-record.js';

const T0 = Date.parse('2025-03-01T10:00:00.000Z');
/** ISO time `s` seconds after T0. */
const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

const LADDER: PlacementRung[] = [
  { cluster: 'aws', partition: 'gpu', gres: 'gpu:a10g:4', timeScale: 1 },
  { cluster: 'aws', partition: 'gpu', gres: 'gpu:4', timeScale: 1 },
  { cluster: 'aws', partition: 'gpu', gres: 'gpu:t4:1', timeScale: 4 },
];
/** temporal.yaml's prices: t4 = g4dn.12xlarge spot $1.35/h over 4 GPUs. */
const PRICES = { t4: 0.3375, a10g: 0.45, default: 0.4 };
const COMMAND = ['bash', '-c', 'echo refine'];

function ev(s: number, kind: JobEventKind, rung: number, fields: Partial<JobEvent> = {}): JobEvent {
  return { at: at(s), kind, rung, cluster: LADDER[rung]!.cluster, ...fields };
}

function rec(events: JobEvent[], fields: Partial<JobRecord> = {}): JobRecord {
  return { step: 'refine', rung: events.at(-1)?.rung ?? 0, attempt: 1, reclaims: 0, hung: [], events, ...fields };
}

/**
 * A refine on rung 0 (4× a10g): pending 60 s, runs 600 s, its node is reclaimed (the
 * watcher sees NODE_FAIL, clusterJob notes `lost`), resumed and resubmitted as job 102,
 * pending 120 s, runs 1200 s to completion. The gap between `lost` and `resubmitted` is
 * the workflow reading progress and submitting: neither pending nor running.
 */
const RECLAIMED: JobEvent[] = [
  ev(0, 'submitted', 0, { jobId: '101' }),
  ev(1, 'observed', 0, { jobId: '101', state: 'PENDING', reason: 'Resources' }),
  ev(60, 'observed', 0, { jobId: '101', state: 'RUNNING', node: 'gpu-a' }),
  ev(660, 'observed', 0, { jobId: '101', state: 'NODE_FAIL', node: 'gpu-a' }),
  ev(660, 'lost', 0, { jobId: '101', state: 'NODE_FAIL', node: 'gpu-a' }),
  ev(670, 'resumed', 0, { iteration: 6, redone: [7] }),
  ev(675, 'resubmitted', 0, { jobId: '102' }),
  ev(676, 'observed', 0, { jobId: '102', state: 'PENDING', reason: 'Priority' }),
  ev(795, 'observed', 0, { jobId: '102', state: 'RUNNING', node: 'gpu-b' }),
  ev(1995, 'observed', 0, { jobId: '102', state: 'COMPLETED', node: 'gpu-b' }),
  ev(1996, 'completed', 0, { jobId: '102', state: 'COMPLETED', node: 'gpu-b' }),
];

describe('priceFor', () => {
  it('the type’s own price, else default, else 0', () => {
    assert.equal(priceFor(PRICES, 't4'), 0.3375);
    assert.equal(priceFor(PRICES, 'a10g'), 0.45);
    assert.equal(priceFor(PRICES, 'h100'), 0.4);
    assert.equal(priceFor(PRICES, 'any'), 0.4);
    assert.equal(priceFor({ t4: 0.3 }, 'h100'), 0);
    assert.equal(priceFor({}, 'any'), 0);
  });

  it('a price of 0 is a price, not a missing one', () => {
    assert.equal(priceFor({ t4: 0, default: 1 }, 't4'), 0);
  });
});

describe('summarizeStep', () => {
  it('pending and run seconds across a reclaim and resubmission; cost on the pinned type', () => {
    const s = summarizeStep(rec(RECLAIMED, { attempt: 2, reclaims: 1 }), LADDER, PRICES, COMMAND);
    assert.equal(s.pendingSeconds, 60 + 120);
    assert.equal(s.runSeconds, 600 + 1200);
    // 1800 s × 4 GPUs × $0.45/GPU-h = $0.90.
    assert.equal(s.costUsd, 0.9);
    assert.deepEqual(
      {
        step: s.step,
        cluster: s.cluster,
        partition: s.partition,
        rung: s.rung,
        gres: s.gres,
        gpuType: s.gpuType,
        gpus: s.gpus,
        price: s.pricePerGpuHour,
      },
      {
        step: 'refine',
        cluster: 'aws',
        partition: 'gpu',
        rung: 1,
        gres: 'gpu:a10g:4',
        gpuType: 'a10g',
        gpus: 4,
        price: 0.45,
      },
    );
    assert.deepEqual(s.jobIds, ['101', '102']);
    assert.equal(s.attempts, 2);
    assert.equal(s.reclaims, 1);
    assert.equal(s.relaxations, 0);
    assert.equal(s.node, 'gpu-b');
    assert.equal(s.submittedAt, at(0));
    assert.equal(s.startedAt, at(60));
    assert.equal(s.endedAt, at(1996));
    assert.deepEqual(s.command, COMMAND);
    assert.equal(s.events, RECLAIMED);
  });

  it('a rung that takes any GPU type is priced at the default', () => {
    const events = RECLAIMED.map((e) => ({ ...e, rung: 1 }));
    const s = summarizeStep(rec(events), LADDER, PRICES, COMMAND);
    assert.equal(s.gpuType, 'any');
    assert.equal(s.gpus, 4);
    assert.equal(s.pricePerGpuHour, 0.4);
    // 1800 s × 4 × $0.40 = $0.80.
    assert.equal(s.costUsd, 0.8);
  });

  it('a type missing from the prices falls back to the default', () => {
    const s = summarizeStep(rec(RECLAIMED), LADDER, { t4: 0.3375, default: 0.25 }, COMMAND);
    assert.equal(s.pricePerGpuHour, 0.25);
    // 1800 s × 4 × $0.25 = $0.50.
    assert.equal(s.costUsd, 0.5);
  });

  it('no price and no default: zero cost', () => {
    const s = summarizeStep(rec(RECLAIMED), LADDER, { t4: 0.3375 }, COMMAND);
    assert.equal(s.pricePerGpuHour, 0);
    assert.equal(s.costUsd, 0);
    assert.equal(s.runSeconds, 1800);
  });

  it('the seed study: 1.65 h on 4× T4 at $0.3375/GPU-h is about $2.2', () => {
    const ladder = [{ cluster: 'aws', partition: 'gpu', gres: 'gpu:t4:4', timeScale: 1 }];
    const events = [
      ev(0, 'submitted', 0, { jobId: '7' }),
      ev(30, 'observed', 0, { jobId: '7', state: 'RUNNING', node: 'g4dn' }),
      ev(30 + 5940, 'observed', 0, { jobId: '7', state: 'COMPLETED' }),
      ev(30 + 5941, 'completed', 0, { jobId: '7', state: 'COMPLETED' }),
    ];
    const s = summarizeStep(rec(events, { rung: 0 }), ladder, PRICES, COMMAND);
    assert.equal(s.runSeconds, 5940);
    assert.equal(s.pendingSeconds, 30);
    assert.equal(s.costUsd, 2.2275);
  });

  it('each running interval is priced on the rung it ran on (relaxed after a hang)', () => {
    // Rung 0 hangs pending 300 s and is relaxed; on rung 2 (1× t4) it runs 3600 s.
    const events = [
      ev(0, 'submitted', 0, { jobId: '1' }),
      ev(0, 'observed', 0, { jobId: '1', state: 'PENDING', reason: 'ReqNodeNotAvail' }),
      ev(300, 'hung', 0, { jobId: '1', state: 'PENDING', reason: 'ReqNodeNotAvail' }),
      ev(300, 'relaxed', 1, { jobId: '1' }),
      ev(301, 'hung', 1, { jobId: '1', state: 'PENDING' }),
      ev(301, 'relaxed', 2),
      ev(302, 'resubmitted', 2, { jobId: '2' }),
      ev(312, 'observed', 2, { jobId: '2', state: 'RUNNING', node: 'n1' }),
      ev(3912, 'observed', 2, { jobId: '2', state: 'COMPLETED', node: 'n1' }),
      ev(3913, 'completed', 2, { jobId: '2', state: 'COMPLETED', node: 'n1' }),
    ];
    const s = summarizeStep(
      rec(events, {
        attempt: 2,
        hung: [
          { rung: 0, jobId: '1', reason: 'ReqNodeNotAvail', pendingMs: 300_000 },
          { rung: 1, jobId: '1', reason: 'PENDING', pendingMs: 1000 },
        ],
      }),
      LADDER,
      PRICES,
      COMMAND,
    );
    assert.equal(s.rung, 3);
    assert.equal(s.gres, 'gpu:t4:1');
    assert.equal(s.relaxations, 2);
    assert.equal(s.pendingSeconds, 300 + 10);
    assert.equal(s.runSeconds, 3600);
    // 3600 s × 1 GPU × $0.3375.
    assert.equal(s.costUsd, 0.3375);
    assert.deepEqual(s.jobIds, ['1', '2']);
  });

  it('a run spanning two rungs is priced per rung', () => {
    // 3600 s on rung 0 (4× a10g), lost, then 3600 s on rung 2 (1× t4).
    const events = [
      ev(0, 'submitted', 0, { jobId: '1' }),
      ev(0, 'observed', 0, { jobId: '1', state: 'RUNNING' }),
      ev(3600, 'lost', 0, { jobId: '1', state: 'NODE_FAIL' }),
      ev(3600, 'resubmitted', 2, { jobId: '2' }),
      ev(3600, 'observed', 2, { jobId: '2', state: 'RUNNING' }),
      ev(7200, 'completed', 2, { jobId: '2', state: 'COMPLETED' }),
    ];
    const s = summarizeStep(rec(events, { rung: 2 }), LADDER, PRICES, COMMAND);
    assert.equal(s.runSeconds, 7200);
    assert.equal(s.pendingSeconds, 0);
    // 1 h × 4 × 0.45 + 1 h × 1 × 0.3375.
    assert.equal(s.costUsd, 1.8 + 0.3375);
    // The step's own price is the rung it finished on.
    assert.equal(s.pricePerGpuHour, 0.3375);
  });

  it('COMPLETING counts as running; a Slurm requeue ends the run and starts pending again', () => {
    const events = [
      ev(0, 'submitted', 0, { jobId: '5' }),
      ev(10, 'observed', 0, { jobId: '5', state: 'RUNNING' }),
      ev(110, 'observed', 0, { jobId: '5', state: 'PENDING', reason: 'BeginTime' }),
      ev(110, 'requeued', 0, { jobId: '5', state: 'PENDING' }),
      ev(150, 'observed', 0, { jobId: '5', state: 'RUNNING' }),
      ev(250, 'observed', 0, { jobId: '5', state: 'COMPLETING' }),
      ev(260, 'observed', 0, { jobId: '5', state: 'COMPLETED' }),
      ev(261, 'completed', 0, { jobId: '5', state: 'COMPLETED' }),
    ];
    const s = summarizeStep(rec(events, { reclaims: 1 }), LADDER, PRICES, COMMAND);
    assert.equal(s.pendingSeconds, 10 + 40);
    assert.equal(s.runSeconds, 100 + 110);
    assert.deepEqual(s.jobIds, ['5']);
    assert.equal(s.startedAt, at(10));
  });

  it('no run: zero run seconds and zero cost (cancelled while pending)', () => {
    const events = [
      ev(0, 'submitted', 0, { jobId: '9' }),
      ev(5, 'observed', 0, { jobId: '9', state: 'PENDING', reason: 'Resources' }),
      ev(905, 'cancelled', 0, { jobId: '9' }),
    ];
    const s = summarizeStep(rec(events), LADDER, PRICES, COMMAND);
    assert.equal(s.runSeconds, 0);
    assert.equal(s.costUsd, 0);
    assert.equal(s.pendingSeconds, 905);
    assert.equal(s.startedAt, undefined);
    assert.ok(!('startedAt' in s));
    assert.ok(!('node' in s));
    assert.equal(s.endedAt, at(905));
  });

  it('no events at all', () => {
    const s = summarizeStep(rec([]), LADDER, PRICES, COMMAND);
    assert.equal(s.runSeconds, 0);
    assert.equal(s.pendingSeconds, 0);
    assert.equal(s.costUsd, 0);
    assert.deepEqual(s.jobIds, []);
    assert.ok(!('submittedAt' in s) && !('endedAt' in s));
  });

  it('reattached counts as the submission', () => {
    const events = [
      ev(0, 'reattached', 0, { jobId: '3' }),
      ev(20, 'observed', 0, { jobId: '3', state: 'RUNNING' }),
      ev(80, 'completed', 0, { jobId: '3', state: 'COMPLETED' }),
    ];
    const s = summarizeStep(rec(events), LADDER, PRICES, COMMAND);
    assert.equal(s.submittedAt, at(0));
    assert.equal(s.pendingSeconds, 20);
    assert.equal(s.runSeconds, 60);
  });
});
