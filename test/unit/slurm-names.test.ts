import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import { jobKey, jobNameFor, keyFromJobName } from '../../src/slurm/job-key.js';
import { assertSafeName, MAX_NAME_LENGTH } from '../../src/slurm/names.js';

function throwsNameInvalid(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CryoError, `expected CryoError, got ${String(err)}`);
    assert.equal(err.type, ErrorType.NameInvalid);
    assert.equal(err.nonRetryable, true);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('assertSafeName', () => {
  const good: string[] = [
    'a',
    'cryoet.demo.c1.TS_01.align',
    'gpu',
    'A-b_c.9',
    'x'.repeat(MAX_NAME_LENGTH),
    '.',
    '-leading-dash',
  ];
  for (const value of good) {
    it(`accepts ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value)}`, () => {
      assertSafeName(value, 'job name');
    });
  }

  const bad: [string, RegExp][] = [
    ['a|b', /^job name "a\|b": expected letters, digits, '\.', '_' or '-'/],
    ['', /^job name "":/],
    ['a b', /"a b"/],
    ['a/b', /"a\/b"/],
    ['tab\there', /expected letters/],
    ['new\nline', /expected letters/],
    ["quote'", /expected letters/],
    ['$(id)', /expected letters/],
    ['ünï', /expected letters/],
    ['x'.repeat(MAX_NAME_LENGTH + 1), /129 characters, at most 128 allowed/],
  ];
  for (const [value, message] of bad) {
    it(`rejects ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}...` : value)}`, () => {
      throwsNameInvalid(() => assertSafeName(value, 'job name'), message);
    });
  }

  it('names the field in the message', () => {
    throwsNameInvalid(() => assertSafeName('a b', 'partition'), /^partition "a b"/);
  });
});

describe('jobKey / jobNameFor / keyFromJobName', () => {
  const rows: { workflowId: string; step: string; key: string; name: string }[] = [
    {
      workflowId: 'cryoet/demo/c1/TS_01',
      step: 'align',
      key: 'cryoet/demo/c1/TS_01/align',
      name: 'cryoet.cryoet.demo.c1.TS_01.align',
    },
    { workflowId: 'test-1234', step: 'sleep', key: 'test-1234/sleep', name: 'cryoet.test-1234.sleep' },
    {
      workflowId: 'EMPIAR-10164',
      step: 'reconstruct_3',
      key: 'EMPIAR-10164/reconstruct_3',
      name: 'cryoet.EMPIAR-10164.reconstruct_3',
    },
  ];
  for (const row of rows) {
    it(`${row.key} → ${row.name} and back`, () => {
      assert.equal(jobKey(row.workflowId, row.step), row.key);
      assert.equal(jobNameFor(row.key), row.name);
      assert.equal(keyFromJobName(row.name), row.key);
    });
  }

  it('is the same on every call (stable across retries)', () => {
    assert.equal(jobKey('cryoet/demo/c1', 'align'), jobKey('cryoet/demo/c1', 'align'));
  });

  const badKeys: [string, string, RegExp][] = [
    ['cryoet/v1.2/c1', 'align', /segment "v1\.2".*'\.' is reserved/],
    ['cryoet/demo', 'al.ign', /^step "al\.ign"/],
    ['/cryoet/demo', 'align', /segment ""/],
    ['cryoet//demo', 'align', /segment ""/],
    ['cryoet/demo/', 'align', /segment ""/],
    ['', 'align', /^workflow id "": segment ""/],
    ['cryoet/demo', '', /^step ""/],
    ['cryoet/de mo', 'align', /segment "de mo"/],
    ['cryoet/a|b', 'align', /segment "a\|b"/],
    ['cryoet/demo', 'a/b', /^step "a\/b": expected one segment/],
    ['x'.repeat(120), 'align', /at most 128 allowed/],
  ];
  for (const [workflowId, step, message] of badKeys) {
    it(`rejects workflow id ${JSON.stringify(workflowId.slice(0, 30))} step ${JSON.stringify(step)}`, () => {
      throwsNameInvalid(() => jobKey(workflowId, step), message);
    });
  }

  it('jobNameFor rejects keys with dots, so a.b/c and a/b.c cannot collide', () => {
    throwsNameInvalid(() => jobNameFor('a.b/c'));
    throwsNameInvalid(() => jobNameFor('a/b.c'));
  });

  const notOurs: string[] = ['wrap', 'cryoet', 'cryoet.', 'cryoet.a..b', 'cryoet.a.', 'xcryoet.a', 'cryoet.a b'];
  for (const name of notOurs) {
    it(`keyFromJobName(${JSON.stringify(name)}) is undefined`, () => {
      assert.equal(keyFromJobName(name), undefined);
    });
  }
});
