import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WORKER_V8_FLAGS, workerV8Flags } from '../../src/worker-heap.js';

test('a worker applies the memory-sized V8 flags unless CRYOET_WORKER_V8_FLAGS says otherwise', () => {
  assert.equal(workerV8Flags({}), WORKER_V8_FLAGS);
  assert.match(WORKER_V8_FLAGS, /--optimize-for-size/);
  assert.match(WORKER_V8_FLAGS, /--max-semi-space-size=1\b/);
  assert.equal(workerV8Flags({ CRYOET_WORKER_V8_FLAGS: '' }), '', 'empty keeps V8 defaults');
  assert.equal(workerV8Flags({ CRYOET_WORKER_V8_FLAGS: ' --max-semi-space-size=8 ' }), '--max-semi-space-size=8');
});
