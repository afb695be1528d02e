/**
 * AreTomo2's alignment files, read, and imported into RELION 5's per-tilt-series STAR. Pure.
 *
 * Formats (AreTomo2 1.1.2):
 * - `<InMrc name>.aln` beside -OutMrc (MrcUtil/CSaveAlnFile.cpp): `# RawSize = nx ny nz`,
 *   `# NumPatches = N`, one `# DarkFrame = frame section tilt` per removed tilt, then
 *   `SEC ROT GMAG TX TY SMEAN SFIT SCALE BASE TILT` rows in tilt order (SEC: 0-based section
 *   of -InMrc; ROT: tilt axis, degrees; TX, TY: shifts in pixels of -InMrc), then an
 *   optional `# Local Alignment` table.
 * - with -OutImod 1, `<name>_Imod/<name>_st.xf` (ImodUtil/CSaveXF.cpp): one line per section,
 *   `A11 A12 A21 A22 DX DY`, IMOD's raw-to-aligned transform, A = R(-ROT), D = A (-T).
 *
 * The import is RELION 5.0.1's own (src/tomography_python_programs/align_tilt_series/aretomo/
 * utils.py): rlnTomoXTilt 0, rlnTomoYTilt = TILT, rlnTomoZRot = ROT, rlnTomoX/YShiftAngst =
 * TX/TY × the tilt-series pixel size. RELION then projects a tomogram point x to
 * Rz(ZRot) Ry(YTilt) (x − centre) + image centre + shift (src/jaz/tomography/tomogram.cpp).
 */
import { CryoError, ErrorType } from '../errors.js';
import { formatStarLoop, type StarBlock } from './star.js';

export interface AlnRow {
  /** 0-based section of the input stack. */
  readonly section: number;
  /** Tilt axis angle, degrees. */
  readonly rot: number;
  /** Shifts, pixels of the input stack. */
  readonly tx: number;
  readonly ty: number;
  /** Tilt angle, degrees. */
  readonly tilt: number;
}

export interface AlnFile {
  /** `# RawSize`: the input stack's nx, ny and section count. */
  readonly rawSize: readonly [number, number, number];
  /** Sections AreTomo2 left out as dark (`# DarkFrame`). */
  readonly darkSections: readonly number[];
  /** Global alignment, one row per kept section, sorted by section. */
  readonly rows: readonly AlnRow[];
}

function invalid(message: string): CryoError {
  return new CryoError(ErrorType.InputInvalid, message);
}

function numbers(fields: string[], where: string, what: string): number[] {
  return fields.map((text) => {
    const n = Number(text);
    if (text === '' || !Number.isFinite(n)) throw invalid(`${where}: ${what}: ${JSON.stringify(text)} is not a number`);
    return n;
  });
}

/** Parses an AreTomo2 `.aln` file; every fault names the file and line. */
export function parseAln(text: string, source: string): AlnFile {
  let rawSize: [number, number, number] | undefined;
  const dark: number[] = [];
  const rows: AlnRow[] = [];
  let local = false;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const where = `${source}:${i + 1}`;
    if (line === '' || local) return;
    if (line.startsWith('#')) {
      const header = /^#\s*(\w+)\s*=\s*(.*)$/.exec(line);
      if (/^#\s*Local Alignment/i.test(line)) local = true;
      else if (header?.[1] === 'RawSize') {
        const size = numbers(header[2]!.trim().split(/\s+/), where, 'RawSize');
        if (size.length !== 3 || size.some((v) => !Number.isInteger(v) || v < 1)) throw invalid(`${where}: RawSize: expected three positive integers`);
        rawSize = [size[0]!, size[1]!, size[2]!];
      } else if (header?.[1] === 'DarkFrame') {
        const fields = numbers(header[2]!.trim().split(/\s+/), where, 'DarkFrame');
        if (fields.length !== 3) throw invalid(`${where}: DarkFrame: expected frame, section and tilt`);
        dark.push(fields[1]!);
      }
      return;
    }
    const fields = line.split(/\s+/);
    if (fields.length !== 10) throw invalid(`${where}: expected 10 columns (SEC ROT GMAG TX TY SMEAN SFIT SCALE BASE TILT), found ${fields.length}`);
    const [sec, rot, , tx, ty, , , , , tilt] = numbers(fields, where, 'alignment row');
    if (!Number.isInteger(sec) || sec! < 0) throw invalid(`${where}: SEC ${sec}: expected a section index ≥ 0`);
    rows.push({ section: sec!, rot: rot!, tx: tx!, ty: ty!, tilt: tilt! });
  });
  if (rawSize === undefined) throw invalid(`${source}: no "# RawSize = nx ny nz" line; is this an AreTomo2 .aln file?`);
  if (rows.length === 0) throw invalid(`${source}: no alignment rows (SEC ROT GMAG TX TY …); did AreTomo2 run with -Align 1?`);
  rows.sort((a, b) => a.section - b.section);
  rows.forEach((row, i) => {
    if (i > 0 && rows[i - 1]!.section === row.section) throw invalid(`${source}: section ${row.section} appears twice`);
    if (row.section >= rawSize![2]) throw invalid(`${source}: section ${row.section} is beyond RawSize's ${rawSize![2]} sections`);
  });
  return { rawSize, darkSections: dark, rows };
}

/** One IMOD `.xf` line: the raw-to-aligned transform of one section. */
export interface XfLine {
  readonly a11: number;
  readonly a12: number;
  readonly a21: number;
  readonly a22: number;
  readonly dx: number;
  readonly dy: number;
}

/** Parses an IMOD `.xf` file (six numbers per line, one line per section). */
export function parseXf(text: string, source: string): XfLine[] {
  const out: XfLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const v = numbers(line.split(/\s+/), `${source}:${i + 1}`, 'transform');
    if (v.length !== 6) throw invalid(`${source}:${i + 1}: expected A11 A12 A21 A22 DX DY, found ${v.length} numbers`);
    out.push({ a11: v[0]!, a12: v[1]!, a21: v[2]!, a22: v[3]!, dx: v[4]!, dy: v[5]! });
  });
  return out;
}

/**
 * The tilt axis and shifts an `.xf` line holds, inverted from AreTomo2's writer:
 * A = R(−ROT) so ROT = atan2(−A21, A11); D = A(−T) so T = −R(ROT) D.
 */
export function xfToAlignment(xf: XfLine): { rot: number; tx: number; ty: number } {
  const rot = (Math.atan2(-xf.a21, xf.a11) * 180) / Math.PI;
  const r = (rot * Math.PI) / 180;
  const tx = -(Math.cos(r) * xf.dx - Math.sin(r) * xf.dy);
  const ty = -(Math.sin(r) * xf.dx + Math.cos(r) * xf.dy);
  return { rot, tx, ty };
}

/** The five geometry columns RELION 5 reads for a tilt's projection matrix. */
export const GEOMETRY_COLUMNS = ['rlnTomoXTilt', 'rlnTomoYTilt', 'rlnTomoZRot', 'rlnTomoXShiftAngst', 'rlnTomoYShiftAngst'] as const;

/** Tilts whose nominal angle and AreTomo2's differ by more than this are a mismatch of order. */
export const TILT_MATCH_DEGREES = 1;

const fixed = (value: number, digits: number): string => {
  const text = value.toFixed(digits);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
};

/**
 * A tilt series' STAR table with AreTomo2's alignment in it: the table before alignment
 * (RELION's import + CTF: one row per section of the stack, in stack order) with the five
 * geometry columns set from the `.aln` (replaced where present). Fails, naming the files,
 * when the counts differ, AreTomo2 left tilts out as dark, or a tilt's nominal angle is not
 * AreTomo2's (a different section order).
 */
export function importAlignment(args: {
  readonly name: string;
  readonly table: StarBlock;
  readonly tableSource: string;
  readonly aln: AlnFile;
  readonly alnSource: string;
  /** Å per pixel of the stack AreTomo2 aligned. */
  readonly pixelSize: number;
}): string {
  const { table, aln } = args;
  const loop = table.loop;
  if (loop === undefined) throw invalid(`${args.tableSource}: data_${table.name} has no loop_ (one row per tilt expected)`);
  if (aln.darkSections.length > 0) {
    throw invalid(
      `${args.alnSource}: AreTomo2 left out ${aln.darkSections.length} dark tilt(s) (sections ${aln.darkSections.join(', ')}); ` +
        `exclude them from ${args.tableSource} and the stack before aligning`,
    );
  }
  if (aln.rows.length !== loop.rows.length || aln.rawSize[2] !== loop.rows.length) {
    throw invalid(`${args.alnSource} aligns ${aln.rows.length} of ${aln.rawSize[2]} sections but ${args.tableSource} has ${loop.rows.length} tilts`);
  }
  const nominalAt = loop.columns.indexOf('rlnTomoNominalStageTiltAngle');
  const kept = loop.columns.filter((c) => !(GEOMETRY_COLUMNS as readonly string[]).includes(c));
  const keptAt = kept.map((c) => loop.columns.indexOf(c));
  const rows = loop.rows.map((row, f) => {
    const a = aln.rows[f]!;
    if (nominalAt >= 0) {
      const nominal = Number(row[nominalAt]);
      if (!(Math.abs(nominal - a.tilt) <= TILT_MATCH_DEGREES)) {
        throw invalid(
          `${args.tableSource} row ${f + 1} is at ${row[nominalAt]}° but ${args.alnSource} section ${a.section} at ${a.tilt}°: ` +
            'the table must list the tilts in the stack\'s section order',
        );
      }
    }
    const geometry = ['0.0', fixed(a.tilt, 2), fixed(a.rot, 4), fixed(a.tx * args.pixelSize, 3), fixed(a.ty * args.pixelSize, 3)];
    return [...keptAt.map((i) => row[i]!), ...geometry];
  });
  return formatStarLoop(args.name, [...kept, ...GEOMETRY_COLUMNS], rows);
}
