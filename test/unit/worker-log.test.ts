import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { conciseLogger, formatLogLine, logLevelFromEnv } from '../../src/worker-log.js';

const at = 1_764_000_000_000n * 1_000_000n;

describe('worker log lines', () => {
  it('one line: level, message, where, and the error chain, no stack', () => {
    const cause = ApplicationFailure.create({ type: 'SshUnavailable', message: 'connect ECONNREFUSED 127.0.0.1:2222' });
    const error = new Error('Activity task failed\nsecond line', { cause });
    const line = formatLogLine({
      level: 'WARN',
      message: 'Activity failed',
      timestampNanos: at,
      meta: { workflowType: 'clusterJob', workflowId: 'c1/refine', activityType: 'submitJob', attempt: 2, error },
    });
    assert.equal(
      line,
      '2025-11-24T16:00:00.000Z [WARN] Activity failed ' +
        '(workflowType=clusterJob workflowId=c1/refine activityType=submitJob attempt=2): ' +
        'Activity task failed second line ← connect ECONNREFUSED 127.0.0.1:2222 [SshUnavailable]',
    );
    assert.ok(!line.includes('    at '), line);
  });

  it('the whole entry after the line only at DEBUG and TRACE', () => {
    const out: string[] = [];
    conciseLogger('WARN', (t) => out.push(t)).warn('Workflow failed', { workflowId: 'w', error: new Error('boom') });
    conciseLogger('WARN', (t) => out.push(t)).debug('not shown');
    assert.equal(out.length, 1);
    const debug: string[] = [];
    conciseLogger('DEBUG', (t) => debug.push(t)).warn('Workflow failed', { workflowId: 'w', error: new Error('boom') });
    assert.equal(debug.length, 2);
    assert.match(debug[1]!, /at .*worker-log\.test\.ts/);
  });

  it('CRYOET_LOG_LEVEL, any case; anything else keeps the default', () => {
    assert.equal(logLevelFromEnv('WARN', { CRYOET_LOG_LEVEL: 'debug' }), 'DEBUG');
    assert.equal(logLevelFromEnv('WARN', { CRYOET_LOG_LEVEL: 'loud' }), 'WARN');
    assert.equal(logLevelFromEnv('INFO', {}), 'INFO');
  });
});
