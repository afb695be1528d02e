/**
 * The front half chained into RELION 5, outside a campaign: the AreTomo2 STAND-IN aligns two
 * synthetic tilt series (tilt axis 84.3°, the metadata says 85°; random shifts of up to 6 px;
 * gold fiducials) from the images, writes AreTomo2's files; our import turns them into RELION
 * 5 tables (src/tools/aretomo-alignment.ts, the code the campaign's activity runs); RELION 5's
 * own relion_tomo_reconstruct_tomogram reads those tables. Checked against the ground truth:
 * the recovered geometry, and the tomogram RELION makes from it — and the same import with the
 * tilt sign flipped must fail that check (it gives the mirror).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ARETOMO2_STANDIN, CHECK_TRUTH, EMBEDDED_PYTHON, MAKE_RELION5_DATASET } from '../../src/embedded.js';
import {
  importAlignment,
  importedTomograms,
  parseAln,
  parseXf,
  tiltSeriesTablePath,
  xfToAlignment,
} from '../../src/tools/aretomo-alignment.js';
import { parseStar, starBlock } from '../../src/tools/star.js';

/** Tolerances, stated (README "Science checks"). */
const AXIS_ERROR_MAX = 0.5; // degrees
const SHIFT_RMS_MAX = 0.5; // px, after the specimen translation no alignment can know
const RECONSTRUCT_CC_MIN = 0.45; // RELION's tomogram from our import vs truth (dark), 40 Å
const SERIES = ['TS_01', 'TS_03'];

const relionBin = join(process.cwd(), '.dev', 'relion5', 'bin');

function checkTruth(args: string[]): Record<string, number> {
  return JSON.parse(execFileSync(EMBEDDED_PYTHON, [CHECK_TRUTH, ...args], { encoding: 'utf8' })) as Record<
    string,
    number
  >;
}

describe('AreTomo2 stand-in → import → RELION 5 (two synthetic tilt series)', { timeout: 10 * 60_000 }, () => {
  let dir: string;
  let data: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cryoet-aretomo-import-'));
    data = join(dir, 'data');
    execFileSync(
      EMBEDDED_PYTHON,
      [
        MAKE_RELION5_DATASET,
        '--out',
        data,
        '--series',
        '2',
        '--particles',
        '16',
        '--tilt-axis',
        '84.3',
        '--shift-max',
        '6',
        '--gold',
        '10',
      ],
      { stdio: 'ignore' },
    );
    mkdirSync(join(dir, 'tomograms'));
    for (const ts of SERIES) {
      execFileSync(
        EMBEDDED_PYTHON,
        [
          ARETOMO2_STANDIN,
          '-InMrc',
          join(data, `${ts}.mrc`),
          '-OutMrc',
          join(dir, 'tomograms', `${ts}.mrc`),
          '-AngFile',
          join(data, `${ts}.rawtlt`),
          '-VolZ',
          '48',
          '-OutBin',
          '1',
          '-PixSize',
          '6',
          '-OutImod',
          '1',
          '-TiltAxis',
          '85',
        ],
        { stdio: 'ignore' },
      );
    }
    // The import, as the campaign's importAlignments activity does it.
    const source = join(data, 'relion5', 'ctf', 'tomograms.star');
    const table = starBlock(parseStar(readFileSync(source, 'utf8'), source), 'global', source);
    mkdirSync(join(dir, 'Alignment', 'tilt_series'), { recursive: true });
    for (const ts of SERIES) {
      const tablePath = tiltSeriesTablePath(table, source, data, ts);
      const perTilt = starBlock(parseStar(readFileSync(tablePath, 'utf8'), tablePath), ts, tablePath);
      const alnPath = join(dir, 'tomograms', `${ts}.aln`);
      const aln = parseAln(readFileSync(alnPath, 'utf8'), alnPath);
      writeFileSync(
        join(dir, 'Alignment', 'tilt_series', `${ts}.star`),
        importAlignment({ name: ts, table: perTilt, tableSource: tablePath, aln, alnSource: alnPath, pixelSize: 6 }),
      );
    }
    const series = SERIES.map((name) => ({
      name,
      star: join(dir, 'Alignment', 'tilt_series', `${name}.star`),
      size: [192, 192, 48] as const,
    }));
    writeFileSync(
      join(dir, 'Alignment', 'tomograms.star'),
      importedTomograms({ table, source, project: data, series }),
    );
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the stand-in recovered the tilt axis and the shifts from the images', () => {
    for (const ts of SERIES) {
      const r = checkTruth([
        'alignment',
        '--star',
        join(dir, 'Alignment', 'tilt_series', `${ts}.star`),
        '--apix',
        '6',
        '--truth',
        join(data, 'truth', `${ts}_alignment.json`),
      ]);
      assert.ok(
        Math.abs(r['axisErrorDeg']!) < AXIS_ERROR_MAX,
        `${ts}: tilt axis ${r['tiltAxis']}° vs true ${r['trueTiltAxis']}°`,
      );
      assert.ok(r['shiftRmsPx']! < SHIFT_RMS_MAX, `${ts}: shift error RMS ${r['shiftRmsPx']} px`);
    }
  });

  test("its IMOD .xf says what its .aln says (AreTomo2's two outputs agree)", () => {
    const aln = parseAln(readFileSync(join(dir, 'tomograms', 'TS_01.aln'), 'utf8'), 'TS_01.aln');
    const xf = parseXf(readFileSync(join(dir, 'tomograms', 'TS_01_Imod', 'TS_01_st.xf'), 'utf8'), 'TS_01_st.xf');
    for (const row of aln.rows) {
      const back = xfToAlignment(xf[row.section]!);
      assert.ok(
        Math.abs(back.rot - row.rot) < 0.05 && Math.abs(back.tx - row.tx) < 0.02 && Math.abs(back.ty - row.ty) < 0.02,
        `section ${row.section}`,
      );
    }
  });

  test(
    'RELION 5 reconstructs the truth from the imported tables; ' + 'the tilt sign flipped gives the mirror and fails',
    () => {
      const reconstruct = (tomograms: string, out: string) => {
        execFileSync(
          join(relionBin, 'relion_tomo_reconstruct_tomogram'),
          [
            '--t',
            tomograms,
            '--tn',
            'TS_01',
            '--o',
            `${out}/`,
            '--w',
            '192',
            '--h',
            '192',
            '--d',
            '48',
            '--bin',
            '1',
            '--j',
            '2',
          ],
          { stdio: 'ignore' },
        );
        return checkTruth([
          'tomogram',
          '--recon',
          join(out, 'tomograms', 'rec_TS_01.mrc'),
          '--truth',
          join(data, 'truth', 'TS_01_tomogram.mrc'),
          '--contrast',
          'dark',
        ]);
      };
      const tomograms = join(dir, 'Alignment', 'tomograms.star');
      const r = reconstruct(tomograms, join(dir, 'rec'));
      assert.ok(
        r['cc']! > RECONSTRUCT_CC_MIN && r['cc']! > r['ccFlippedZ']! + 0.2,
        `cc ${r['cc']} with truth, ${r['ccFlippedZ']} Z-flipped`,
      );
      const m = reconstruct(flipTiltSign(dir, tomograms, 'TS_01'), join(dir, 'rec-flipped'));
      assert.ok(
        !(m['cc']! > RECONSTRUCT_CC_MIN && m['cc']! > m['ccFlippedZ']! + 0.2),
        `flipped passed: cc ${m['cc']}, Z-flipped ${m['ccFlippedZ']}`,
      );
      assert.ok(
        m['ccFlippedZ']! > m['cc']!,
        `flipped: the mirror (${m['ccFlippedZ']}) should match better than the truth (${m['cc']})`,
      );
    },
  );
});

/** A copy of the imported tables with one series' rlnTomoYTilt negated: the wrong tilt sign. */
function flipTiltSign(dir: string, tomograms: string, name: string): string {
  const out = join(dir, 'flipped');
  mkdirSync(out, { recursive: true });
  const perTilt = join(dir, 'Alignment', 'tilt_series', `${name}.star`);
  const lines = readFileSync(perTilt, 'utf8').split('\n');
  const column = lines.filter((l) => l.startsWith('_')).findIndex((l) => l.startsWith('_rlnTomoYTilt '));
  const width = lines.filter((l) => l.startsWith('_')).length;
  const flipped = lines.map((l) => {
    const fields = l.trim().split(/\s+/);
    if (fields.length !== width || l.startsWith('_')) return l;
    fields[column] = String(-Number(fields[column]));
    return fields.join(' ');
  });
  writeFileSync(join(out, `${name}.star`), flipped.join('\n'));
  writeFileSync(
    join(out, 'tomograms.star'),
    readFileSync(tomograms, 'utf8').replace(perTilt, join(out, `${name}.star`)),
  );
  return join(out, 'tomograms.star');
}
