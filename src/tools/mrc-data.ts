/**
 * MRC voxel data as numbers: the byte order of a file (its machine stamp) and the decoding
 * of the modes parseMrcHeader accepts (int8, int16, float32, uint16, float16). Pure.
 */
import type { MrcHeader } from './mrc.js';

/** False only for a big-endian machine stamp (0x11 at byte 212), as parseMrcHeader reads it. */
export function mrcLittleEndian(head: Uint8Array): boolean {
  return head[212] !== 0x11;
}

/** IEEE 754 half precision to a number. */
export function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Decodes `bytes` (whole voxels of `header.mode`) into float32 values. */
export function decodeVoxels(
  bytes: Uint8Array,
  header: Pick<MrcHeader, 'mode' | 'bytesPerVoxel'>,
  little: boolean,
): Float32Array {
  const n = Math.floor(bytes.length / header.bytesPerVoxel);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Float32Array(n);
  const read: (at: number) => number =
    {
      0: (at: number) => view.getInt8(at),
      1: (at: number) => view.getInt16(at * 2, little),
      2: (at: number) => view.getFloat32(at * 4, little),
      6: (at: number) => view.getUint16(at * 2, little),
      12: (at: number) => halfToNumber(view.getUint16(at * 2, little)),
    }[header.mode] ?? (() => NaN);
  for (let i = 0; i < n; i++) out[i] = read(i);
  return out;
}
