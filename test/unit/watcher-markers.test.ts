/**
 * SlurmWatcher: running jobs' result markers looked for between status calls (one file check,
 * not a scheduler call), driven by a stand-in status query and marker check.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeScheduler, makeWatcher, waitUntil, quietPeriod } from '../helpers/fake-scheduler.js';

describe('SlurmWatcher', () => {
  describe('result markers between status calls', () => {
    /** A marker stand-in: paths that exist, and every check it received. */
    function fakeMarkers() {
      const existing = new Set<string>();
      const checks: { paths: readonly string[]; at: number }[] = [];
      let failWith: string | undefined;
      return {
        existing,
        checks,
        fail: (message: string | undefined) => {
          failWith = message;
        },
        query: async (paths: readonly string[]) => {
          checks.push({ paths: [...paths], at: Date.now() });
          if (failWith !== undefined) throw new Error(failWith);
          return new Set(paths.filter((p) => existing.has(p)));
        },
      };
    }

    it('sees a long job end at the next marker check, not at the backed-off status call', async () => {
      const scheduler = new FakeScheduler();
      scheduler.jobs.set('1101', { state: 'RUNNING', nodes: 'n1' });
      scheduler.jobs.set('1102', { state: 'PENDING', reason: 'Resources' });
      const markers = fakeMarkers();
      // Status calls back off to 3 s; markers are looked for every 50 ms.
      const { watcher } = makeWatcher(scheduler, {
        minIntervalMs: 50,
        maxIntervalMs: 3000,
        maxCallsPerMinute: 600,
        markerQuery: markers.query,
        markerIntervalMs: 50,
        markerSettleMs: 20,
      });
      try {
        watcher.register('1101', '/w/jobs/a/result');
        watcher.register('1102', '/w/jobs/b/result');
        const running = await watcher.waitForChange('1101', 0, 1000);
        assert.equal(running.state, 'RUNNING');
        // Let the status calls back off past a second.
        await quietPeriod(1500);
        const callsBefore = scheduler.calls.length;
        assert.ok(callsBefore <= 12, `${callsBefore} status calls in 1.5 s: no back-off`);
        assert.ok(markers.checks.length >= 5, `${markers.checks.length} marker checks in 1.5 s`);
        // Only the running job's marker is looked for; the pending one cannot have one.
        for (const check of markers.checks) assert.deepEqual(check.paths, ['/w/jobs/a/result']);

        // The job ends right after a status call, when the next is about two seconds off.
        const callsNow = scheduler.calls.length;
        await waitUntil('the next status call', () => scheduler.calls.length > callsNow, 4000);
        const endedAt = Date.now();
        scheduler.jobs.set('1101', { state: 'COMPLETED', nodes: 'n1' });
        markers.existing.add('/w/jobs/a/result');
        const done = await watcher.waitForChange('1101', running.version, 5000);
        const tookMs = Date.now() - endedAt;
        assert.equal(done.state, 'COMPLETED');
        assert.ok(tookMs < 600, `end seen after ${tookMs} ms (status calls were up to 3 s apart)`);
        assert.equal(watcher.stats.markersSeen, 1);
        // Marker checks are not status calls.
        assert.equal(watcher.stats.calls, scheduler.calls.length);
      } finally {
        watcher.close();
      }
    });

    it('keeps polling fast after a marker until Slurm records the end, within the floor', async () => {
      const scheduler = new FakeScheduler();
      scheduler.jobs.set('1201', { state: 'RUNNING', nodes: 'n1' });
      const markers = fakeMarkers();
      const { watcher } = makeWatcher(scheduler, {
        minIntervalMs: 50,
        maxIntervalMs: 3000,
        maxCallsPerMinute: 600,
        markerQuery: markers.query,
        markerIntervalMs: 50,
        markerSettleMs: 0,
      });
      try {
        watcher.register('1201', '/w/jobs/c/result');
        const running = await watcher.waitForChange('1201', 0, 1000);
        await quietPeriod(1200);
        // The marker is written but Slurm still says COMPLETING for a while.
        markers.existing.add('/w/jobs/c/result');
        scheduler.jobs.set('1201', { state: 'COMPLETING', nodes: 'n1' });
        const completing = await watcher.waitForChange('1201', running.version, 2000);
        assert.equal(completing.state, 'COMPLETING');
        const at = Date.now();
        setTimeout(() => scheduler.jobs.set('1201', { state: 'COMPLETED', nodes: 'n1' }), 300);
        const done = await watcher.waitForChange('1201', completing.version, 5000);
        assert.equal(done.state, 'COMPLETED');
        assert.ok(Date.now() - at < 700, `COMPLETED seen ${Date.now() - at} ms after COMPLETING`);
        const gaps = scheduler.calls.slice(1).map((c, i) => c.at - scheduler.calls[i]!.at);
        for (const gap of gaps)
          assert.ok(gap >= 99, `status calls ${gap} ms apart breaks 600/minute (${gaps.join(', ')})`);
      } finally {
        watcher.close();
      }
    });

    it(
      'a watch that goes on (registered with what was seen) ' + 'keeps the pace and looks for the marker at once',
      async () => {
        // The workflow's next watch of a running job may land on another worker's watcher: it
        // must not poll fast again (every worker would, for every change), and the job is
        // running already, so its marker is looked for before any status call.
        const scheduler = new FakeScheduler();
        scheduler.jobs.set('1201', { state: 'PENDING', reason: 'Resources' });
        scheduler.jobs.set('1202', { state: 'RUNNING', nodes: 'n1' });
        const markers = fakeMarkers();
        const { watcher } = makeWatcher(scheduler, {
          minIntervalMs: 20,
          maxIntervalMs: 2000,
          maxCallsPerMinute: 60_000,
          markerQuery: markers.query,
          markerIntervalMs: 20,
        });
        try {
          watcher.register('1201');
          await waitUntil('the job seen', () => watcher.current('1201')!.version > 0);
          // Let it back off well past the minimum.
          await quietPeriod(600);
          const before = scheduler.calls.length;
          const seen = watcher.register('1202', '/w/jobs/c/result', { state: 'RUNNING', nodes: 'n1' });
          assert.equal(seen.move, 'running');
          assert.equal(seen.version, 0, 'what the registrant saw is not news');
          await waitUntil('a marker check for the continued job', () => markers.checks.length > 0, 2000);
          await quietPeriod(200);
          assert.ok(
            scheduler.calls.length - before <= 1,
            `${scheduler.calls.length - before} status calls in 200 ms after it`,
          );
          // Unchanged in the next status call: no news for its waiter.
          assert.equal(watcher.current('1202')!.version, 0);
        } finally {
          watcher.close();
        }
      },
    );

    it('logs a failing marker check and still finds the end through status calls', async () => {
      const scheduler = new FakeScheduler();
      scheduler.jobs.set('1301', { state: 'RUNNING', nodes: 'n1' });
      const markers = fakeMarkers();
      markers.fail('ssh: channel open failure');
      const { watcher, logs } = makeWatcher(scheduler, {
        minIntervalMs: 30,
        maxIntervalMs: 300,
        maxCallsPerMinute: 6000,
        markerQuery: markers.query,
        markerIntervalMs: 30,
      });
      try {
        watcher.register('1301', '/w/jobs/d/result');
        const running = await watcher.waitForChange('1301', 0, 1000);
        await waitUntil(
          'a failed marker check',
          () => logs.some((l) => l.includes('result-marker check for 1 job(s) failed')),
          2000,
        );
        markers.existing.add('/w/jobs/d/result');
        scheduler.jobs.set('1301', { state: 'COMPLETED', nodes: 'n1' });
        const done = await watcher.waitForChange('1301', running.version, 3000);
        assert.equal(done.state, 'COMPLETED');
        assert.equal(watcher.stats.markersSeen, 0);
      } finally {
        watcher.close();
      }
    });
  });
});
