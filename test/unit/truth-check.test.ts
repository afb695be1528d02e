import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startText, truthText } from '../../src/report/format.js';
import { parseTruthCheck } from '../../src/tools/truth.js';

// What embedded/check_truth.py map printed for a refine of the relion5 dataset (fsc shortened).
const PRINTED = JSON.stringify({
  pixelSize: 6,
  box: 32,
  shift: [0, 0, 0],
  turn: 58,
  ccTruth: 0.9012799785080646,
  handTruth: 0.914755800603271,
  handMirror: 0.7059598417178982,
  fsc: [{ shell: 1, resolution: 192, fsc: 0.3 }],
  resolutionAtFsc05: 12.8,
  resolutionAtFsc0143: 12,
});

describe('the known-answer check (synthetic campaigns)', () => {
  it('parses check_truth.py map: correlation, both hands and their margin, FSC 0.5', () => {
    const t = parseTruthCheck(PRINTED, 'truth/particle_refine.mrc');
    assert.equal(t.truth, 'truth/particle_refine.mrc');
    assert.equal(t.ccTruth, 0.9012799785080646);
    assert.ok(Math.abs(t.handMargin - 0.2087958) < 1e-6);
    assert.equal(t.resolutionAtFsc05, 12.8);
    assert.equal(
      parseTruthCheck(PRINTED.replace('"resolutionAtFsc05":12.8', '"resolutionAtFsc05":null'), 't.mrc')
        .resolutionAtFsc05,
      null,
    );
  });

  it('names the field that is missing or not a number, and output that is not JSON', () => {
    assert.throws(
      () => parseTruthCheck(PRINTED.replace('"handMirror"', '"mirror"'), 't.mrc'),
      /truth check against t\.mrc: field handMirror is undefined, expected a number/,
    );
    assert.throws(
      () => parseTruthCheck('Traceback (most recent call last)', 't.mrc'),
      /truth check against t\.mrc: expected JSON, got "Traceback/,
    );
  });

  it('prints the figures the record keeps, or why the check failed', () => {
    const t = parseTruthCheck(PRINTED, 'truth/particle_refine.mrc');
    assert.equal(
      truthText(t),
      'cc 0.901 with the truth; hand: truth 0.915 vs mirror 0.706 (margin +0.209); FSC vs truth 0.5 at 12.8 Å',
    );
    assert.match(
      truthText({ ...t, handTruth: 0.15, handMirror: 0.16, handMargin: -0.01, resolutionAtFsc05: null }),
      /\(margin -0\.010\); FSC vs truth 0\.5 at never/,
    );
    assert.equal(truthText({ truth: 't.mrc', error: 'file not found' }), 'check against t.mrc failed: file not found');
    assert.equal(
      startText({ from: 'featureless' }),
      'featureless: the particles averaged at random orientations (no reference)',
    );
  });
});
