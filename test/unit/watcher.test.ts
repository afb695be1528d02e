/**
 * SlurmWatcher's own logic (batching, finished set, call-rate floor, shares, failure handling),
 * driven by a stand-in status query that records every call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeScheduler, makeWatcher, waitUntil, quietPeriod, ids } from '../helpers/fake-scheduler.js';

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
});
