import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import {
  formatStar,
  formatStarLoop,
  parseStar,
  starBlock,
  starColumn,
  starNumber,
  starNumberColumn,
} from '../../src/tools/star.js';

/** Asserts `fn` throws InputInvalid whose message includes every fragment. */
function throwsInvalid(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CryoError, `not a CryoError: ${String(err)}`);
    assert.equal(err.type, ErrorType.InputInvalid);
    for (const f of fragments)
      assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

const POSTPROCESS = `
# version 30001

data_general

_rlnFinalResolution                                  29.090909
_rlnBfactorUsedForSharpening                      -9523.213210
_rlnUnfilteredMapHalf1                 Refine3D/run_half1_class001_unfil.mrc

# version 30001

data_fsc

loop_ 
_rlnSpectralIndex #1 
_rlnResolution #2 
_rlnAngstromResolution #3 
_rlnFourierShellCorrelationCorrected #4 
            0     0.000000   999.000000     1.000000 
            1     0.003125   320.000000     0.999800 


# version 30001

data_guinier

loop_ 
_rlnResolutionSquared #1 
_rlnLogAmplitudesOriginal #2 
     0.000000    10.512345 
     0.000010     9.876543 
`;

const PARTICLES = `
# version 30001

data_optics

loop_
_rlnOpticsGroupName #1
_rlnOpticsGroup #2
_rlnImagePixelSize #3
opticsGroup1 1 10.000000

# version 30001

data_particles

loop_
_rlnTomoName #1
_rlnCoordinateX #2
_rlnCoordinateY #3
_rlnCoordinateZ #4
_rlnOpticsGroup #5
TS_01 100.5 200 30 1
TS_01 110 210.25 31 1
"TS 02" 120 220 32 1
`;

describe('parseStar', () => {
  it('reads a RELION 3.1 postprocess.star (trailing spaces, key-values, loops)', () => {
    const star = parseStar(POSTPROCESS, 'postprocess.star');
    assert.deepEqual(
      star.blocks.map((b) => b.name),
      ['general', 'fsc', 'guinier'],
    );
    const general = starBlock(star, 'general', 'postprocess.star');
    assert.deepEqual(general.values, {
      rlnFinalResolution: '29.090909',
      rlnBfactorUsedForSharpening: '-9523.213210',
      rlnUnfilteredMapHalf1: 'Refine3D/run_half1_class001_unfil.mrc',
    });
    assert.equal(general.loop, undefined);
    assert.equal(starNumber(general, 'rlnFinalResolution', 'postprocess.star'), 29.090909);
    const fsc = starBlock(star, 'fsc', 'postprocess.star');
    assert.deepEqual(fsc.loop?.columns, [
      'rlnSpectralIndex',
      'rlnResolution',
      'rlnAngstromResolution',
      'rlnFourierShellCorrelationCorrected',
    ]);
    assert.deepEqual(fsc.loop?.rows, [
      ['0', '0.000000', '999.000000', '1.000000'],
      ['1', '0.003125', '320.000000', '0.999800'],
    ]);
    assert.deepEqual(fsc.loop?.lines, [19, 20]);
    assert.deepEqual(starNumberColumn(fsc, 'rlnAngstromResolution', 'postprocess.star'), [999, 320]);
    assert.deepEqual(starColumn(starBlock(star, 'guinier', 'x'), 'rlnLogAmplitudesOriginal', 'x'), [
      '10.512345',
      '9.876543',
    ]);
  });

  it('reads a RELION 3.1 particles.star (optics + particles, quoted value, no trailing blank)', () => {
    const star = parseStar(PARTICLES, 'particles.star');
    const optics = starBlock(star, 'optics', 'particles.star');
    assert.deepEqual(starNumberColumn(optics, 'rlnImagePixelSize', 'particles.star'), [10]);
    const particles = starBlock(star, 'particles', 'particles.star');
    assert.deepEqual(starColumn(particles, 'rlnTomoName', 'particles.star'), ['TS_01', 'TS_01', 'TS 02']);
    assert.deepEqual(starNumberColumn(particles, 'rlnCoordinateY', 'particles.star'), [200, 210.25, 220]);
  });

  it('accepts CRLF, an empty data_ name, single quotes, and an empty loop', () => {
    const star = parseStar('data_\r\n_rlnA \'x y\'\r\n_rlnB ""\r\n\r\ndata_empty\r\nloop_\r\n_rlnC #1\r\n', 's');
    assert.equal(star.blocks[0]?.name, '');
    assert.deepEqual(star.blocks[0]?.values, { rlnA: 'x y', rlnB: '' });
    assert.deepEqual(star.blocks[1]?.loop?.columns, ['rlnC']);
    assert.deepEqual(star.blocks[1]?.loop?.rows, []);
  });

  it('keeps a key named __proto__ as a plain entry', () => {
    const star = parseStar('data_x\n___proto__ 1\n', 's');
    assert.equal(Object.getPrototypeOf(star.blocks[0]?.values), Object.prototype);
    assert.equal(Object.hasOwn(star.blocks[0]!.values, '__proto__'), true);
  });

  it('returns no blocks for comments only', () => {
    assert.deepEqual(parseStar('# version 30001\n\n', 's'), { blocks: [] });
  });

  const truncated = PARTICLES.replace('TS_01 110 210.25 31 1', 'TS_01 110 210.25 31');
  const bad: [string, string, string[]][] = [
    ['a truncated row', truncated, ['particles.star:23:', 'row has 4 values but the loop has 5 columns']],
    [
      'a row with too many values',
      'data_x\nloop_\n_rlnA #1\n1 2\n',
      ['particles.star:4:', 'row has 2 values but the loop has 1 columns'],
    ],
    ['a loop with no columns', 'data_x\nloop_\n1 2\n', ['particles.star:2:', 'no columns']],
    ['a loop with no columns at EOF', 'data_x\nloop_\n', ['particles.star:2:', 'no columns']],
    ['a loop with no columns before the next block', 'data_x\nloop_\n\ndata_y\n', ['particles.star:2:', 'no columns']],
    ['text before data_', 'hello\ndata_x\n', ['particles.star:1:', 'data_']],
    ['a key before data_', '# c\n_rlnA 1\ndata_x\n', ['particles.star:2:']],
    ['a key without a value', 'data_x\n_rlnA\n', ['particles.star:2:', '_rlnA']],
    ['a key with two values', 'data_x\n_rlnA 1 2\n', ['particles.star:2:', '_rlnA']],
    ['a repeated key', 'data_x\n_rlnA 1\n_rlnA 2\n', ['particles.star:3:', 'twice']],
    ['a repeated column', 'data_x\nloop_\n_rlnA #1\n_rlnA #2\n', ['particles.star:4:', 'twice']],
    ['a second loop in a block', 'data_x\nloop_\n_rlnA\n1\n\nloop_\n_rlnB\n', ['particles.star:6:', 'second loop_']],
    ['stray text after a loop', 'data_x\nloop_\n_rlnA\n1\n\n2\n', ['particles.star:6:', 'outside a loop']],
    ['an unterminated quote', 'data_x\n_rlnA "abc\n', ['particles.star:2:', 'unterminated']],
    ['junk after a column name', 'data_x\nloop_\n_rlnA junk\n', ['particles.star:3:']],
  ];
  for (const [what, text, fragments] of bad) {
    it(`throws InputInvalid for ${what}`, () => throwsInvalid(() => parseStar(text, 'particles.star'), ...fragments));
  }
});

describe('star helpers', () => {
  const star = parseStar(POSTPROCESS, 'postprocess.star');
  const general = star.blocks[0]!;
  const fsc = star.blocks[1]!;

  it('starBlock names the missing block and lists the present ones', () =>
    throwsInvalid(
      () => starBlock(star, 'particles', 'postprocess.star'),
      'postprocess.star has no data_particles block (blocks: data_general, data_fsc, data_guinier)',
    ));
  it('starColumn names the missing column and lists the present ones', () =>
    throwsInvalid(
      () => starColumn(fsc, 'rlnCoordinateX', 'postprocess.star'),
      'postprocess.star',
      '_rlnCoordinateX',
      '_rlnSpectralIndex, _rlnResolution',
    ));
  it('starColumn on a block without a loop', () =>
    throwsInvalid(() => starColumn(general, 'rlnResolution', 'p.star'), 'p.star', 'data_general has no loop_'));
  it('starNumber throws for a missing key, listing the keys', () =>
    throwsInvalid(() => starNumber(general, 'rlnNope', 'p.star'), 'p.star', '_rlnNope', '_rlnFinalResolution'));
  it('starNumber throws for a non-number', () =>
    throwsInvalid(() => starNumber(general, 'rlnUnfilteredMapHalf1', 'p.star'), 'p.star', 'not a finite number'));
  it('starNumber does not see inherited properties', () =>
    throwsInvalid(() => starNumber(general, 'constructor', 'p.star'), 'has no _constructor'));
  for (const text of ['nan', 'inf', '1e999', '0x10', '1.2.3', '']) {
    it(`starNumber refuses ${JSON.stringify(text)}`, () =>
      throwsInvalid(() => starNumber({ name: 'g', values: { k: text } }, 'k', 'p.star'), 'not a finite number'));
  }
  it('starNumber reads signs and exponents', () =>
    assert.equal(starNumber({ name: 'g', values: { k: '-1.5e2' } }, 'k', 'p.star'), -150));
  it('starNumberColumn names the row and line of a non-number', () => {
    const bad = parseStar('data_p\nloop_\n_rlnX #1\n1\n\n# c\n2\nabc\n'.replace('\n\n# c', '\n# c'), 'p.star');
    throwsInvalid(() => starNumberColumn(bad.blocks[0]!, 'rlnX', 'p.star'), 'p.star:7:', 'row 3', '"abc"');
  });
});

describe('formatStarLoop', () => {
  it('writes RELION style text', () => {
    assert.equal(
      formatStarLoop(
        'particles',
        ['rlnTomoName', 'rlnCoordinateX'],
        [
          ['TS_01', 1.5],
          ['TS_02', 2],
        ],
      ),
      '\ndata_particles\n\nloop_\n_rlnTomoName #1\n_rlnCoordinateX #2\nTS_01 1.5\nTS_02 2\n',
    );
  });

  it('round-trips through parseStar', () => {
    const columns = ['rlnTomoName', 'rlnCoordinateX', 'rlnCoordinateY', 'rlnAngleRot'];
    const rows: (string | number)[][] = [
      ['TS_01', 100, 200.25, -45],
      ['TS_01', 1e21, 0.000001, 0],
      ['path/to/TS_02.tomostar', 3, 4, 179.999],
    ];
    const text = formatStar([
      formatStarLoop('optics', ['rlnOpticsGroup', 'rlnImagePixelSize'], [[1, 10]]),
      formatStarLoop('particles', columns, rows),
    ]);
    const star = parseStar(text, 'out.star');
    assert.deepEqual(
      star.blocks.map((b) => b.name),
      ['optics', 'particles'],
    );
    const particles = starBlock(star, 'particles', 'out.star');
    assert.deepEqual(particles.loop?.columns, columns);
    assert.deepEqual(
      particles.loop?.rows,
      rows.map((r) => r.map(String)),
    );
    assert.deepEqual(starNumberColumn(particles, 'rlnCoordinateX', 'out.star'), [100, 1e21, 3]);
    assert.deepEqual(starNumberColumn(starBlock(star, 'optics', 'out.star'), 'rlnImagePixelSize', 'out.star'), [10]);
  });

  it('writes an empty loop that reads back empty', () => {
    const star = parseStar(formatStarLoop('x', ['rlnA'], []), 's');
    assert.deepEqual(star.blocks[0]?.loop?.rows, []);
  });

  const bad: [string, () => string, string][] = [
    ['a short row', () => formatStarLoop('p', ['a', 'b'], [[1, 2], [3]]), 'row 2 has 1 values but 2 columns'],
    ['a long row', () => formatStarLoop('p', ['a'], [[1, 2]]), 'row 1 has 2 values'],
    ['a value with a space', () => formatStarLoop('p', ['a'], [['x y']]), '"x y"'],
    ['an empty value', () => formatStarLoop('p', ['a'], [['']]), '""'],
    ['a value starting with #', () => formatStarLoop('p', ['a'], [['#1']]), '"#1"'],
    ['a value data_x', () => formatStarLoop('p', ['a'], [['data_x']]), '"data_x"'],
    ['a NaN', () => formatStarLoop('p', ['a'], [[Number.NaN]]), 'non-finite'],
    ['no columns', () => formatStarLoop('p', [], []), 'no columns'],
    ['a column with a space', () => formatStarLoop('p', ['a b'], []), '"a b"'],
    ['a column with a leading _', () => formatStarLoop('p', ['_a'], []), '"_a"'],
    ['a repeated column', () => formatStarLoop('p', ['a', 'a'], []), 'repeats'],
    ['a block name with a space', () => formatStarLoop('p q', ['a'], []), 'whitespace'],
  ];
  for (const [what, fn, fragment] of bad) {
    it(`throws InputInvalid for ${what}`, () => throwsInvalid(fn, fragment));
  }
});
