import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { costByStage } from '../../src/report/cost-plot.js';
import {
  angstrom,
  bytes,
  clock,
  commandLine,
  dateTime,
  duration,
  fixed,
  groupThousands,
  stepLabel,
  usd,
} from '../../src/report/format.js';
import { fscPoints } from '../../src/report/fsc-plot.js';
import { stepIntervals } from '../../src/campaign/step-intervals.js';
import { esc, linear, niceDomain, niceTicks, px, tickLabel } from '../../src/report/svg.js';
import { tickDuration } from '../../src/report/timeline.js';
import type { StepSummary } from '../../src/model/step-summary.js';
import type { JobEvent, JobEventKind } from '../../src/model/job-record.js';

const T0 = Date.parse('2025-03-01T10:00:00.000Z');
const at = (s: number): string => new Date(T0 + s * 1000).toISOString();
const ev = (s: number, kind: JobEventKind, rung = 0, fields: Partial<JobEvent> = {}): JobEvent => ({
  at: at(s),
  kind,
  rung,
  cluster: 'aws',
  ...fields,
});

describe('report formatting', () => {
  it('escapes the five HTML specials and nothing else', () => {
    assert.equal(
      esc(`<a href="x">Tom & 'Jerry'</a>`),
      '&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;',
    );
    assert.equal(esc('TS_01 Å²'), 'TS_01 Å²');
    assert.equal(esc(undefined), '');
    assert.equal(esc(42), '42');
  });

  it('numbers: grouping, fixed decimals with a real minus, Å', () => {
    assert.equal(groupThousands(3146752), '3,146,752');
    assert.equal(groupThousands(-23111.87), '−23,112');
    assert.equal(groupThousands(999), '999');
    assert.equal(groupThousands(NaN), '—');
    assert.equal(fixed(-23111.87256, 0), '−23112');
    assert.equal(fixed(-0.0001, 2), '0.00');
    assert.equal(fixed(undefined, 2), '—');
    assert.equal(angstrom(35.555555), '35.56');
    assert.equal(angstrom(319.999992), '320.0');
    assert.equal(angstrom(Infinity), '—');
  });

  it('dollars: cents, sub-cent amounts, thousands', () => {
    assert.equal(usd(0), '$0.00');
    assert.equal(usd(0.000563), '$0.0006');
    assert.equal(usd(0.048538), '$0.05');
    assert.equal(usd(4.432964), '$4.43');
    assert.equal(usd(12345.678), '$12,345.68');
    assert.equal(usd(-2), '−$2.00');
    assert.equal(usd(NaN), '—');
  });

  it('durations, byte sizes and times', () => {
    assert.deepEqual([0, 45, 60, 523, 3600, 7997, 90000].map(duration), [
      '0s',
      '45s',
      '1m00s',
      '8m43s',
      '1h00m',
      '2h13m',
      '1d01h',
    ]);
    assert.deepEqual([0, 20, 60, 150, 1200, 3600, 4800, 86400, 90000].map(tickDuration), [
      '0',
      '20s',
      '1m',
      '2m30s',
      '20m',
      '1h',
      '1h20m',
      '1d',
      '1d1h',
    ]);
    assert.equal(bytes(512), '512 B');
    assert.equal(bytes(3146752), '3.0 MiB');
    assert.equal(bytes(56320), '55 KiB');
    assert.equal(dateTime('2026-11-30T09:14:03.512Z'), '2026-11-30 09:14:03 UTC');
    assert.equal(dateTime('yesterday'), '—');
    assert.equal(clock('2026-11-30T12:18:07.100Z', '2026-11-30T09:14:03.512Z'), '12:18:07');
    assert.equal(clock('2026-12-01T00:00:05.000Z', '2026-11-30T09:14:03.512Z'), '12-01 00:00:05');
    assert.equal(clock(undefined), '—');
  });

  it('step labels and command lines', () => {
    assert.equal(stepLabel({ step: 'reconstruct', tiltSeries: 'TS_01' }), 'reconstruct TS_01');
    assert.equal(stepLabel({ step: 'refine' }), 'refine');
    assert.equal(
      commandLine(['relion_refine', '--o', 'Refine3D/run', '--sym', 'C6']),
      'relion_refine --o Refine3D/run --sym C6',
    );
    assert.equal(commandLine(['bash', '-c', "echo 'hi' && ls"]), `bash -c 'echo '\\''hi'\\'' && ls'`);
    assert.equal(commandLine(['x', '']), "x ''");
    assert.equal(commandLine(undefined), '');
  });
});

describe('report SVG helpers', () => {
  it('linear scales, including a point domain', () => {
    const x = linear([0, 10], [100, 200]);
    assert.equal(x(5), 150);
    assert.equal(linear([0, 1], [300, 100])(0.25), 250);
    assert.equal(linear([3, 3], [0, 100])(3), 50);
  });

  it('nice ticks and domains', () => {
    assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(30, 70, 5), [30, 40, 50, 60, 70]);
    assert.deepEqual(niceTicks(0, 4.5, 5), [0, 1, 2, 3, 4]);
    assert.deepEqual(niceDomain(35.56, 64, 5), [30, 70]);
    assert.deepEqual(niceDomain(60, 60, 5, 6), [54, 66]);
    assert.deepEqual(niceTicks(2, 2), [2]);
    assert.deepEqual(niceTicks(NaN, 1), []);
    assert.equal(tickLabel(0.1 + 0.2), '0.3');
    assert.equal(tickLabel(-0.1), '−0.1');
    assert.equal(px(12.345), '12.3');
    assert.equal(px(-0.01), '0');
  });
});

describe('FSC points', () => {
  it('drops frequency 0 (999 Å, Infinity) and non-numbers, sorts by frequency', () => {
    const pts = fscPoints([
      { resolution: 999, fsc: 1 },
      { resolution: Infinity, fsc: 1 },
      { resolution: 20, fsc: 0.1 },
      { resolution: 40, fsc: 0.9 },
      { resolution: 30, fsc: NaN },
      { resolution: 0, fsc: 0.5 },
    ]);
    assert.deepEqual(
      pts.map((p) => p.resolution),
      [40, 20],
    );
    assert.equal(pts[0]!.freq, 1 / 40);
    assert.deepEqual(fscPoints(undefined), []);
  });
});

describe('step intervals', () => {
  it('a relaxed step: pending until hung, then pending and running on the next rung', () => {
    const { intervals, markers } = stepIntervals([
      ev(0, 'submitted', 0, { jobId: '1' }),
      ev(1, 'observed', 0, { jobId: '1', state: 'PENDING', reason: 'Resources' }),
      ev(900, 'hung', 0, { jobId: '1', state: 'PENDING', reason: 'Resources' }),
      ev(900, 'relaxed', 1),
      ev(901, 'resubmitted', 1, { jobId: '2' }),
      ev(902, 'observed', 1, { jobId: '2', state: 'PENDING', reason: 'Priority' }),
      ev(930, 'observed', 1, { jobId: '2', state: 'RUNNING', node: 'gpu-t4' }),
      ev(2000, 'observed', 1, { jobId: '2', state: 'COMPLETED', node: 'gpu-t4' }),
      ev(2000, 'completed', 1, { jobId: '2' }),
    ]);
    assert.deepEqual(
      intervals.map((i) => [i.kind, (i.start - T0) / 1000, (i.end - T0) / 1000, i.rung, i.jobId, i.reason ?? i.node]),
      [
        ['pending', 0, 900, 0, '1', 'Resources'],
        ['pending', 901, 930, 1, '2', 'Priority'],
        ['running', 930, 2000, 1, '2', 'gpu-t4'],
      ],
    );
    assert.deepEqual(
      markers.map((m) => [m.kind, (m.at - T0) / 1000]),
      [
        ['hung', 900],
        ['relaxed', 900],
      ],
    );
  });

  it('a reclaimed step: running until lost, resumed, requeues, and an open interval ends at the last event', () => {
    const { intervals, markers } = stepIntervals([
      ev(0, 'submitted', 0, { jobId: '1' }),
      ev(60, 'observed', 0, { jobId: '1', state: 'RUNNING' }),
      ev(660, 'lost', 0, { jobId: '1', state: 'NODE_FAIL' }),
      ev(670, 'resumed', 0, { iteration: 6 }),
      ev(675, 'resubmitted', 0, { jobId: '2' }),
      ev(700, 'observed', 0, { jobId: '2', state: 'RUNNING' }),
      ev(800, 'requeued', 0, { jobId: '2', state: 'PENDING' }),
      ev(850, 'observed', 0, { jobId: '2', state: 'RUNNING' }),
      ev(900, 'observed', 0, { jobId: '2', state: 'COMPLETING' }),
    ]);
    assert.deepEqual(
      intervals.map((i) => [i.kind, (i.start - T0) / 1000, (i.end - T0) / 1000]),
      [
        ['pending', 0, 60],
        ['running', 60, 660],
        ['pending', 675, 700],
        ['running', 700, 800],
        ['pending', 800, 850],
        ['running', 850, 900],
      ],
    );
    assert.deepEqual(
      markers.map((m) => m.kind),
      ['lost', 'resumed', 'requeued'],
    );
  });

  it('no events, bad times and a never-seen-running job', () => {
    assert.deepEqual(stepIntervals([]), { intervals: [], markers: [] });
    assert.deepEqual(stepIntervals(undefined), { intervals: [], markers: [] });
    const r = stepIntervals([
      ev(0, 'submitted'),
      { ...ev(5, 'observed'), at: 'garbage' },
      ev(3, 'observed', 0, { state: 'COMPLETED' }),
      ev(4, 'completed'),
    ]);
    assert.deepEqual(
      r.intervals.map((i) => [i.kind, (i.end - i.start) / 1000]),
      [['pending', 4]],
    );
  });
});

describe('cost by stage', () => {
  const step = (name: string, costUsd: number, runSeconds = 0, gpus = 1): StepSummary => ({
    step: name,
    cluster: 'aws',
    partition: 'gpu',
    rung: 1,
    gres: `gpu:${gpus}`,
    gpuType: 'any',
    gpus,
    jobIds: [],
    attempts: 1,
    relaxations: 0,
    reclaims: 0,
    pendingSeconds: 0,
    runSeconds,
    pricePerGpuHour: 0.4,
    costUsd,
    command: [],
    events: [],
  });

  it('sums per step name in pipeline order, unknown names last', () => {
    const stages = costByStage([
      step('refine', 4, 3600, 4),
      step('custom', 1),
      step('reconstruct', 0.1, 1800),
      step('reconstruct', 0.2, 1800),
      step('probe', 0),
    ]);
    assert.deepEqual(
      stages.map((s) => [s.stage, s.costUsd, s.steps, s.gpuHours]),
      [
        ['probe', 0, 1, 0],
        ['reconstruct', 0.3, 2, 1],
        ['refine', 4, 1, 4],
        ['custom', 1, 1, 0],
      ],
    );
    assert.deepEqual(costByStage([]), []);
    assert.deepEqual(costByStage(undefined), []);
  });
});
