import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  importAlignment,
  importedTomograms,
  parseAln,
  parseXf,
  particlesStar,
  picksToParticles,
  tiltSeriesTablePath,
  withAbsoluteImages,
  xfToAlignment,
} from '../../src/tools/aretomo-alignment.js';
import { parseStar, starBlock, starNumberColumn } from '../../src/tools/star.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/aretomo2/${name}`, import.meta.url), 'utf8');

/** AreTomo2 1.1.2's own header and row format (MrcUtil/CSaveAlnFile.cpp), two tilts and a dark one. */
const ALN = [
  '# AreTomo Alignment / Priims bprmMn ',
  '# RawSize = 4096 4096 3',
  '# NumPatches = 0',
  '# DarkFrame =     2    2    60.00',
  '# SEC     ROT         GMAG       TX          TY      SMEAN     SFIT    SCALE     BASE     TILT',
  '    1    85.3000    1.00000    -12.500      3.250     1.00     1.00     1.00     0.00    -57.00',
  '    0    85.3000    1.00000      0.000      0.000     1.00     1.00     1.00     0.00      0.00',
  '# Local Alignment',
  '   0   0  100.00  100.00  0.50  0.50  1.0',
].join('\n');

const rad = (deg: number): number => (deg * Math.PI) / 180;

describe('AreTomo2 .aln', () => {
  it('reads RawSize, dark sections and the global rows sorted by section; the local table is not rows', () => {
    const aln = parseAln(ALN, 'TS_01.aln');
    assert.deepEqual(aln.rawSize, [4096, 4096, 3]);
    assert.deepEqual(aln.darkSections, [2]);
    assert.deepEqual(
      aln.rows.map((r) => r.section),
      [0, 1],
    );
    assert.deepEqual(aln.rows[1], { section: 1, rot: 85.3, tx: -12.5, ty: 3.25, tilt: -57 });
  });

  it('names the file and line of a bad row, and says what a file without rows lacks', () => {
    assert.throws(() => parseAln(ALN.replace('-12.500', 'x'), 'a.aln'), /a\.aln:6: alignment row: "x" is not a number/);
    assert.throws(() => parseAln('# RawSize = 4 4 1\n', 'b.aln'), /b\.aln: no alignment rows.*-Align 1/);
    assert.throws(() => parseAln('0 1 1 0 0 1 1 1 0 0\n', 'c.aln'), /c\.aln: no "# RawSize/);
    assert.throws(
      () => parseAln(ALN.replace('    0    85.3000', '    7    85.3000'), 'd.aln'),
      /section 7 is beyond RawSize's 3/,
    );
  });

  it("agrees with the IMOD .xf AreTomo2 writes beside it (the stand-in's TS_01, 41 tilts)", () => {
    const aln = parseAln(fixture('TS_01.aln'), 'TS_01.aln');
    const xf = parseXf(fixture('TS_01_st.xf'), 'TS_01_st.xf');
    assert.equal(xf.length, aln.rows.length);
    aln.rows.forEach((row) => {
      const back = xfToAlignment(xf[row.section]!);
      assert.ok(Math.abs(back.rot - row.rot) < 0.05, `section ${row.section}: rot ${back.rot} vs ${row.rot}`);
      assert.ok(
        Math.abs(back.tx - row.tx) < 0.02 && Math.abs(back.ty - row.ty) < 0.02,
        `section ${row.section} shifts`,
      );
    });
  });
});

describe('importing AreTomo2 into RELION 5', () => {
  it("writes RELION's import (YTilt = TILT, ZRot = ROT, shifts × pixel size) and keeps CTF and dose", () => {
    const table = starBlock(parseStar(fixture('TS_01_ctf.star'), 'ctf.star'), 'TS_01', 'ctf.star');
    const aln = parseAln(fixture('TS_01.aln'), 'TS_01.aln');
    const text = importAlignment({
      name: 'TS_01',
      table,
      tableSource: 'ctf.star',
      aln,
      alnSource: 'TS_01.aln',
      pixelSize: 6,
    });
    const out = starBlock(parseStar(text, 'out.star'), 'TS_01', 'out.star');
    const col = (c: string) => starNumberColumn(out, c, 'out.star');
    assert.deepEqual(col('rlnDefocusU'), starNumberColumn(table, 'rlnDefocusU', 'ctf.star'));
    assert.deepEqual(col('rlnMicrographPreExposure'), starNumberColumn(table, 'rlnMicrographPreExposure', 'ctf.star'));
    assert.deepEqual(
      col('rlnTomoYTilt'),
      aln.rows.map((r) => r.tilt),
    );
    assert.ok(col('rlnTomoXTilt').every((v) => v === 0));
    col('rlnTomoZRot').forEach((v, f) => assert.ok(Math.abs(v - aln.rows[f]!.rot) < 1e-4));
    col('rlnTomoXShiftAngst').forEach((v, f) => assert.ok(Math.abs(v - aln.rows[f]!.tx * 6) < 1e-3));
    col('rlnTomoYShiftAngst').forEach((v, f) => assert.ok(Math.abs(v - aln.rows[f]!.ty * 6) < 1e-3));
  });

  it("puts a specimen point where IMOD's transform says it is (same hand, same tilt sign)", () => {
    // RELION: p = Rz(ZRot) Ry(YTilt) x + c + shift. IMOD: aligned = A (p - c) + c + D must be the
    // point tilted about Y, u = x cos t + z sin t, v = y, whatever the axis and shifts.
    const rot = 85.3;
    const [tx, ty, tilt] = [-12.5, 3.25, -57];
    const r = rad(-rot);
    const xf = { a11: Math.cos(r), a12: -Math.sin(r), a21: Math.sin(r), a22: Math.cos(r), dx: 0, dy: 0 };
    const d = { dx: xf.a11 * -tx + xf.a12 * -ty, dy: xf.a21 * -tx + xf.a22 * -ty };
    const [x, y, z] = [40, -25, 12];
    const u = x * Math.cos(rad(tilt)) + z * Math.sin(rad(tilt));
    const p = [
      Math.cos(rad(rot)) * u - Math.sin(rad(rot)) * y + tx,
      Math.sin(rad(rot)) * u + Math.cos(rad(rot)) * y + ty,
    ];
    const aligned = [xf.a11 * p[0]! + xf.a12 * p[1]! + d.dx, xf.a21 * p[0]! + xf.a22 * p[1]! + d.dy];
    assert.ok(Math.abs(aligned[0]! - u) < 1e-9 && Math.abs(aligned[1]! - y) < 1e-9, `${aligned} vs ${[u, y]}`);
    assert.deepEqual(
      Object.values(xfToAlignment({ ...xf, ...d })).map((v) => Math.round(v * 1000) / 1000),
      [rot, tx, ty],
    );
  });

  it('refuses dark tilts, a count mismatch and a different section order, naming the files', () => {
    const table = starBlock(parseStar(fixture('TS_01_ctf.star'), 'ctf.star'), 'TS_01', 'ctf.star');
    const args = { name: 'TS_01', table, tableSource: 'ctf.star', alnSource: 'TS_01.aln', pixelSize: 6 };
    assert.throws(
      () => importAlignment({ ...args, aln: parseAln(ALN, 'TS_01.aln') }),
      /TS_01\.aln: AreTomo2 left out 1 dark tilt\(s\) \(sections 2\); exclude them from ctf\.star/,
    );
    const aln = parseAln(fixture('TS_01.aln'), 'TS_01.aln');
    assert.throws(
      () => importAlignment({ ...args, aln: { ...aln, rows: aln.rows.slice(1) } }),
      /TS_01\.aln aligns 40 of 41 sections but ctf\.star has 41 tilts/,
    );
    const reversed = {
      ...aln,
      rows: aln.rows.map((row, i) => ({ ...row, tilt: aln.rows[aln.rows.length - 1 - i]!.tilt })),
    };
    assert.throws(
      () => importAlignment({ ...args, aln: reversed }),
      /ctf\.star row 1 is at -60\.00° but TS_01\.aln section 0 at 60°: .*section order/,
    );
  });
});

describe("the campaign's own tomograms.star and particles.star", () => {
  const GLOBAL = [
    'data_global',
    'loop_',
    '_rlnTomoName #1',
    '_rlnTomoHand #2',
    '_rlnTomoSizeX #3',
    '_rlnTomoTiltSeriesName #4',
    '_rlnTomoTiltSeriesStarFile #5',
    'TS_01 -1 1 tilt_series/TS_01.mrc CtfFind/job003/tilt_series/TS_01.star',
    'TS_03 -1 1 /abs/TS_03.mrc CtfFind/job003/tilt_series/TS_03.star',
  ].join('\n');

  it("keeps the campaign's series, points them at the aligned tables, sets the size, makes paths absolute", () => {
    const table = starBlock(parseStar(GLOBAL, 'g.star'), 'global', 'g.star');
    assert.equal(tiltSeriesTablePath(table, 'g.star', '/proj', 'TS_03'), '/proj/CtfFind/job003/tilt_series/TS_03.star');
    const text = importedTomograms({
      table,
      source: 'g.star',
      project: '/proj/',
      series: [{ name: 'TS_03', star: '/c/Alignment/tilt_series/TS_03.star', size: [4096, 4096, 2000] }],
    });
    const out = starBlock(parseStar(text, 'o'), 'global', 'o');
    assert.deepEqual(out.loop!.columns, [
      'rlnTomoName',
      'rlnTomoHand',
      'rlnTomoTiltSeriesName',
      'rlnTomoTiltSeriesStarFile',
      'rlnTomoSizeX',
      'rlnTomoSizeY',
      'rlnTomoSizeZ',
    ]);
    assert.deepEqual(out.loop!.rows, [
      ['TS_03', '-1', '/abs/TS_03.mrc', '/c/Alignment/tilt_series/TS_03.star', '4096', '4096', '2000'],
    ]);
    assert.throws(
      () =>
        importedTomograms({
          table,
          source: 'g.star',
          project: '/p',
          series: [{ name: 'TS_99', star: 's', size: [1, 1, 1] }],
        }),
      /g\.star has no row for tilt series TS_99/,
    );
  });

  it('per-tilt image paths (N@file) are made absolute against the project folder', () => {
    const table = starBlock(
      parseStar('data_TS_01\nloop_\n_rlnMicrographName #1\n1@MotionCorr/TS_01.mrcs\n2@/abs/TS_01.mrcs\n', 't'),
      'TS_01',
      't',
    );
    assert.deepEqual(withAbsoluteImages(table, '/proj').loop!.rows, [
      ['1@/proj/MotionCorr/TS_01.mrcs'],
      ['2@/abs/TS_01.mrcs'],
    ]);
  });

  it('picks in binned tomogram voxels become centred Å; one outside the tomogram is refused', () => {
    const picks = starBlock(
      parseStar(
        'data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnCoordinateZ #3\n96 0 24\n100.5 192 0\n',
        'p',
      ),
      '',
      'p',
    );
    const rows = picksToParticles({ name: 'TS_01', picks, source: 'p.star', size: [192, 192, 48], voxelSize: 6 });
    assert.deepEqual(rows, [
      ['TS_01', '0.00', '-576.00', '0.00'],
      ['TS_01', '27.00', '576.00', '-144.00'],
    ]);
    assert.match(particlesStar(rows), /data_particles\n\nloop_\n_rlnTomoName #1\n_rlnCenteredCoordinateXAngst #2/);
    const bad = starBlock(
      parseStar('data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_rlnCoordinateZ #3\n96 0 60\n', 'p'),
      '',
      'p',
    );
    assert.throws(
      () => picksToParticles({ name: 'TS_01', picks: bad, source: 'p.star', size: [192, 192, 48], voxelSize: 6 }),
      /p\.star row 1: _rlnCoordinateZ 60 is outside the 192×192×48 tomogram/,
    );
  });
});
