/**
 * SlurmWatcher's own logic (batching, finished set, call-rate floor, failure handling),
 * driven by a stand-in status query that records every call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlurmWatcher, type WatcherOptions } from '../../src/scheduler/watcher.js';
import type { SqueueRow } from '../../src/slurm/parse-squeue.js';

interface Call {
  readonly ids: readonly string[];
  readonly at: number;
}

interface Remote {
  state: string;
  reason?: string;
  nodes?: string;
}

/** A scheduler stand-in: jobs it knows, an optional failure, and the calls it received. */
class FakeScheduler {
  readonly jobs = new Map<string, Remote>();
  readonly calls: Call[] = [];
  failWith: string | undefined;

  readonly query = async (ids: readonly string[]): Promise<readonly SqueueRow[]> => {
    this.calls.push({ ids: [...ids], at: Date.now() });
    if (this.failWith !== undefined) throw new Error(this.failWith);
    return ids.flatMap((jobId) => {
      const job = this.jobs.get(jobId);
      return job ? [{ jobId, name: `cryoet-watcher-test-${jobId}`, ...job }] : [];
    });
  };
}

function makeWatcher(scheduler: FakeScheduler, options: Partial<WatcherOptions> = {}) {
  const logs: string[] = [];
  const watcher = new SlurmWatcher({
    query: scheduler.query,
    minIntervalMs: 10,
    maxIntervalMs: 40,
    maxCallsPerMinute: 60_000,
    log: (line) => logs.push(line),
    ...options,
  });
  return { watcher, logs };
}

/** Polls `condition` until it holds or the deadline passes (then fails with `what`). */
async function waitUntil(what: string, condition: () => boolean, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets `ms` pass; only for asserting that something does NOT happen. */
function quietPeriod(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('SlurmWatcher', () => {
  it('asks about all registered jobs in one call per poll', async () => {
    const scheduler = new FakeScheduler();
    const jobs = ids(10, '10');
    for (const id of jobs) scheduler.jobs.set(id, { state: 'RUNNING', nodes: 'n1' });
    const { watcher } = makeWatcher(scheduler);
    try {
      for (const id of jobs) watcher.register(id);
      await waitUntil('4 status calls', () => scheduler.calls.length >= 4);
      // The first registration starts the loop at once; every later poll covers all ten.
      const [first, ...rest] = scheduler.calls;
      assert.ok(
        first!.ids.every((id) => jobs.includes(id)),
        JSON.stringify(first),
      );
      for (const call of rest) assert.deepEqual([...call.ids].sort(), [...jobs].sort());
      assert.equal(watcher.stats.calls, scheduler.calls.length);
      for (const id of jobs) assert.equal(watcher.current(id)?.state, 'RUNNING');
    } finally {
      watcher.close();
    }
  });

  it('stops asking about a job once it is COMPLETED and wakes its waiter with final=true', async () => {
    const scheduler = new FakeScheduler();
    scheduler.jobs.set('201', { state: 'RUNNING', nodes: 'n1' });
    scheduler.jobs.set('202', { state: 'PENDING', reason: 'Resources' });
    const { watcher } = makeWatcher(scheduler);
    try {
      watcher.register('201');
      watcher.register('202');
      const running = await watcher.waitForChange('201', 0, 1000);
      assert.equal(running.state, 'RUNNING');
      assert.equal(running.final, false);

      const waiting = watcher.waitForChange('201', running.version, 2000);
      scheduler.jobs.set('201', { state: 'COMPLETED', nodes: 'n1' });
      const done = await waiting;
      assert.deepEqual(
        { state: done.state, move: done.move, final: done.final, version: done.version },
        { state: 'COMPLETED', move: 'done', final: true, version: running.version + 1 },
      );

      const seenAt = scheduler.calls.length;
      await waitUntil('3 more status calls', () => scheduler.calls.length >= seenAt + 3);
      for (const call of scheduler.calls.slice(seenAt)) assert.deepEqual(call.ids, ['202']);
      // Once final, it stays final even if a stale row turned up.
      assert.equal(watcher.current('201')?.final, true);
    } finally {
      watcher.close();
    }
  });

  it('holds the maxCallsPerMinute floor while 50 jobs register over 300 ms', async () => {
    const scheduler = new FakeScheduler();
    const jobs = ids(50, '30');
    for (const id of jobs) scheduler.jobs.set(id, { state: 'PENDING', reason: 'Priority' });
    // 600 calls/minute → at least 100 ms between calls, although minIntervalMs is 10.
    const { watcher } = makeWatcher(scheduler, { minIntervalMs: 10, maxIntervalMs: 40, maxCallsPerMinute: 600 });
    try {
      const started = Date.now();
      for (const id of jobs) {
        watcher.register(id);
        await new Promise((resolve) => setTimeout(resolve, 6));
      }
      await waitUntil('a call covering all 50 jobs', () => scheduler.calls.some((c) => c.ids.length === 50), 1000);
      const elapsed = Date.now() - started;
      const gaps = scheduler.calls.slice(1).map((c, i) => c.at - scheduler.calls[i]!.at);
      // Date.now() granularity: the watcher and the stand-in read the clock a tick apart.
      for (const gap of gaps) assert.ok(gap >= 99, `calls ${gap} ms apart (gaps: ${gaps.join(', ')})`);
      assert.ok(
        scheduler.calls.length <= Math.floor(elapsed / 100) + 1,
        `${scheduler.calls.length} calls in ${elapsed} ms breaks 600/minute`,
      );
      // And far fewer calls than registrations.
      assert.ok(scheduler.calls.length < 10, `${scheduler.calls.length} calls for 50 registrations`);
    } finally {
      watcher.close();
    }
  });

  it('a share of 4 spaces the calls 4 times as far (the floor of maxCallsPerMinute with them)', async () => {
    const scheduler = new FakeScheduler();
    scheduler.jobs.set('401', { state: 'PENDING', reason: 'Priority' });
    // 600 calls/minute: 100 ms apart alone; as one of 4 workers, 400 ms.
    const { watcher } = makeWatcher(scheduler, { minIntervalMs: 10, maxIntervalMs: 40, maxCallsPerMinute: 600 });
    try {
      watcher.setShare(4);
      assert.equal(watcher.share, 4);
      watcher.register('401');
      await waitUntil('three calls', () => scheduler.calls.length >= 3, 3000);
      const gaps = scheduler.calls.slice(1).map((c, i) => c.at - scheduler.calls[i]!.at);
      for (const gap of gaps)
        assert.ok(gap >= 399, `calls ${gap} ms apart with a share of 4 (gaps: ${gaps.join(', ')})`);
      watcher.setShare(1);
      const before = scheduler.calls.length;
      await waitUntil('two more calls', () => scheduler.calls.length >= before + 2, 3000);
      const last = scheduler.calls.at(-1)!.at - scheduler.calls.at(-2)!.at;
      assert.ok(last < 300, `back to its own budget: ${last} ms apart`);
    } finally {
      watcher.close();
    }
  });

  it('4 watchers on a share of 4 back off on one clock: together they call about as often as one alone', async () => {
    // Each watcher has one pending job that never changes. After its first call, count the
    // calls of the next 1.5 s. Alone (20 ms growing by half the quiet time, to 400 ms): about
    // 8. Four at 4x the gap but backing off per call, as before, made about 20 between them.
    const windowMs = 1500;
    const count = async (share: number, watchers: number) => {
      const schedulers = Array.from({ length: watchers }, () => new FakeScheduler());
      const made = schedulers.map(
        (scheduler) => makeWatcher(scheduler, { minIntervalMs: 20, maxIntervalMs: 400 }).watcher,
      );
      try {
        made.forEach((w, i) => {
          schedulers[i]!.jobs.set(`90${i}`, { state: 'PENDING', reason: 'Resources' });
          w.setShare(share);
          w.register(`90${i}`);
        });
        await waitUntil('every first call', () => schedulers.every((s) => s.calls.length >= 1));
        const firsts = schedulers.map((s) => s.calls[0]!.at);
        await quietPeriod(windowMs + 50);
        return schedulers.reduce(
          (n, s, i) => n + s.calls.filter((c) => c.at > firsts[i]! && c.at <= firsts[i]! + windowMs).length,
          0,
        );
      } finally {
        made.forEach((w) => w.close());
      }
    };
    const [alone, shared] = await Promise.all([count(1, 1), count(4, 4)]);
    assert.ok(alone >= 3, `one watcher alone made ${alone} calls in ${windowMs} ms`);
    assert.ok(shared <= alone * 1.5 + 1, `4 watchers on a share of 4 made ${shared} calls, one alone ${alone}`);
  });

  it('keeps the last known state through failing calls, counts and logs them, then recovers', async () => {
    const scheduler = new FakeScheduler();
    scheduler.jobs.set('401', { state: 'RUNNING', nodes: 'n2' });
    const { watcher, logs } = makeWatcher(scheduler);
    try {
      watcher.register('401');
      const running = await watcher.waitForChange('401', 0, 1000);
      assert.equal(running.state, 'RUNNING');

      const error = 'squeue: error: slurm_load_jobs error: Socket timed out on send/recv operation';
      scheduler.failWith = error;
      scheduler.jobs.set('401', { state: 'COMPLETED', nodes: 'n2' });
      await waitUntil('2 failed calls', () => watcher.stats.failures >= 2);
      assert.equal(watcher.current('401'), running, 'observation unchanged while calls fail');
      const failureLogs = logs.filter((l) => l.includes(error));
      assert.ok(failureLogs.length >= 2, logs.join('\n'));
      assert.match(failureLogs[0]!, /status call for 1 job\(s\) failed \(1 so far\), keeping last known states: /);

      const failures = watcher.stats.failures;
      scheduler.failWith = undefined;
      const done = await watcher.waitForChange('401', running.version, 2000);
      assert.equal(done.state, 'COMPLETED');
      assert.equal(done.final, true);
      assert.ok(watcher.stats.failures >= failures);
      assert.ok(watcher.stats.calls > watcher.stats.failures);
    } finally {
      watcher.close();
    }
  });

  it('treats an unknown state as pending and logs it once only', async () => {
    const scheduler = new FakeScheduler();
    scheduler.jobs.set('501', { state: 'WEIRD' });
    const { watcher, logs } = makeWatcher(scheduler);
    try {
      watcher.register('501');
      await waitUntil('5 status calls', () => scheduler.calls.length >= 5);
      const observation = watcher.current('501');
      assert.equal(observation?.state, 'WEIRD');
      assert.equal(observation?.move, 'pending');
      assert.equal(observation?.final, false);
      assert.equal(observation?.version, 1, 'repeated identical rows are not changes');
      const unknown = logs.filter((l) => l.includes('unknown Slurm state'));
      assert.deepEqual(unknown, ['job 501: unknown Slurm state "WEIRD", treating it as pending']);
      // Still asked about: an unknown state is not final.
      assert.deepEqual(scheduler.calls.at(-1)?.ids, ['501']);
    } finally {
      watcher.close();
    }
  });

  it('leaves a job the scheduler does not list as SUBMITTED/pending, never success', async () => {
    const scheduler = new FakeScheduler();
    const { watcher } = makeWatcher(scheduler);
    try {
      watcher.register('601');
      await waitUntil('3 status calls', () => scheduler.calls.length >= 3);
      assert.deepEqual(watcher.current('601'), {
        jobId: '601',
        state: 'SUBMITTED',
        move: 'pending',
        final: false,
        version: 0,
      });
      for (const call of scheduler.calls) assert.deepEqual(call.ids, ['601']);
    } finally {
      watcher.close();
    }
  });

  it('makes no calls without active jobs, and resumes on the next registration', async () => {
    const scheduler = new FakeScheduler();
    const { watcher } = makeWatcher(scheduler);
    try {
      await quietPeriod(60);
      assert.equal(scheduler.calls.length, 0, 'no calls before any registration');

      scheduler.jobs.set('701', { state: 'COMPLETED' });
      watcher.register('701');
      assert.equal((await watcher.waitForChange('701', 0, 1000)).final, true);
      const afterFinal = scheduler.calls.length;
      await quietPeriod(100);
      assert.equal(scheduler.calls.length, afterFinal, 'no calls once every job is final');

      scheduler.jobs.set('702', { state: 'RUNNING' });
      watcher.register('702');
      watcher.unregister('702');
      const afterUnregister = scheduler.calls.length;
      await quietPeriod(100);
      assert.equal(scheduler.calls.length, afterUnregister, 'no calls once every job is unregistered');
      assert.equal(watcher.current('702'), undefined);

      watcher.register('703');
      await waitUntil('a call for 703', () => scheduler.calls.some((c) => c.ids.includes('703')));
      assert.ok(
        scheduler.calls.slice(afterFinal).every((c) => !c.ids.includes('701')),
        'finished job never asked about again',
      );
    } finally {
      watcher.close();
    }
  });

  it('keeps watching while any registrant holds the job', async () => {
    const scheduler = new FakeScheduler();
    scheduler.jobs.set('801', { state: 'RUNNING' });
    const { watcher } = makeWatcher(scheduler);
    try {
      assert.equal(watcher.register('801'), watcher.register('801'), 'idempotent registration');
      watcher.unregister('801');
      const calls = scheduler.calls.length;
      await waitUntil('another call for 801', () => scheduler.calls.length > calls);
      assert.ok(watcher.current('801'));
      watcher.unregister('801');
      assert.equal(watcher.current('801'), undefined);
    } finally {
      watcher.close();
    }
  });

  it('waitForChange returns the current observation after its timeout', async () => {
    const scheduler = new FakeScheduler();
    scheduler.jobs.set('901', { state: 'PENDING', reason: 'ReqNodeNotAvail, UnavailableNodes:n3' });
    const { watcher } = makeWatcher(scheduler);
    try {
      watcher.register('901');
      const first = await watcher.waitForChange('901', 0, 1000);
      assert.equal(first.move, 'hang-candidate');
      assert.equal(first.reason, 'ReqNodeNotAvail, UnavailableNodes:n3');

      const started = Date.now();
      const same = await watcher.waitForChange('901', first.version, 60);
      const waited = Date.now() - started;
      assert.equal(same, first);
      assert.ok(waited >= 55 && waited < 1000, `waited ${waited} ms for a 60 ms timeout`);

      // An older version resolves at once.
      assert.equal(await watcher.waitForChange('901', first.version - 1, 10_000), first);
      await assert.rejects(watcher.waitForChange('nope', 0, 10), /job nope is not registered/);
    } finally {
      watcher.close();
    }
  });

  it('close() releases waiters with their current observation and stops polling', async () => {
    const scheduler = new FakeScheduler();
    scheduler.jobs.set('1001', { state: 'RUNNING' });
    const { watcher } = makeWatcher(scheduler);
    watcher.register('1001');
    const first = await watcher.waitForChange('1001', 0, 1000);
    const started = Date.now();
    const waiting = watcher.waitForChange('1001', first.version, 10_000);
    watcher.close();
    assert.equal(await waiting, first);
    assert.ok(Date.now() - started < 1000);
    const calls = scheduler.calls.length;
    await quietPeriod(60);
    assert.ok(scheduler.calls.length <= calls + 1, 'at most an in-flight call after close');
  });

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
