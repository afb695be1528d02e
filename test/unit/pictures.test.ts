/**
 * The report's pictures: MRC voxel decoding (every mode read, float16 and big-endian too),
 * the views (which slice, which way up), the size bound, the PNG (decoded back by pngjs),
 * the byte-range reads of a tomogram on disk, and the report's pictures section.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PNG } from 'pngjs';
import { decodeVoxels, halfToNumber } from '../../src/tools/mrc-data.js';
import {
  MAX_PICTURE_SIDE,
  maxZ,
  picture,
  shrink,
  sliceX,
  sliceZ,
  slabOf,
  slabRows,
  slabXZ,
  toGrey,
  type Volume,
} from '../../src/pictures/views.js';
import { finalMapFile, openLocal, readReportPictures, tomogramPictures } from '../../src/pictures/read.js';
import { renderReport } from '../../src/report/index.js';
import { MRC_HEADER_BYTES } from '../../src/tools/mrc.js';
import type { RunRecord } from '../../src/model/campaign-status.js';
import { repoRoot } from '../helpers/env.js';

/** An MRC file of float32 voxels (little-endian, mode 2). */
function mrcFile(dir: string, name: string, v: Volume): string {
  const head = Buffer.alloc(MRC_HEADER_BYTES);
  [v.nx, v.ny, v.nz, 2].forEach((n, i) => head.writeInt32LE(n, i * 4));
  [v.nx, v.ny, v.nz].forEach((n, i) => head.writeInt32LE(n, 28 + i * 4));
  [v.nx, v.ny, v.nz].forEach((n, i) => head.writeFloatLE(n * 10, 40 + i * 4));
  head.write('MAP ', 208, 'latin1');
  head.set([0x44, 0x44, 0, 0], 212);
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([head, Buffer.from(v.values.buffer, v.values.byteOffset, v.values.byteLength)]));
  return path;
}

/** value = x + 100·y + 10000·z: every voxel says where it is. */
function coordinates(nx: number, ny: number, nz: number): Volume {
  const values = new Float32Array(nx * ny * nz);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) values[x + nx * (y + ny * z)] = x + 100 * y + 10000 * z;
  return { nx, ny, nz, values };
}

describe('MRC voxels', () => {
  it('every mode, both byte orders', () => {
    const b = Buffer.alloc(8);
    b.writeInt16LE(-3, 0);
    b.writeInt16LE(7, 2);
    assert.deepEqual([...decodeVoxels(b.subarray(0, 4), { mode: 1, bytesPerVoxel: 2 }, true)], [-3, 7]);
    b.writeUInt16BE(65535, 0);
    assert.deepEqual([...decodeVoxels(b.subarray(0, 2), { mode: 6, bytesPerVoxel: 2 }, false)], [65535]);
    b.writeFloatBE(1.5, 0);
    assert.deepEqual([...decodeVoxels(b.subarray(0, 4), { mode: 2, bytesPerVoxel: 4 }, false)], [1.5]);
    assert.deepEqual([...decodeVoxels(Buffer.from([0xff, 0x05]), { mode: 0, bytesPerVoxel: 1 }, true)], [-1, 5]);
    b.writeUInt16LE(0x3c00, 0); // 1.0 in half precision
    b.writeUInt16LE(0xc000, 2); // -2.0
    assert.deepEqual([...decodeVoxels(b.subarray(0, 4), { mode: 12, bytesPerVoxel: 2 }, true)], [1, -2]);
    assert.equal(halfToNumber(0x7c00), Infinity);
    assert.equal(halfToNumber(0x0001), 2 ** -24);
  });
});

describe('views', () => {
  const v = coordinates(6, 5, 4);

  it('sections, slabs and max-Z take the voxels they name', () => {
    assert.deepEqual([...sliceZ(v, 2).values.slice(0, 3)], [20000, 20001, 20002]);
    const yz = sliceX(v, 3);
    assert.equal(yz.width, 5);
    assert.equal(yz.height, 4);
    assert.equal(yz.values[1 * 5 + 2], 3 + 200 + 10000);
    const slab = slabXZ(slabRows(v, 1, 2), v.nx, 2, v.nz);
    assert.equal(slab.values[3 * 6 + 4], 4 + 150 + 30000); // mean of y = 1 and 2
    assert.equal(maxZ(v).values[7], 1 + 100 + 30000);
    assert.deepEqual(slabOf(1024), { y0: 504, rows: 16 });
    assert.deepEqual(slabOf(5), { y0: 2, rows: 1 });
  });

  it('y points up: the first PNG row is the highest y; levels span 0…255', () => {
    const grey = toGrey(sliceZ(v, 0));
    assert.ok(grey[0]! > grey[(5 - 1) * 6]!, 'top row brighter than bottom row');
    assert.equal(Math.max(...grey), 255);
    assert.equal(Math.min(...grey), 0);
    assert.ok(
      toGrey({ width: 2, height: 1, values: new Float32Array([3, 3]) }).every((g) => g === 128),
      'a flat plane is mid-grey',
    );
  });

  it('pictures are bounded and are PNGs pngjs reads back', () => {
    const big = { width: 1000, height: 700, values: new Float32Array(700_000).map((_, i) => i % 1000) };
    const small = shrink(big);
    assert.ok(Math.max(small.width, small.height) <= MAX_PICTURE_SIDE, `${small.width}×${small.height}`);
    const p = picture('XY', big);
    assert.equal(p.width, small.width);
    const back = PNG.sync.read(Buffer.from(p.png, 'base64'));
    assert.equal(back.width, p.width);
    assert.equal(back.height, p.height);
    // Left to right the levels rise (x ramp), in every channel pngjs expands grey to.
    assert.ok(back.data[0]! < back.data[(p.width - 1) * 4]!);
  });
});

describe('pictures from files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cryoet-pictures-'));

  it('a tomogram: its central XY section and XZ slab, read as byte ranges', async () => {
    const tomo = mrcFile(dir, 'tomo.mrc', coordinates(64, 48, 20));
    const reader = await openLocal(tomo);
    const reads: number[] = [];
    const counted = { ...reader, read: (o: number, l: number) => (reads.push(l), reader.read(o, l)) };
    const [xy, xz] = await tomogramPictures(counted, tomo);
    reader.close();
    assert.equal(xy!.view, 'XY, z = 10 of 20');
    assert.match(xz!.view, /^XZ slab, y = 22…24 of 48 averaged$/);
    assert.equal(xz!.width, 64);
    assert.equal(xz!.height, 20);
    // The header, one section, then one slab of rows per section: never the whole file.
    assert.deepEqual(reads.slice(0, 2), [MRC_HEADER_BYTES, 64 * 48 * 4]);
    assert.equal(reads.length, 2 + 20);
    assert.ok(reads.slice(2).every((n) => n === 3 * 64 * 4));
  });

  it("a run record's pictures; what cannot be read is noted, not thrown; the report shows them", async () => {
    const tomo = mrcFile(dir, 'TS_01.mrc', coordinates(32, 32, 12));
    mkdirSync(join(dir, 'PostProcess'));
    const map = mrcFile(dir, 'PostProcess/postprocess_masked.mrc', coordinates(24, 24, 24));
    const record = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'run-record.json'), 'utf8')) as RunRecord;
    assert.match(finalMapFile(record) ?? '', /PostProcess\/postprocess_masked\.mrc$/);
    const mine: RunRecord = {
      ...record,
      tiltSeries: [
        { name: 'TS_01', tomogram: tomo },
        { name: 'TS_03', tomogram: join(dir, 'absent.mrc') },
      ],
      outputs: [{ ...record.outputs[0]!, path: map }],
    };
    const none = await readReportPictures(
      { ...mine, outputs: [{ ...record.outputs[0]!, path: join(dir, 'PostProcess', 'postprocess.mrc') }] },
      openLocal,
    );
    assert.equal(none.map, undefined);
    assert.equal(none.notes.length, 2, none.notes.join('\n'));
    assert.match(none.notes[0]!, /^TS_03: .*absent\.mrc/);
    const found = await readReportPictures(mine, openLocal);
    assert.equal(found.map?.pictures.length, 4);
    assert.equal(found.tiltSeries.length, 1);
    const html = renderReport(mine, { pictures: found });
    for (const id of ['map-xy', 'map-xz', 'map-yz', 'map-maxz', 'tomo-ts-01-xy', 'tomo-ts-01-xz']) {
      assert.match(
        html,
        new RegExp(`<img id="${id}" src="data:image/png;base64,[A-Za-z0-9+/=]+" width="\\d+" height="\\d+"`),
        id,
      );
    }
    assert.match(html, /Not drawn: TS_03: /);
    assert.doesNotMatch(renderReport(mine), /id="pictures"/);
  });
});
