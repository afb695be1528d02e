/**
 * The report's pictures from the files a run record points to: each tomogram's central XY
 * section and XZ slab (read as byte ranges: a few MB of a multi-GB tomogram), and the final
 * map whole (a refine box is small). Files are read through a {@link FileReader}: over SFTP
 * from the cluster (`cryoet report`), or from this machine's disk.
 */
import { open } from 'node:fs/promises';
import type { RunRecord } from '../model/campaign-status.js';
import { MRC_HEADER_BYTES, parseMrcHeader, type MrcHeader } from '../tools/mrc.js';
import { decodeVoxels, mrcLittleEndian } from '../tools/mrc-data.js';
import { mapPictures, picture, slabOf, slabXZ, sliceZ, type Picture } from './views.js';

/** A file open for reads at any offset. */
export interface FileReader {
  readonly size: number;
  read(offset: number, length: number): Promise<Buffer>;
  close(): void;
}

export type OpenFile = (path: string) => Promise<FileReader>;

/** The pictures of one campaign, as the report shows them. */
export interface ReportPictures {
  readonly tiltSeries: readonly {
    readonly name: string;
    readonly file: string;
    readonly pictures: readonly Picture[];
  }[];
  readonly map?: { readonly file: string; readonly pictures: readonly Picture[] };
  /** What could not be drawn, and why (a missing file, a map too large). */
  readonly notes: readonly string[];
}

/** Most bytes read for one picture set: larger sections or maps are left out, with a note. */
export const MAX_READ_BYTES = 256 * 1024 * 1024;

/** Files on this machine. */
export const openLocal: OpenFile = async (path) => {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    read: async (offset, length) => {
      const buf = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
      return buf.subarray(0, bytesRead);
    },
    close: () => void handle.close(),
  };
};

async function header(reader: FileReader, path: string): Promise<{ h: MrcHeader; little: boolean }> {
  const head = await reader.read(0, MRC_HEADER_BYTES);
  return { h: parseMrcHeader(head, reader.size, path), little: mrcLittleEndian(head) };
}

/** A tomogram's central XY section and XZ slab. */
export async function tomogramPictures(reader: FileReader, path: string): Promise<Picture[]> {
  const { h, little } = await header(reader, path);
  const section = h.nx * h.ny * h.bytesPerVoxel;
  if (section > MAX_READ_BYTES)
    throw new Error(`${path}: a ${h.nx}×${h.ny} section is over ${MAX_READ_BYTES / 2 ** 20} MiB`);
  const cz = Math.floor(h.nz / 2);
  const xy = decodeVoxels(await reader.read(h.dataOffset + cz * section, section), h, little);
  const { y0, rows } = slabOf(h.ny);
  const rowBytes = h.nx * h.bytesPerVoxel;
  const slab = new Float32Array(h.nx * rows * h.nz);
  for (let z = 0; z < h.nz; z++) {
    const bytes = await reader.read(h.dataOffset + z * section + y0 * rowBytes, rows * rowBytes);
    slab.set(decodeVoxels(bytes, h, little), z * rows * h.nx);
  }
  return [
    picture(`XY, z = ${cz} of ${h.nz}`, sliceZ({ nx: h.nx, ny: h.ny, nz: 1, values: xy }, 0)),
    picture(`XZ slab, y = ${y0}…${y0 + rows - 1} of ${h.ny} averaged`, slabXZ(slab, h.nx, rows, h.nz)),
  ];
}

/** The final map's XY, XZ, YZ slices and max-Z projection. */
export async function finalMapPictures(reader: FileReader, path: string): Promise<Picture[]> {
  const { h, little } = await header(reader, path);
  const bytes = h.nx * h.ny * h.nz * h.bytesPerVoxel;
  if (bytes > MAX_READ_BYTES)
    throw new Error(`${path}: a ${h.nx}×${h.ny}×${h.nz} map is over ${MAX_READ_BYTES / 2 ** 20} MiB`);
  const values = decodeVoxels(await reader.read(h.dataOffset, bytes), h, little);
  return mapPictures({ nx: h.nx, ny: h.ny, nz: h.nz, values });
}

/** The final map of a run record: the masked sharpened map, else the sharpened one, else the refine's. */
export function finalMapFile(record: Pick<RunRecord, 'outputs' | 'campaignDir'>): string | undefined {
  const paths = (Array.isArray(record.outputs) ? record.outputs : []).map((o) => o.path);
  for (const end of [
    'PostProcess/postprocess_masked.mrc',
    'PostProcess/postprocess.mrc',
    'Refine3D/run_class001.mrc',
  ]) {
    const found = paths.find((p) => p.endsWith(`/${end}`));
    if (found !== undefined) return found;
  }
  return undefined;
}

async function withFile<T>(openFile: OpenFile, path: string, fn: (r: FileReader) => Promise<T>): Promise<T> {
  const reader = await openFile(path);
  try {
    return await fn(reader);
  } finally {
    reader.close();
  }
}

/** Every picture of the record's tomograms and final map; what fails is noted, not thrown. */
export async function readReportPictures(
  record: Pick<RunRecord, 'tiltSeries' | 'outputs' | 'campaignDir'>,
  openFile: OpenFile,
): Promise<ReportPictures> {
  const notes: string[] = [];
  const tiltSeries: { name: string; file: string; pictures: Picture[] }[] = [];
  for (const ts of Array.isArray(record.tiltSeries) ? record.tiltSeries : []) {
    if (!ts.tomogram) continue;
    try {
      tiltSeries.push({
        name: ts.name,
        file: ts.tomogram,
        pictures: await withFile(openFile, ts.tomogram, (r) => tomogramPictures(r, ts.tomogram!)),
      });
    } catch (err) {
      notes.push(`${ts.name}: ${(err as Error).message}`);
    }
  }
  const file = finalMapFile(record);
  let map: ReportPictures['map'];
  if (file === undefined) notes.push('no final map among the outputs');
  else {
    try {
      map = { file, pictures: await withFile(openFile, file, (r) => finalMapPictures(r, file)) };
    } catch (err) {
      notes.push(`final map: ${(err as Error).message}`);
    }
  }
  return { tiltSeries, ...(map === undefined ? {} : { map }), notes };
}
