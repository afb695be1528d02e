/**
 * What cryoet watch prints: keyed lines, progress bars, the outcome line and the plain view.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { changedLines, refineBar, tiltSeriesBar, watchFacts } from '../../src/cli/watch-lines.js';
import { plainView, outcomeLine } from '../../src/cli/watch.js';
import { status, record } from '../helpers/cli-records.js';

describe('cli tables: watch', () => {
  test('watchFacts + changedLines: only what changed, and steps that finished', () => {
    const first = watchFacts(status());
    assert.deepEqual(changedLines(new Map(), first), [
      'stage refine · cost $0.3354 · 120 particles',
      'TS_01 done',
      'TS_03 failed: TS_03.rawtlt: 40 angles, stack has 41 images',
      'TS_43 running',
      'TS_45 waiting',
      'picks approved by alice at 2025-03-01 12:10:00Z: fine',
      'refine iteration 3, 31.25 Å',
      'running refine (embedded-10164-20250301-120005/refine)',
      'running TS_43 (embedded-10164-20250301-120005/TS_43/reconstruct)',
    ]);
    assert.deepEqual(changedLines(first, watchFacts(status())), []);
    const later = watchFacts(
      status({
        tiltSeries: { ...status().tiltSeries, TS_43: { status: 'done' } },
        running: { refine: 'embedded-10164-20250301-120005/refine' },
        refine: { iteration: 4, resolution: 27.1, finished: false, history: [] },
      }),
    );
    assert.deepEqual(changedLines(first, later), ['TS_43 done', 'refine iteration 4, 27.10 Å', 'finished TS_43']);
  });

  test('watchFacts + changedLines: each campaign event once, in order (a hang relaxed, a step moved)', () => {
    const relaxed = {
      at: '2025-03-01T12:01:00.000Z',
      step: 'refine',
      text: 'refine: job 8 replaced by job 10 (relaxed: now rung 2 (dev/gpu, gpu:4))',
    };
    const moved = {
      at: '2025-03-01T12:01:01.000Z',
      step: 'postprocess',
      text: 'postprocess: queued behind job 10 now, not 8',
    };
    const one = watchFacts(status({ events: [relaxed] }));
    const two = watchFacts(status({ events: [relaxed, moved] }));
    assert.deepEqual(changedLines(watchFacts(status()), one), [relaxed.text]);
    assert.deepEqual(changedLines(one, two), [moved.text]);
    assert.deepEqual(changedLines(two, watchFacts(status({ events: [relaxed, moved] }))), []);
  });

  test('plainView prints a line per change, and "unavailable" once per reason', () => {
    const out: string[] = [];
    const view = plainView(
      (l) => out.push(l),
      () => '12:00:00',
    );
    view.update(
      status({
        tiltSeries: { TS_01: { status: 'running' } },
        running: {},
        picks: { state: 'not-required' },
        refine: { finished: false, history: [] },
        particles: undefined,
      }),
    );
    view.update(
      status({
        tiltSeries: { TS_01: { status: 'running' } },
        running: {},
        picks: { state: 'not-required' },
        refine: { finished: false, history: [] },
        particles: undefined,
      }),
    );
    view.unavailable('no worker');
    view.unavailable('no worker');
    view.update(
      status({
        tiltSeries: { TS_01: { status: 'done' } },
        running: {},
        picks: { state: 'not-required' },
        refine: { finished: false, history: [] },
        particles: undefined,
      }),
    );
    assert.deepEqual(out, [
      '12:00:00  stage refine · cost $0.3354',
      '12:00:00  TS_01 running',
      '12:00:00  status unavailable: no worker',
      '12:00:00  TS_01 done',
    ]);
  });

  test('bars: tilt series states and the refine payload', () => {
    assert.deepEqual(tiltSeriesBar('waiting'), { value: 0, label: 'waiting' });
    assert.deepEqual(tiltSeriesBar('running'), { value: 0.5, label: 'running' });
    assert.deepEqual(tiltSeriesBar('done'), { value: 1, label: 'done' });
    assert.deepEqual(tiltSeriesBar('failed'), { value: 1, label: 'FAILED' });
    assert.deepEqual(refineBar({ finished: false, history: [] }), {
      value: 0,
      total: 25,
      iteration: '-',
      resolution: '-',
    });
    assert.deepEqual(refineBar({ iteration: 3, resolution: 31.254, finished: false, history: [] }), {
      value: 3,
      total: 25,
      iteration: '3',
      resolution: '31.25 Å',
    });
    assert.deepEqual(refineBar({ iteration: 30, resolution: 20, finished: false, history: [] }), {
      value: 30,
      total: 31,
      iteration: '30',
      resolution: '20.00 Å',
    });
    assert.deepEqual(refineBar({ iteration: 12, resolution: 20, finished: true, history: [] }), {
      value: 12,
      total: 12,
      iteration: '12',
      resolution: '20.00 Å',
    });
  });

  test('outcomeLine: completed with numbers, otherwise status and failure', () => {
    assert.equal(
      outcomeLine('c1', { workflowStatus: 'COMPLETED', record: record() }),
      'campaign c1 completed: final 28.40 Å (FSC 0.143), B-factor -812 Å², 240 particles, cost $0.3351',
    );
    assert.equal(
      outcomeLine('c1', { workflowStatus: 'CANCELLED', failure: 'Workflow cancelled' }),
      'campaign c1 cancelled: Workflow cancelled',
    );
  });
});
