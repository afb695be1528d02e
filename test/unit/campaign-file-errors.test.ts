/**
 * Campaign-file errors name the field and its line: one case per rule of the schema.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCampaign } from '../../src/campaign/load.js';
import { campaignSchema } from '../../src/model/campaign-spec.js';
import { PRODUCTION, lineOf, edit, issuesOf, RELION5_LINE, TS_LINES } from '../helpers/campaign-text.js';

describe('campaign file errors name the field and its line', () => {
  it('missing tiltSeries', () => {
    const text = edit(PRODUCTION, TS_LINES, '');
    assert.deepEqual(issuesOf(text), [
      { path: 'tiltSeries', message: 'missing (expected a list)', line: lineOf(text, 'name: empiar-10164') },
    ]);
  });

  it('empty tiltSeries list', () => {
    const text = edit(PRODUCTION, TS_LINES, 'tiltSeries: []\n');
    assert.deepEqual(issuesOf(text), [
      { path: 'tiltSeries', message: 'expected at least one tilt series', line: lineOf(text, 'tiltSeries: []') },
    ]);
  });

  it('tiltSeries that is not a list', () => {
    const text = edit(PRODUCTION, TS_LINES, 'tiltSeries: TS_01\n');
    assert.deepEqual(issuesOf(text), [
      { path: 'tiltSeries', message: 'expected a list, got string "TS_01"', line: lineOf(text, 'tiltSeries: TS_01') },
    ]);
  });

  it('duplicate tilt series names: the later one, pointing at the first', () => {
    const text = edit(PRODUCTION, 'name: TS_45', 'name: TS_03');
    assert.deepEqual(issuesOf(text), [
      {
        path: 'tiltSeries[3].name',
        message: 'duplicate tilt series "TS_03" (also tiltSeries[1])',
        line: lineOf(text, 'tilt_series/TS_45.mrc'),
      },
    ]);
  });

  it('a tilt series name outside the alphabet', () => {
    const text = edit(PRODUCTION, 'name: TS_54', 'name: "TS 54"');
    assert.deepEqual(issuesOf(text), [
      {
        path: 'tiltSeries[4].name',
        message: "expected a letter or digit, then letters, digits, '_' or '-' (at most 63 characters)",
        line: lineOf(text, 'TS_54.mrc'),
      },
    ]);
  });

  it("a path containing '..' (tilt series stack, reference, dataDir)", () => {
    const message = "'..' is not allowed: name the file under dataDir or give an absolute path";
    const stack = edit(PRODUCTION, 'stack: tilt_series/TS_43.mrc', 'stack: ../TS_43.mrc');
    assert.deepEqual(issuesOf(stack), [{ path: 'tiltSeries[2].stack', message, line: lineOf(stack, '../TS_43.mrc') }]);
    const reference = edit(PRODUCTION, 'reference: reference/half1.mrc', 'reference: /shared/../etc/passwd');
    assert.deepEqual(issuesOf(reference), [
      { path: 'reference', message, line: lineOf(reference, 'reference: /shared/') },
    ]);
    const mask = edit(PRODUCTION, 'fsc: masks/mask_fsc.mrc', 'fsc: masks/../../mask_fsc.mrc');
    assert.deepEqual(issuesOf(mask), [{ path: 'masks.fsc', message, line: lineOf(mask, 'masks:') }]);
    // '..' inside a name is fine.
    assert.equal(
      parseCampaign(edit(PRODUCTION, 'reference: reference/half1.mrc', 'reference: reference/half1..mrc'), 'production')
        .ok,
      true,
    );
  });

  it('a path with a line break', () => {
    const text = edit(PRODUCTION, 'reference: reference/half1.mrc', 'reference: "reference/half1.mrc\\nrm -rf /"');
    assert.deepEqual(issuesOf(text), [
      { path: 'reference', message: 'a path may not contain NUL or line breaks', line: lineOf(text, 'reference: ') },
    ]);
  });

  it('a negative pixel size (not on the first tilt series)', () => {
    const text = edit(PRODUCTION, 'TS_43.rawtlt, pixelSize: 1.35', 'TS_43.rawtlt, pixelSize: -1.35');
    const issues = issuesOf(text);
    assert.deepEqual(issues[0], {
      path: 'tiltSeries[2].pixelSize',
      message: 'expected pixel size in Å > 0',
      line: lineOf(text, 'TS_43.mrc'),
    });
    assert.ok(
      issues.every((i) => i.path === 'tiltSeries[2].pixelSize'),
      JSON.stringify(issues),
    );
  });

  it('every pixel size negative: one issue per tilt series', () => {
    const text = PRODUCTION.replaceAll('pixelSize: 1.35', 'pixelSize: -1.35');
    assert.deepEqual(
      issuesOf(text).map((i) => `${i.line} ${i.path}: ${i.message}`),
      ['TS_01', 'TS_03', 'TS_43', 'TS_45', 'TS_54'].map(
        (n, i) => `${lineOf(text, `${n}.mrc`)} tiltSeries[${i}].pixelSize: expected pixel size in Å > 0`,
      ),
    );
  });

  it('a negative pixel size on the first tilt series is reported once, not as a mismatch on every other one', () => {
    const text = edit(PRODUCTION, 'TS_01.rawtlt, pixelSize: 1.35', 'TS_01.rawtlt, pixelSize: -1.35');
    assert.deepEqual(issuesOf(text), [
      { path: 'tiltSeries[0].pixelSize', message: 'expected pixel size in Å > 0', line: lineOf(text, 'TS_01.mrc') },
    ]);
  });

  it('a pixel size given as a string', () => {
    const text = edit(PRODUCTION, 'TS_43.rawtlt, pixelSize: 1.35', 'TS_43.rawtlt, pixelSize: "1.35"');
    assert.deepEqual(issuesOf(text), [
      {
        path: 'tiltSeries[2].pixelSize',
        message: 'expected a number (pixel size in Å)',
        line: lineOf(text, 'TS_43.mrc'),
      },
    ]);
  });

  it('two different pixel sizes', () => {
    const text = edit(PRODUCTION, 'TS_45.rawtlt, pixelSize: 1.35', 'TS_45.rawtlt, pixelSize: 2.7');
    assert.deepEqual(issuesOf(text), [
      {
        path: 'tiltSeries[3].pixelSize',
        message: 'expected 1.35 Å like tiltSeries[0]: one campaign averages particles at one pixel size',
        line: lineOf(text, 'TS_45.mrc'),
      },
    ]);
    // Also under the embedded profile: it is not a production-only rule.
    assert.deepEqual(
      issuesOf(text, 'embedded').map((i) => i.path),
      ['tiltSeries[3].pixelSize'],
    );
  });

  it('wrong type for healpixOrder', () => {
    const word = edit(PRODUCTION, 'healpixOrder: 2', 'healpixOrder: four');
    assert.deepEqual(issuesOf(word), [
      {
        path: 'refine.healpixOrder',
        message: 'expected a number, got string "four"',
        line: lineOf(word, 'healpixOrder'),
      },
    ]);
    const fraction = edit(PRODUCTION, 'healpixOrder: 2', 'healpixOrder: 4.5');
    const issues = issuesOf(fraction);
    assert.deepEqual(
      issues.map((i) => [i.path, i.line]),
      [['refine.healpixOrder', lineOf(fraction, 'healpixOrder')]],
    );
    assert.match(issues[0]!.message, /int/);
    const high = edit(PRODUCTION, 'healpixOrder: 2', 'healpixOrder: 9');
    assert.deepEqual(
      issuesOf(high).map((i) => [i.path, i.line]),
      [['refine.healpixOrder', lineOf(high, 'healpixOrder')]],
    );
  });

  it('production profile without a relion5 section', () => {
    const text = edit(PRODUCTION, RELION5_LINE, '');
    assert.deepEqual(issuesOf(text), [
      {
        path: 'relion5',
        message: 'missing: the production profile extracts with relion_tomo_subtomo, which needs relion5.tomograms',
        line: lineOf(text, 'name: empiar-10164'),
      },
    ]);
    assert.equal(parseCampaign(text, 'embedded').ok, true);
  });

  it('alignment: published needs the published particles; a featureless start needs no reference', () => {
    const published = edit(
      edit(PRODUCTION, '\nalignment: aretomo2\n', '\nalignment: published\n'),
      RELION5_LINE,
      'relion5: { tomograms: relion5/tomograms.star }\n',
    );
    assert.deepEqual(
      issuesOf(published).map((i) => [i.path, i.message]),
      [
        [
          'relion5.particles',
          'missing: alignment: published takes the particles from relion5.particles (the published picks)',
        ],
      ],
    );
    const noReference = edit(PRODUCTION, 'reference: reference/half1.mrc\n', '');
    assert.deepEqual(
      issuesOf(noReference).map((i) => i.path),
      ['reference'],
    );
    const featureless = edit(noReference, '  healpixOrder: 2\n', '  healpixOrder: 2\n  startFrom: featureless\n');
    assert.equal(parseCampaign(featureless, 'production').ok, true);
  });

  it(
    'a featureless start needs a global search first ' + '(healpixOrder below autoLocalHealpixOrder, RELION default 4)',
    () => {
      const noReference = edit(PRODUCTION, 'reference: reference/half1.mrc\n', '');
      const local = edit(noReference, '  healpixOrder: 2\n', '  healpixOrder: 4\n  startFrom: featureless\n');
      assert.deepEqual(
        issuesOf(local).map((i) => [i.path, i.message]),
        [
          [
            'refine.healpixOrder',
            'featureless needs a global search first: healpixOrder 4 must be below autoLocalHealpixOrder 4' +
              ' (RELION searches locally from iteration 1 otherwise, around rot = tilt = psi = 0;' +
              ' alignment: published takes the published angles)',
          ],
        ],
      );
      const later = edit(local, '  autoLocalHealpixOrder: 4\n', '  autoLocalHealpixOrder: 5\n');
      assert.equal(parseCampaign(later, 'production').ok, true);
    },
  );

  it(
    'particles from picks (own alignment) need a global search first too; ' + 'published particles carry their angles',
    () => {
      const seedLine = edit(PRODUCTION, '  healpixOrder: 2\n  autoLocalHealpixOrder: 4\n', '  healpixOrder: 4\n');
      assert.deepEqual(
        issuesOf(seedLine).map((i) => [i.path, i.message.split(':')[0]]),
        [['refine.healpixOrder', 'particles from picks have no orientations']],
      );
      const published = edit(seedLine, '\nalignment: aretomo2\n', '\nalignment: published\n');
      assert.equal(parseCampaign(published, 'production').ok, true);
    },
  );

  it('a relion5 section missing tomograms, or empty', () => {
    const partial = edit(PRODUCTION, RELION5_LINE, 'relion5: { particles: relion5/particles.star }\n');
    assert.deepEqual(issuesOf(partial), [
      { path: 'relion5.tomograms', message: 'missing (expected a string)', line: lineOf(partial, 'relion5:') },
    ]);
    const empty = edit(PRODUCTION, RELION5_LINE, 'relion5:\n');
    assert.deepEqual(issuesOf(empty), [
      { path: 'relion5', message: 'expected a mapping, got null (an empty value)', line: lineOf(empty, 'relion5:') },
    ]);
  });

  it('unknown keys (the schema is strict), with a suggestion for a near miss', () => {
    const typo = edit(PRODUCTION, '  healpixOrder: 2\n', '  healpixOrder: 2\n  healpixOrdr: 5\n');
    const issues = issuesOf(typo);
    assert.deepEqual(
      issues.map((i) => [i.path, i.line]),
      [['refine.healpixOrdr', lineOf(typo, 'healpixOrdr')]],
    );
    assert.match(
      issues[0]!.message,
      /^unknown key \(expected one of symmetry, particleDiameter, .*\); did you mean "healpixOrder"\?$/,
    );
    const top = `${PRODUCTION}extra: 1\n`;
    // The hint lists the schema's own keys (taken from it, so a new section keeps this exact).
    assert.deepEqual(issuesOf(top), [
      {
        path: 'extra',
        message: `unknown key (expected one of ${Object.keys(campaignSchema.shape).join(', ')})`,
        line: lineOf(top, 'extra: 1'),
      },
    ]);
    assert.ok(
      Object.keys(campaignSchema.shape)
        .join(', ')
        .startsWith(
          'name, dataset, dataDir, tiltSeries, reference, masks, reconstruction, extraction, refine, postprocess, ' +
            'alignment, relion5, limits',
        ),
    );
    const inSeries = edit(PRODUCTION, 'picks: picks/TS_03.star }', 'picks: picks/TS_03.star, dose: 3 }');
    assert.deepEqual(
      issuesOf(inSeries).map((i) => [i.path, i.line]),
      [['tiltSeries[1].dose', lineOf(inSeries, 'TS_03.mrc')]],
    );
  });

  it('postprocess without any mask', () => {
    const text = edit(PRODUCTION, /^masks:.*\n/m, 'masks: { solvent: masks/mask_align.mrc }\n');
    assert.deepEqual(issuesOf(text), [
      {
        path: 'postprocess',
        message: 'postprocess needs a mask: give masks.fsc, or postprocess.denovoMask { outerRadiusPx, softEdgePx }',
        line: lineOf(text, 'postprocess:'),
      },
    ]);
  });

  it('crop larger than box, a bad symmetry, minTiltSeries above the count', () => {
    const crop = edit(PRODUCTION, 'crop: 192', 'crop: 600');
    assert.deepEqual(issuesOf(crop), [
      { path: 'extraction.crop', message: 'expected crop ≤ box', line: lineOf(crop, 'extraction:') },
    ]);
    const sym = edit(PRODUCTION, 'symmetry: C6', 'symmetry: X6');
    assert.deepEqual(issuesOf(sym), [
      {
        path: 'refine.symmetry',
        message: 'expected a RELION symmetry such as C1, C6, D2, T, O or I',
        line: lineOf(sym, 'symmetry:'),
      },
    ]);
    const min = edit(
      PRODUCTION,
      'limits: { maxParallelTiltSeries: 5 }',
      'limits: { maxParallelTiltSeries: 5, minTiltSeries: 6 }',
    );
    assert.deepEqual(issuesOf(min), [
      {
        path: 'limits.minTiltSeries',
        message: 'expected at most 5 (the number of tilt series)',
        line: lineOf(min, 'limits:'),
      },
    ]);
  });

  it('several problems at once, sorted by line', () => {
    const text = edit(
      edit(PRODUCTION, 'symmetry: C6', 'symmetry: X6'),
      'stack: tilt_series/TS_43.mrc',
      'stack: ../TS_43.mrc',
    );
    assert.deepEqual(
      issuesOf(text).map((i) => i.path),
      ['tiltSeries[2].stack', 'refine.symmetry'],
    );
  });

  it('a duplicate tilt series name is reported together with other problems', () => {
    const text = edit(edit(PRODUCTION, 'name: TS_45', 'name: TS_03'), 'healpixOrder: 2', 'healpixOrder: four');
    assert.deepEqual(
      issuesOf(text).map((i) => i.path),
      ['tiltSeries[3].name', 'refine.healpixOrder'],
    );
  });

  it('empty file and YAML syntax errors', () => {
    assert.deepEqual(issuesOf(''), [
      {
        path: '',
        message:
          'the file is empty: expected a mapping with name, dataset, dataDir, tiltSeries, reference, ' +
          'reconstruction, extraction and refine',
      },
    ]);
    const broken = issuesOf('name: x\nrefine: [\n');
    assert.ok(broken.length > 0);
    assert.ok(
      broken.every((i) => i.path === '' && typeof i.line === 'number'),
      JSON.stringify(broken),
    );
  });
});
