import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DURATION_EXPECTED, durationSchema, formatDuration, parseDuration } from '../../src/duration.js';

describe('parseDuration', () => {
  const valid: Array<[string, number]> = [
    ['500ms', 500],
    ['90s', 90_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1s500ms', 1_500],
    ['2d12h', 216_000_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['0s', 0],
    [' 5s ', 5_000],
  ];
  for (const [text, ms] of valid) {
    test(`${JSON.stringify(text)} → ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }

  const invalid: Array<[string, string]> = [
    ['', 'got an empty string'],
    ['600', 'a bare number has no unit'],
    ['1.5', 'write whole numbers with units'],
    ['-5s', 'cannot be negative'],
    ['1.5m', 'use whole numbers'],
    ['10 minutes', 'got "10 minutes"'],
    ['10min', 'got "10min"'],
    ['5w', 'got "5w"'],
    ['30m1h', 'got "30m1h"'], // units largest first
    ['1h1h', 'got "1h1h"'],
    ['h', 'got "h"'],
    ['PT5M', 'got "PT5M"'],
  ];
  for (const [text, fragment] of invalid) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseDuration(text),
        (error: unknown) =>
          error instanceof Error && error.message.startsWith(DURATION_EXPECTED) && error.message.includes(fragment),
      );
    });
  }

  test('the message lists the accepted forms', () => {
    assert.throws(() => parseDuration('soon'), /90s, 10m, 2h/);
  });
});

describe('formatDuration', () => {
  const rows: Array<[number, string]> = [
    [0, '0s'],
    [500, '500ms'],
    [1_500, '1s500ms'],
    [90_000, '1m30s'],
    [600_000, '10m'],
    [5_400_000, '1h30m'],
    [172_800_000, '2d'],
    [93_784_005, '1d2h3m4s5ms'],
    [1_499.6, '1s500ms'],
    [-90_000, '-1m30s'],
  ];
  for (const [ms, text] of rows) {
    test(`${ms} → ${text}`, () => assert.equal(formatDuration(ms), text));
  }

  test('parseDuration reads every formatted value back', () => {
    for (const ms of [0, 1, 999, 1_000, 59_999, 60_000, 3_599_999, 86_400_001, 123_456_789]) {
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
  });
});

describe('durationSchema', () => {
  test('outputs milliseconds', () => {
    assert.equal(durationSchema.parse('10m'), 600_000);
  });

  const invalid: Array<[unknown, string]> = [
    ['10 minutes', 'got "10 minutes"'],
    [600, 'got 600 (a bare number has no unit: write 600s or 600ms)'],
    [1.5, 'write whole numbers with units'],
    ['0s', 'expected a positive duration, got "0s"'],
    [null, 'got null'],
    [['1s'], 'got a list'],
  ];
  for (const [input, fragment] of invalid) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      const result = durationSchema.safeParse(input);
      assert.equal(result.success, false);
      assert.equal(result.error?.issues.length, 1);
      assert.ok(result.error.issues[0]!.message.includes(fragment), result.error.issues[0]!.message);
    });
  }

  test('a prefault goes through the parser', () => {
    assert.equal(durationSchema.prefault('10s').parse(undefined), 10_000);
  });
});
