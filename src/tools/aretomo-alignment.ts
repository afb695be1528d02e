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
        if (size.length !== 3 || size.some((v) => !Number.isInteger(v) || v < 1))
          throw invalid(`${where}: RawSize: expected three positive integers`);
        rawSize = [size[0]!, size[1]!, size[2]!];
      } else if (header?.[1] === 'DarkFrame') {
        const fields = numbers(header[2]!.trim().split(/\s+/), where, 'DarkFrame');
        if (fields.length !== 3) throw invalid(`${where}: DarkFrame: expected frame, section and tilt`);
        dark.push(fields[1]!);
      }
      return;
    }
    const fields = line.split(/\s+/);
    if (fields.length !== 10)
      throw invalid(
        `${where}: expected 10 columns (SEC ROT GMAG TX TY SMEAN SFIT SCALE BASE TILT), found ${fields.length}`,
      );
    const [sec, rot, , tx, ty, , , , , tilt] = numbers(fields, where, 'alignment row');
    if (!Number.isInteger(sec) || sec! < 0) throw invalid(`${where}: SEC ${sec}: expected a section index ≥ 0`);
    rows.push({ section: sec!, rot: rot!, tx: tx!, ty: ty!, tilt: tilt! });
  });
  if (rawSize === undefined) throw invalid(`${source}: no "# RawSize = nx ny nz" line; is this an AreTomo2 .aln file?`);
  if (rows.length === 0)
    throw invalid(`${source}: no alignment rows (SEC ROT GMAG TX TY …); did AreTomo2 run with -Align 1?`);
  rows.sort((a, b) => a.section - b.section);
  rows.forEach((row, i) => {
    if (i > 0 && rows[i - 1]!.section === row.section) throw invalid(`${source}: section ${row.section} appears twice`);
    if (row.section >= rawSize![2])
      throw invalid(`${source}: section ${row.section} is beyond RawSize's ${rawSize![2]} sections`);
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
export const GEOMETRY_COLUMNS = [
  'rlnTomoXTilt',
  'rlnTomoYTilt',
  'rlnTomoZRot',
  'rlnTomoXShiftAngst',
  'rlnTomoYShiftAngst',
] as const;

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
  if (loop === undefined)
    throw invalid(`${args.tableSource}: data_${table.name} has no loop_ (one row per tilt expected)`);
  if (aln.darkSections.length > 0) {
    throw invalid(
      `${args.alnSource}: AreTomo2 left out ${aln.darkSections.length} dark tilt(s) ` +
        `(sections ${aln.darkSections.join(', ')}); ` +
        `exclude them from ${args.tableSource} and the stack before aligning`,
    );
  }
  if (aln.rows.length !== loop.rows.length || aln.rawSize[2] !== loop.rows.length) {
    throw invalid(
      `${args.alnSource} aligns ${aln.rows.length} of ${aln.rawSize[2]} sections ` +
        `but ${args.tableSource} has ${loop.rows.length} tilts`,
    );
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
          `${args.tableSource} row ${f + 1} is at ${row[nominalAt]}° ` +
            `but ${args.alnSource} section ${a.section} at ${a.tilt}°: ` +
            "the table must list the tilts in the stack's section order",
        );
      }
    }
    const geometry = [
      '0.0',
      fixed(a.tilt, 2),
      fixed(a.rot, 4),
      fixed(a.tx * args.pixelSize, 3),
      fixed(a.ty * args.pixelSize, 3),
    ];
    return [...keptAt.map((i) => row[i]!), ...geometry];
  });
  return formatStarLoop(args.name, [...kept, ...GEOMETRY_COLUMNS], rows);
}

/** Resolves a path in a RELION table against the project folder (RELION's working folder). */
function resolveIn(project: string, path: string): string {
  const at = /^\d+@/.exec(path)?.[0] ?? '';
  const file = path.slice(at.length);
  return file.startsWith('/') ? path : `${at}${project.replace(/\/+$/, '')}/${file}`;
}

/**
 * The campaign's tomograms.star: the rows of its tilt series from the table before alignment,
 * each pointing at the campaign's aligned per-tilt STAR, with the tomogram size the campaign
 * reconstructs (bin-1 pixels) and paths made absolute against the project folder.
 */
export function importedTomograms(args: {
  readonly table: StarBlock;
  readonly source: string;
  /** Folder the table's relative paths are relative to (RELION's project folder). */
  readonly project: string;
  readonly series: readonly {
    readonly name: string;
    readonly star: string;
    readonly size: readonly [number, number, number];
  }[];
}): string {
  const loop = args.table.loop;
  if (loop === undefined)
    throw invalid(`${args.source}: data_${args.table.name} has no loop_ (one row per tomogram expected)`);
  const at = (c: string) => loop.columns.indexOf(c);
  if (at('rlnTomoName') < 0) throw invalid(`${args.source}: data_${args.table.name} has no column _rlnTomoName`);
  const replaced = ['rlnTomoTiltSeriesStarFile', 'rlnTomoSizeX', 'rlnTomoSizeY', 'rlnTomoSizeZ'];
  const kept = loop.columns.filter((c) => !replaced.includes(c));
  const rows = args.series.map((ts) => {
    const row = loop.rows.find((r) => r[at('rlnTomoName')] === ts.name);
    if (row === undefined) throw invalid(`${args.source} has no row for tilt series ${ts.name} (rlnTomoName)`);
    const values = kept.map((c) =>
      c === 'rlnTomoTiltSeriesName' ? resolveIn(args.project, row[at(c)]!) : row[at(c)]!,
    );
    return [...values, ts.star, ...ts.size.map(String)];
  });
  return formatStarLoop(args.table.name, [...kept, ...replaced], rows);
}

/** The per-tilt table's own tilt-series STAR path for one tomogram (absolute). */
export function tiltSeriesTablePath(table: StarBlock, source: string, project: string, name: string): string {
  const loop = table.loop;
  const col = loop?.columns.indexOf('rlnTomoTiltSeriesStarFile') ?? -1;
  const nameCol = loop?.columns.indexOf('rlnTomoName') ?? -1;
  if (loop === undefined || col < 0 || nameCol < 0)
    throw invalid(`${source}: expected columns _rlnTomoName and _rlnTomoTiltSeriesStarFile`);
  const row = loop.rows.find((r) => r[nameCol] === name);
  if (row === undefined) throw invalid(`${source} has no row for tilt series ${name} (rlnTomoName)`);
  return resolveIn(project, row[col]!);
}

/** Makes a per-tilt table's image paths (rlnMicrographName, `N@file` or a file) absolute. */
export function withAbsoluteImages(table: StarBlock, project: string): StarBlock {
  const loop = table.loop;
  const col = loop?.columns.indexOf('rlnMicrographName') ?? -1;
  if (loop === undefined || col < 0) return table;
  return {
    ...table,
    loop: { ...loop, rows: loop.rows.map((r) => r.map((v, i) => (i === col ? resolveIn(project, v) : v))) },
  };
}

/**
 * Picks made on the campaign's own tomogram (rlnCoordinateX/Y/Z, voxels of the binned
 * tomogram AreTomo2 wrote) as RELION 5 rows: rlnTomoName and centred coordinates in Å,
 * (voxel − size/2) × voxel size. Both centres are the tomogram's, so binning moves nothing.
 */
export function picksToParticles(args: {
  readonly name: string;
  readonly picks: StarBlock;
  readonly source: string;
  /** The binned tomogram's size in voxels and its voxel size in Å. */
  readonly size: readonly [number, number, number];
  readonly voxelSize: number;
}): string[][] {
  const loop = args.picks.loop;
  const axes = ['rlnCoordinateX', 'rlnCoordinateY', 'rlnCoordinateZ'];
  const cols = axes.map((c) => loop?.columns.indexOf(c) ?? -1);
  if (loop === undefined || cols.some((c) => c < 0))
    throw invalid(`${args.source}: expected a loop with _rlnCoordinateX, _rlnCoordinateY and _rlnCoordinateZ (voxels)`);
  return loop.rows.map((row, r) => {
    const centred = cols.map((c, k) => {
      const v = Number(row[c]);
      if (!Number.isFinite(v) || v < 0 || v > args.size[k]!) {
        throw invalid(
          `${args.source} row ${r + 1}: _${axes[k]} ${row[c]} is outside the ${args.size.join('×')} tomogram`,
        );
      }
      return fixed((v - args.size[k]! / 2) * args.voxelSize, 2);
    });
    return [args.name, ...centred];
  });
}

/** A small seeded generator (mulberry32): the same orientations for the same seed, every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Orientations uniform over the rotations (rot, psi uniform; cos tilt uniform), degrees. */
export function randomAngles(count: number, seed: number): [string, string, string][] {
  const next = seeded(seed);
  return Array.from({ length: count }, () => {
    const rot = next() * 360;
    const tilt = (Math.acos(2 * next() - 1) * 180) / Math.PI;
    return [fixed(rot, 2), fixed(tilt, 2), fixed(next() * 360, 2)];
  });
}

/** RELION 5's particles.star from rows of {@link picksToParticles}; with a seed, random orientations too. */
export function particlesStar(rows: readonly string[][], angleSeed?: number): string {
  const columns = [
    'rlnTomoName',
    'rlnCenteredCoordinateXAngst',
    'rlnCenteredCoordinateYAngst',
    'rlnCenteredCoordinateZAngst',
  ];
  if (angleSeed === undefined)
    return formatStarLoop(
      'particles',
      columns,
      rows.map((r) => [...r]),
    );
  const angles = randomAngles(rows.length, angleSeed);
  return formatStarLoop(
    'particles',
    [...columns, 'rlnAngleRot', 'rlnAngleTilt', 'rlnAnglePsi'],
    rows.map((r, i) => [...r, ...angles[i]!]),
  );
}

export interface ImportAlignmentsInput {
  readonly cluster: string;
  /** The tables before alignment (relion5.tomograms) and the folder their relative paths are in. */
  readonly tomograms: string;
  readonly project: string;
  readonly series: readonly {
    readonly name: string;
    /** Absolute paths: AreTomo2's .aln, the picks, and the per-tilt STAR to write. */
    readonly aln: string;
    readonly picks: string;
    readonly star: string;
    /** Å per pixel of the stack; the tomogram in bin-1 pixels; the binned tomogram and its voxel size. */
    readonly pixelSize: number;
    readonly size: readonly [number, number, number];
    readonly binned: readonly [number, number, number];
    readonly voxelSize: number;
  }[];
  readonly out: { readonly tomograms: string; readonly particles: string };
  /** Seed: give every particle a random orientation (rlnAngleRot/Tilt/Psi), for a featureless start. */
  readonly randomAngles?: number;
}

/** What one tilt series' imported alignment says, for the run record. */
