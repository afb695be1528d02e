/**
 * The campaign file: the shipped files parse for their profiles; loadCampaign; the schema's patterns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCampaign, parseCampaign } from '../../src/campaign/load.js';
import { CAMPAIGN_NAME, SYMMETRY } from '../../src/model/campaign-spec.js';
import { CryoError, ErrorType } from '../../src/errors.js';
import { PRODUCTION, EMBEDDED, lineOf, edit, issuesOf } from '../helpers/campaign-text.js';

describe('shipped campaign files', () => {
  it('campaigns/empiar-10164.yaml parses under the production profile, with the seed parameters', () => {
    const result = parseCampaign(PRODUCTION, 'production');
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    const spec = result.spec;
    assert.equal(spec.name, 'empiar-10164');
    assert.equal(spec.dataDir, '/shared/empiar-10164');
    assert.deepEqual(
      spec.tiltSeries.map((t) => t.name),
      ['TS_01', 'TS_03', 'TS_43', 'TS_45', 'TS_54'],
    );
    assert.deepEqual(spec.tiltSeries[0], {
      name: 'TS_01',
      stack: 'tilt_series/TS_01.mrc',
      angles: 'tilt_series/TS_01.rawtlt',
      pixelSize: 1.35,
      dosePerTilt: 3.05,
      picks: 'picks/TS_01.star',
    });
    assert.equal(spec.reference, 'reference/half1.mrc');
    assert.deepEqual(spec.masks, { solvent: 'masks/mask_align.mrc', fsc: 'masks/mask_fsc.mrc' });
    assert.deepEqual(spec.reconstruction, {
      volZ: 2000,
      outBin: 6,
      patch: [0, 0],
      refineTiltAxis: true,
      wbp: true,
      flipVol: true,
      outImod: true,
    });
    assert.equal(spec.alignment, 'aretomo2');
    assert.deepEqual(spec.extraction, { box: 512, crop: 192, bin: 1, maxDose: 50, float16: true, stack2d: true });
    assert.deepEqual(spec.relion5, {
      particles: 'relion5/particles.star',
      tomograms: 'relion5/ctf/tilt_series_ctf.star',
    });
    assert.deepEqual(spec.refine, {
      symmetry: 'C6',
      particleDiameter: 230,
      iniHigh: 5.5,
      healpixOrder: 2,
      autoLocalHealpixOrder: 4,
      pad: 2,
      ctf: true,
      solventCorrectFsc: true,
      flattenSolvent: false,
      normCorrection: false,
      scaleCorrection: false,
      zeroMask: false,
      startFrom: 'reference',
      timeLimitMinutes: 480,
    });
    assert.deepEqual(spec.postprocess, {});
    assert.deepEqual(spec.limits, { maxParallelTiltSeries: 5 });
    // Not in the file: the picks gate is off, 24 h timeout, fail on timeout.
    assert.deepEqual(spec.approvePicks, { required: false, timeout: 24 * 3600 * 1000, onTimeout: 'fail' });
  });

  it('campaigns/embedded-10164.yaml parses under the embedded profile', () => {
    const result = parseCampaign(EMBEDDED, 'embedded');
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    const spec = result.spec;
    assert.equal(spec.name, 'embedded-10164');
    assert.equal(spec.tiltSeries.length, 5);
    assert.ok(spec.tiltSeries.every((t) => t.pixelSize === 10));
    assert.deepEqual(spec.masks, {});
    assert.equal(spec.relion5, undefined);
    assert.deepEqual(spec.extraction, { box: 32, crop: 24, bin: 1, float16: true, stack2d: true });
    assert.deepEqual(spec.postprocess, { autobLowres: 60, denovoMask: { outerRadiusPx: 10, softEdgePx: 2 } });
    assert.deepEqual(spec.limits, { maxParallelTiltSeries: 5, minTiltSeries: 4 });
    assert.equal(spec.refine.randomSeed, 10164);
  });

  it('the production file also suits the embedded profile (relion5 is only required in production)', () => {
    assert.equal(parseCampaign(PRODUCTION, 'embedded').ok, true);
  });

  it('the embedded file is rejected under the production profile: relion5 missing', () => {
    assert.deepEqual(issuesOf(EMBEDDED, 'production'), [
      {
        path: 'relion5',
        message: 'missing: the production profile extracts with relion_tomo_subtomo, which needs relion5.tomograms',
        line: lineOf(EMBEDDED, 'name: embedded-10164'),
      },
    ]);
  });
});

describe('loadCampaign', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cryoet-campaign-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a valid file', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, PRODUCTION);
    const spec = await loadCampaign(file, 'production');
    assert.equal(spec.name, 'empiar-10164');
  });

  it('throws InputInvalid with one `file:line path: message` line per problem', async () => {
    const file = join(dir, 'bad.yaml');
    const text = edit(
      edit(PRODUCTION, 'stack: tilt_series/TS_43.mrc', 'stack: ../TS_43.mrc'),
      'healpixOrder: 2',
      'healpixOrder: four',
    );
    writeFileSync(file, text);
    await assert.rejects(loadCampaign(file, 'production'), (err: unknown) => {
      assert.ok(err instanceof CryoError, String(err));
      assert.equal(err.type, ErrorType.InputInvalid);
      assert.equal(
        err.message,
        `${file}:${lineOf(text, 'TS_43.mrc')} tiltSeries[2].stack: ` +
          "'..' is not allowed: name the file under dataDir or give an absolute path\n" +
          `${file}:${lineOf(text, 'healpixOrder')} refine.healpixOrder: expected a number, got string "four"`,
      );
      return true;
    });
  });

  it('a missing file: InputInvalid naming the file', async () => {
    const file = join(dir, 'nope.yaml');
    await assert.rejects(loadCampaign(file, 'embedded'), (err: unknown) => {
      assert.ok(err instanceof CryoError);
      assert.equal(err.type, ErrorType.InputInvalid);
      assert.ok(err.message.startsWith(`${file}: cannot read campaign file (`), err.message);
      return true;
    });
  });
});

describe('schema patterns', () => {
  it('CAMPAIGN_NAME', () => {
    for (const ok of ['TS_01', 'a', '9-x', 'x'.repeat(63)]) assert.match(ok, CAMPAIGN_NAME);
    for (const bad of ['', '_x', '-x', 'a b', 'a/b', 'a.b', 'x'.repeat(64)]) assert.doesNotMatch(bad, CAMPAIGN_NAME);
  });

  it('SYMMETRY', () => {
    for (const ok of ['C1', 'C6', 'C12', 'D2', 'T', 'O', 'I', 'I3', 'Ci', 'Cs', 'C2h', 'C4v'])
      assert.match(ok, SYMMETRY);
    for (const bad of ['C0', 'c6', 'X6', 'D0', 'I6', '', 'C6 ']) assert.doesNotMatch(bad, SYMMETRY);
  });
});
