/**
 * The pictures scientists look at, from voxel values: a central XY slice, an XZ slab (a few
 * rows about the middle averaged) and a central YZ slice, and a projection of the maximum
 * along Z; each scaled to grey levels between robust percentiles, shrunk to a bounded size
 * and encoded as PNG by pngjs. Y and Z point up, as IMOD and ChimeraX show them. Pure.
 */
import { PNG } from 'pngjs';

/** A 2D array of values, row-major, row 0 at y = 0 (the bottom when drawn). */
export interface Plane {
  readonly width: number;
  readonly height: number;
  readonly values: Float32Array;
}

/** A volume, x fastest: index = x + nx·(y + ny·z). */
export interface Volume {
  readonly nx: number;
  readonly ny: number;
  readonly nz: number;
  readonly values: Float32Array;
}

/** An encoded picture for the report. */
export interface Picture {
  /** `XY, z = 24 of 48`. */
  readonly view: string;
  readonly width: number;
  readonly height: number;
  /** The PNG, base64. */
  readonly png: string;
}

/** Longest side of a picture in the report, pixels. */
export const MAX_PICTURE_SIDE = 384;

/** Section z of a volume. */
export function sliceZ(v: Volume, z: number): Plane {
  const size = v.nx * v.ny;
  return { width: v.nx, height: v.ny, values: v.values.slice(z * size, (z + 1) * size) };
}

/** x across, z up: the mean of rows y0 … y0 + rows − 1 of each section. `sections` holds them, section by section. */
export function slabXZ(sections: Float32Array, nx: number, rows: number, nz: number): Plane {
  const values = new Float32Array(nx * nz);
  for (let z = 0; z < nz; z++) {
    for (let x = 0; x < nx; x++) {
      let sum = 0;
      for (let r = 0; r < rows; r++) sum += sections[(z * rows + r) * nx + x]!;
      values[z * nx + x] = sum / rows;
    }
  }
  return { width: nx, height: nz, values };
}

/** The rows of a whole volume a slab XZ needs, in slabXZ's order. */
export function slabRows(v: Volume, y0: number, rows: number): Float32Array {
  const out = new Float32Array(v.nx * rows * v.nz);
  for (let z = 0; z < v.nz; z++) {
    const from = (z * v.ny + y0) * v.nx;
    out.set(v.values.subarray(from, from + rows * v.nx), z * rows * v.nx);
  }
  return out;
}

/** y across, z up, at x. */
export function sliceX(v: Volume, x: number): Plane {
  const values = new Float32Array(v.ny * v.nz);
  for (let z = 0; z < v.nz; z++)
    for (let y = 0; y < v.ny; y++) values[z * v.ny + y] = v.values[x + v.nx * (y + v.ny * z)]!;
  return { width: v.ny, height: v.nz, values };
}

/** The maximum along z of each (x, y). */
export function maxZ(v: Volume): Plane {
  const size = v.nx * v.ny;
  const values = new Float32Array(size).fill(-Infinity);
  for (let z = 0; z < v.nz; z++) {
    for (let i = 0; i < size; i++) {
      const value = v.values[z * size + i]!;
      if (value > values[i]!) values[i] = value;
    }
  }
  return { width: v.nx, height: v.ny, values };
}

/** Box-averages by the whole factor that brings the longest side to at most `maxSide`. */
export function shrink(p: Plane, maxSide = MAX_PICTURE_SIDE): Plane {
  const f = Math.ceil(Math.max(p.width, p.height) / maxSide);
  if (f <= 1) return p;
  const width = Math.floor(p.width / f);
  const height = Math.floor(p.height / f);
  const values = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let dy = 0; dy < f; dy++)
        for (let dx = 0; dx < f; dx++) sum += p.values[(y * f + dy) * p.width + x * f + dx]!;
      values[y * width + x] = sum / (f * f);
    }
  }
  return { width, height, values };
}

/** The values at the `lo` and `hi` fractions of the sorted finite values. */
export function percentiles(values: Float32Array, lo = 0.005, hi = 0.995): [number, number] {
  const finite = Float32Array.from(values.filter((v) => Number.isFinite(v))).sort();
  if (finite.length === 0) return [0, 0];
  const at = (q: number) => finite[Math.min(finite.length - 1, Math.max(0, Math.round(q * (finite.length - 1))))]!;
  return [at(lo), at(hi)];
}

/** Grey levels 0…255 between the 0.5 and 99.5 percentiles, rows flipped so y points up. */
export function toGrey(p: Plane): Uint8Array {
  const [lo, hi] = percentiles(p.values);
  const span = hi - lo;
  const grey = new Uint8Array(p.width * p.height);
  for (let y = 0; y < p.height; y++) {
    const row = (p.height - 1 - y) * p.width;
    for (let x = 0; x < p.width; x++) {
      const v = p.values[y * p.width + x]!;
      const level = span > 0 && Number.isFinite(v) ? ((v - lo) / span) * 255 : 128;
      grey[row + x] = Math.max(0, Math.min(255, Math.round(level)));
    }
  }
  return grey;
}

/** A plane as an 8-bit greyscale PNG (pngjs), shrunk to MAX_PICTURE_SIDE. */
export function picture(view: string, plane: Plane): Picture {
  const p = shrink(plane);
  const png = new PNG({
    width: p.width,
    height: p.height,
    colorType: 0,
    inputColorType: 0,
    inputHasAlpha: false,
    bitDepth: 8,
  });
  png.data = Buffer.from(toGrey(p));
  const bytes = PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  return { view, width: p.width, height: p.height, png: bytes.toString('base64') };
}

/** The final map's four pictures. */
export function mapPictures(v: Volume): Picture[] {
  const cz = Math.floor(v.nz / 2);
  const cy = Math.floor(v.ny / 2);
  const cx = Math.floor(v.nx / 2);
  return [
    picture(`XY, z = ${cz} of ${v.nz}`, sliceZ(v, cz)),
    picture(`XZ, y = ${cy} of ${v.ny}`, slabXZ(slabRows(v, cy, 1), v.nx, 1, v.nz)),
    picture(`YZ, x = ${cx} of ${v.nx}`, sliceX(v, cx)),
    picture(`max along Z (${v.nz} sections)`, maxZ(v)),
  ];
}

/** Rows about the middle that a tomogram's XZ slab averages: about 1/16 of ny, 1 to 16. */
export function slabOf(ny: number): { y0: number; rows: number } {
  const rows = Math.max(1, Math.min(16, Math.round(ny / 16)));
  return { y0: Math.max(0, Math.floor(ny / 2 - rows / 2)), rows };
}
