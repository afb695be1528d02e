import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import { checkTiltSeries, parseRawtlt } from '../../src/tools/rawtlt.js';

function throwsInvalid(fn: () => unknown, ...fragments: string[]): CryoError {
  let caught: CryoError | undefined;
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CryoError, `not a CryoError: ${String(err)}`);
    assert.equal(err.type, ErrorType.InputInvalid);
    for (const f of fragments)
      assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    caught = err;
    return true;
  });
  return caught!;
}

describe('parseRawtlt', () => {
  it('reads angles in file order', () => {
    assert.deepEqual(parseRawtlt('-60.0\n-57\n0\n3.00\n60\n', 'TS_01.rawtlt'), [-60, -57, 0, 3, 60]);
  });

  it('accepts CRLF, blank lines, padding, extra columns and the ends of the range', () => {
    assert.deepEqual(parseRawtlt('\r\n  -90  \r\n\r\n+1.5 12.3 extra\r\n90\r\n1e1', 's'), [-90, 1.5, 90, 10]);
  });

  const bad: [string, string, string[]][] = [
    ['a non-number', '0\n3\nabc\n', ['TS_01.rawtlt:3:', '"abc"']],
    ['a number with junk', '0\n3deg\n', ['TS_01.rawtlt:2:', '"3deg"']],
    ['NaN', 'NaN\n', ['TS_01.rawtlt:1:']],
    ['an angle above 90', '0\n\n90.5\n', ['TS_01.rawtlt:3:', '90.5', '[-90, 90]']],
    ['an angle below -90', '-91\n', ['TS_01.rawtlt:1:', '-91']],
    ['an empty file', '', ['TS_01.rawtlt', 'no tilt angles']],
    ['a blank file', ' \n\r\n\t\n', ['TS_01.rawtlt', 'no tilt angles']],
  ];
  for (const [what, text, fragments] of bad) {
    it(`throws InputInvalid for ${what}`, () => {
      throwsInvalid(() => parseRawtlt(text, 'TS_01.rawtlt'), ...fragments);
    });
  }
});

describe('checkTiltSeries', () => {
  it('passes when the stack has one image per angle', () => {
    checkTiltSeries({
      stackSource: '/d/TS_01.mrc',
      header: { nz: 3 },
      anglesSource: '/d/TS_01.rawtlt',
      angles: [-3, 0, 3],
    });
  });

  it('throws naming both files by basename, with full paths in details', () => {
    const angles = Array.from({ length: 40 }, (_, i) => -60 + i * 3);
    const err = throwsInvalid(
      () =>
        checkTiltSeries({
          stackSource: '/data/run1/TS_01.mrc',
          header: { nz: 41 },
          anglesSource: '/data/run1/TS_01.rawtlt',
          angles,
        }),
      'TS_01.mrc has 41 tilt images but TS_01.rawtlt has 40 angles',
    );
    assert.equal(err.message, 'TS_01.mrc has 41 tilt images but TS_01.rawtlt has 40 angles');
    assert.equal(err.details?.['stackSource'], '/data/run1/TS_01.mrc');
    assert.equal(err.details?.['anglesSource'], '/data/run1/TS_01.rawtlt');
  });
});
