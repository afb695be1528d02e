/** Counting the workers of a task queue from DescribeTaskQueue's pollers (scheduler/share.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activeWorkers } from '../../src/scheduler/share.js';

const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

describe('activeWorkers', () => {
  const now = 1_800_000_000_000;

  it('distinct identities that polled within 90 s', () => {
    const pollers = [
      { identity: '101@vm', lastAccessTime: at(now - 1000) },
      { identity: '101@vm', lastAccessTime: at(now - 2000) },
      { identity: '202@vm', lastAccessTime: at(now - 80_000) },
      { identity: '303@vm', lastAccessTime: at(now - 200_000) }, // killed minutes ago
      { identity: '', lastAccessTime: at(now) },
    ];
    assert.equal(activeWorkers(pollers, now), 2);
  });

  it('never below 1; Long seconds as the proto gives them', () => {
    assert.equal(activeWorkers([], now), 1);
    const long = { toNumber: () => Math.floor(now / 1000) };
    assert.equal(activeWorkers([{ identity: 'a', lastAccessTime: { seconds: long } }, { identity: 'b' }], now), 2);
  });
});
