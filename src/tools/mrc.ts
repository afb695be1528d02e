/**
 * MRC2014 header reader: the fixed 1024-byte main header of a map or tilt stack, checked
 * against the file's size. Pure: the caller reads the bytes. Every error is `InputInvalid`
 * and starts with the source path.
 */
import { CryoError, ErrorType } from '../errors.js';

/** Size of the MRC main header; an extended header of `nsymbt` bytes may follow. */
export const MRC_HEADER_BYTES = 1024;

export interface MrcHeader {
  nx: number;
  ny: number;
  /** Sections: tilt images in a tilt stack. */
  nz: number;
  mode: number;
  /** Å per voxel along x: cella_x / mx, to float32 precision; 0 when mx or cella_x is 0. */
  voxelSize: number;
  /** `nsymbt`: bytes of extended header after the main header. */
  extendedHeaderBytes: number;
  /** Where the voxel data starts: 1024 + nsymbt. */
  dataOffset: number;
  bytesPerVoxel: number;
  /** dataOffset + nx*ny*nz*bytesPerVoxel: the smallest size a whole file can have. */
  expectedSize: number;
}

/** Modes read here and bytes per voxel: int8, int16, float32, uint16, float16. */
const BYTES_PER_VOXEL: Readonly<Record<number, number>> = { 0: 1, 1: 2, 2: 4, 6: 2, 12: 2 };
const MODE_NAMES = '0 (int8), 1 (int16), 2 (float32), 6 (uint16), 12 (float16)';

/**
 * Read and check the header. `head` holds at least the file's first 1024 bytes;
 * `fileSize` is the whole file's size in bytes. Little-endian, as MRC2014 writers use;
 * a machine stamp of 0x11 at byte 212 marks a big-endian file, read as such.
 */
export function parseMrcHeader(head: Buffer | Uint8Array, fileSize: number, source: string): MrcHeader {
  const fail = (message: string, details: Record<string, unknown> = {}): CryoError =>
    new CryoError(ErrorType.InputInvalid, `${source}: ${message}`, { source, ...details });
  if (head.length < MRC_HEADER_BYTES) {
    throw fail(`MRC header truncated: ${head.length} of ${MRC_HEADER_BYTES} bytes`);
  }
  // 'MAP ' (MRC2014); some older writers put 'MAP\0'.
  if (!(head[208] === 0x4d && head[209] === 0x41 && head[210] === 0x50 && (head[211] === 0x20 || head[211] === 0))) {
    throw fail("not an MRC file: no 'MAP ' at byte 208");
  }
  const view = new DataView(head.buffer, head.byteOffset, MRC_HEADER_BYTES);
  const little = head[212] !== 0x11;
  const int = (at: number): number => view.getInt32(at, little);
  const [nx, ny, nz, mode] = [int(0), int(4), int(8), int(12)];
  if (nx < 1 || ny < 1 || nz < 1)
    throw fail(`bad dimensions ${nx}x${ny}x${nz}: each must be at least 1`, { nx, ny, nz });
  const bytesPerVoxel = BYTES_PER_VOXEL[mode];
  if (bytesPerVoxel === undefined) throw fail(`unsupported MRC mode ${mode}; supported: ${MODE_NAMES}`, { mode });
  const nsymbt = int(92);
  if (nsymbt < 0) throw fail(`bad extended header size nsymbt=${nsymbt}`, { nsymbt });
  const mx = int(28);
  const cellaX = view.getFloat32(40, little);
  const voxelSize = mx > 0 && Number.isFinite(cellaX) && cellaX > 0 ? Number((cellaX / mx).toPrecision(7)) : 0;
  const dataOffset = MRC_HEADER_BYTES + nsymbt;
  const expectedSize = dataOffset + nx * ny * nz * bytesPerVoxel;
  if (fileSize < expectedSize) {
    throw fail(`data truncated: file is ${fileSize} bytes, header promises ${expectedSize}`, {
      fileSize,
      expectedSize,
    });
  }
  return { nx, ny, nz, mode, voxelSize, extendedHeaderBytes: nsymbt, dataOffset, bytesPerVoxel, expectedSize };
}
