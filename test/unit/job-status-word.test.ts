import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jobStatusWord } from '../../src/workflows/job-record.js';

describe('CryoStatus word for a clusterJob event', () => {
  const cases: [Parameters<typeof jobStatusWord>[0], string][] = [
    [{ kind: 'submitted' }, 'pending'],
    [{ kind: 'observed', state: 'PENDING', reason: 'ReqNodeNotAvail, UnavailableNodes:c1' }, 'waiting-capacity'],
    [{ kind: 'observed', state: 'PENDING', reason: 'Resources' }, 'waiting-capacity'],
    [{ kind: 'observed', state: 'PENDING', reason: 'Priority' }, 'pending'],
    [{ kind: 'observed', state: 'PENDING', reason: 'Dependency' }, 'pending'],
    [{ kind: 'observed', state: 'CONFIGURING' }, 'waiting-capacity'], // a CLOUD node booting: capacity not there yet
    [{ kind: 'observed', state: 'RUNNING' }, 'running'],
    [{ kind: 'observed', state: 'NODE_FAIL' }, 'rescheduling'],
    [{ kind: 'observed', state: 'WEIRD_NEW_STATE' }, 'pending'],
    [{ kind: 'requeued', state: 'PENDING', reason: 'BeginTime' }, 'pending'],
    [{ kind: 'hung' }, 'relaxing'],
    [{ kind: 'relaxed' }, 'relaxing'],
    [{ kind: 'lost' }, 'rescheduling'],
    [{ kind: 'resumed' }, 'rescheduling'],
    [{ kind: 'completed', state: 'COMPLETED' }, 'done'],
    [{ kind: 'failed', state: 'FAILED' }, 'failed'],
    [{ kind: 'exhausted' }, 'failed'],
    [{ kind: 'cancelled' }, 'cancelled'],
  ];
  for (const [event, word] of cases) {
    it(`${event.kind} ${event.state ?? ''} ${event.reason ?? ''} → ${word}`, () =>
      assert.equal(jobStatusWord(event), word));
  }
});
