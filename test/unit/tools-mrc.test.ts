import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import { MRC_HEADER_BYTES, parseMrcHeader } from '../../src/tools/mrc.js';

interface HeaderFields {
  nx?: number;
  ny?: number;
  nz?: number;
  mode?: number;
  mx?: number;
  cellaX?: number;
  nsymbt?: number;
  map?: string;
  bigEndian?: boolean;
}

/** A 1024-byte MRC2014 header; defaults: 128x128x41, mode 2, 10 Å voxels. */
function header(f: HeaderFields = {}): Buffer {
  const { nx = 128, ny = 128, nz = 41, mode = 2, mx = nx, cellaX = mx * 10, nsymbt = 0, map = 'MAP ' } = f;
  const b = Buffer.alloc(MRC_HEADER_BYTES);
  const int = (at: number, v: number): number => (f.bigEndian ? b.writeInt32BE(v, at) : b.writeInt32LE(v, at));
  const float = (at: number, v: number): number => (f.bigEndian ? b.writeFloatBE(v, at) : b.writeFloatLE(v, at));
  int(0, nx);
  int(4, ny);
  int(8, nz);
  int(12, mode);
  int(28, mx);
  int(32, ny);
  int(36, nz);
  float(40, cellaX);
  float(44, ny * 10);
  float(48, nz * 10);
  int(92, nsymbt);
  b.write(map, 208, 'latin1');
  b.set(f.bigEndian ? [0x11, 0x11, 0, 0] : [0x44, 0x44, 0, 0], 212);
  return b;
}

function throwsInvalid(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CryoError, `not a CryoError: ${String(err)}`);
    assert.equal(err.type, ErrorType.InputInvalid);
    assert.ok(err.message.startsWith('/data/TS_01.mrc: '), err.message);
    for (const f of fragments)
      assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    return true;
  });
}

const SRC = '/data/TS_01.mrc';
const STACK_BYTES = 1024 + 128 * 128 * 41 * 4;

describe('parseMrcHeader', () => {
  it('reads a float32 tilt stack', () => {
    assert.deepEqual(parseMrcHeader(header(), STACK_BYTES, SRC), {
      nx: 128,
      ny: 128,
      nz: 41,
      mode: 2,
      voxelSize: 10,
      extendedHeaderBytes: 0,
      dataOffset: 1024,
      bytesPerVoxel: 4,
      expectedSize: STACK_BYTES,
    });
  });

  it('counts an extended header and accepts a longer file and head', () => {
    const head = Buffer.concat([header({ nsymbt: 4096 }), Buffer.alloc(100)]);
    const h = parseMrcHeader(head, STACK_BYTES + 4096 + 10, SRC);
    assert.equal(h.extendedHeaderBytes, 4096);
    assert.equal(h.dataOffset, 5120);
    assert.equal(h.expectedSize, STACK_BYTES + 4096);
  });

  it('reads a Uint8Array view at an offset', () => {
    const backing = new Uint8Array(2048);
    backing.set(header({ mode: 1 }), 512);
    const h = parseMrcHeader(backing.subarray(512, 1536), 1024 + 128 * 128 * 41 * 2, SRC);
    assert.equal(h.bytesPerVoxel, 2);
    assert.equal(h.nz, 41);
  });

  for (const [mode, bytes] of [
    [0, 1],
    [1, 2],
    [2, 4],
    [6, 2],
    [12, 2],
  ] as const) {
    it(`mode ${mode} has ${bytes} bytes per voxel`, () => {
      const h = parseMrcHeader(header({ nx: 10, ny: 10, nz: 3, mode }), 1024 + 300 * bytes, SRC);
      assert.equal(h.bytesPerVoxel, bytes);
      assert.equal(h.expectedSize, 1024 + 300 * bytes);
    });
  }

  it('gives a non-integer voxel size to float32 precision', () => {
    assert.equal(parseMrcHeader(header({ cellaX: 128 * 1.35 }), STACK_BYTES, SRC).voxelSize, 1.35);
  });

  it('gives voxelSize 0 when mx or cella_x is 0', () => {
    assert.equal(parseMrcHeader(header({ mx: 0 }), STACK_BYTES, SRC).voxelSize, 0);
    assert.equal(parseMrcHeader(header({ cellaX: 0 }), STACK_BYTES, SRC).voxelSize, 0);
  });

  it("accepts 'MAP\\0'", () => {
    assert.equal(parseMrcHeader(header({ map: 'MAP\0' }), STACK_BYTES, SRC).nz, 41);
  });

  it('reads a big-endian file by its machine stamp', () => {
    assert.deepEqual(
      parseMrcHeader(header({ bigEndian: true }), STACK_BYTES, SRC),
      parseMrcHeader(header(), STACK_BYTES, SRC),
    );
  });

  it('throws for a short header', () =>
    throwsInvalid(() => parseMrcHeader(Buffer.alloc(37), 37, SRC), 'MRC header truncated: 37 of 1024 bytes'));
  it("throws without 'MAP '", () =>
    throwsInvalid(
      () => parseMrcHeader(header({ map: 'PAM ' }), STACK_BYTES, SRC),
      "not an MRC file: no 'MAP ' at byte 208",
    ));
  it('throws for a zeroed file', () =>
    throwsInvalid(() => parseMrcHeader(Buffer.alloc(1024), 1024, SRC), 'not an MRC file'));
  for (const dims of [{ nx: 0 }, { ny: -1 }, { nz: 0 }]) {
    it(`throws for ${JSON.stringify(dims)}`, () =>
      throwsInvalid(() => parseMrcHeader(header(dims), STACK_BYTES, SRC), 'bad dimensions'));
  }
  for (const mode of [3, 4, 101, -1]) {
    it(`throws for mode ${mode}, listing the supported ones`, () =>
      throwsInvalid(
        () => parseMrcHeader(header({ mode }), STACK_BYTES * 2, SRC),
        `unsupported MRC mode ${mode}`,
        '12 (float16)',
      ));
  }
  it('throws for a negative nsymbt', () =>
    throwsInvalid(() => parseMrcHeader(header({ nsymbt: -8 }), STACK_BYTES, SRC), 'nsymbt=-8'));
  it('throws for truncated data', () =>
    throwsInvalid(
      () => parseMrcHeader(header(), STACK_BYTES - 1, SRC),
      `data truncated: file is ${STACK_BYTES - 1} bytes, header promises ${STACK_BYTES}`,
    ));
  it('throws for data truncated by the extended header', () =>
    throwsInvalid(
      () => parseMrcHeader(header({ nsymbt: 1024 }), STACK_BYTES, SRC),
      `header promises ${STACK_BYTES + 1024}`,
    ));
});
