/**
 * The doctor's check of a campaign's input files on the cluster, over SFTP: every file the
 * campaign file names is there, MRC files have a whole header and the size it implies, the
 * angles match the stack's sections, STAR files parse. Reads headers only (1 KiB of a
 * multi-gigabyte stack) and the small text files whole.
 */
import type { CampaignSpec } from '../model/campaign-spec.js';
import type { SshConnection } from '../ssh/connection.js';
import { MRC_HEADER_BYTES, parseMrcHeader, type MrcHeader } from '../tools/mrc.js';
import { checkTiltSeries, parseRawtlt } from '../tools/rawtlt.js';
import { parseStar } from '../tools/star.js';
import { dataPath, type CampaignLayout } from '../tools/toolset.js';
import { check, type DoctorCheck } from './checks.js';

type FileKind = 'mrc' | 'star' | 'angles';

interface NamedFile {
  /** `tiltSeries[0].stack` */
  readonly field: string;
  readonly path: string;
  readonly kind: FileKind;
  /** For angles: the field of the stack they belong to. */
  readonly stackField?: string;
}

/** Every file the campaign names, with its field (pure). */
export function campaignFiles(spec: CampaignSpec, layout: CampaignLayout): NamedFile[] {
  const at = (file: string) => dataPath(layout, file);
  const files: NamedFile[] = [];
  spec.tiltSeries.forEach((ts, i) => {
    const f = `tiltSeries[${i}] (${ts.name})`;
    files.push({ field: `${f}.stack`, path: at(ts.stack), kind: 'mrc' });
    files.push({ field: `${f}.angles`, path: at(ts.angles), kind: 'angles', stackField: `${f}.stack` });
    files.push({ field: `${f}.picks`, path: at(ts.picks), kind: 'star' });
  });
  if (spec.reference !== undefined && spec.refine.startFrom !== 'featureless') {
    files.push({ field: 'reference', path: at(spec.reference), kind: 'mrc' });
  }
  if (spec.masks.solvent !== undefined)
    files.push({ field: 'masks.solvent', path: at(spec.masks.solvent), kind: 'mrc' });
  if (spec.masks.fsc !== undefined) files.push({ field: 'masks.fsc', path: at(spec.masks.fsc), kind: 'mrc' });
  if (spec.relion5 !== undefined) {
    files.push({ field: 'relion5.tomograms', path: at(spec.relion5.tomograms), kind: 'star' });
    if (spec.relion5.particles !== undefined)
      files.push({ field: 'relion5.particles', path: at(spec.relion5.particles), kind: 'star' });
  }
  if (spec.truth !== undefined) files.push({ field: 'truth.map', path: at(spec.truth.map), kind: 'mrc' });
  return files;
}

function megabytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

/** Checks every named file; one line each. */
export async function checkCampaignFiles(
  connection: SshConnection,
  spec: CampaignSpec,
  layout: CampaignLayout,
  campaignFile: string,
): Promise<DoctorCheck[]> {
  const scope = `campaign ${spec.name}`;
  const headers = new Map<string, { header: MrcHeader; path: string }>();
  const checks: DoctorCheck[] = [];
  const fix = (field: string) =>
    `fix ${field} in ${campaignFile} (relative paths are under dataDir ${layout.dataDir}), or copy the file there`;
  for (const file of campaignFiles(spec, layout)) {
    try {
      if (file.kind === 'mrc') {
        const { head, size } = await connection.readHead(file.path, MRC_HEADER_BYTES);
        const h = parseMrcHeader(head, size, file.path);
        headers.set(file.field, { header: h, path: file.path });
        const px = h.voxelSize > 0 ? `, ${h.voxelSize.toFixed(3)} Å/px in header` : '';
        checks.push(
          check(
            'pass',
            scope,
            file.field,
            `${file.path}: ${h.nx}×${h.ny}×${h.nz} mode ${h.mode}${px}, ${megabytes(size)}`,
          ),
        );
      } else if (file.kind === 'angles') {
        const text = (await connection.readFile(file.path)).toString('utf8');
        const angles = parseRawtlt(text, file.path);
        const stack = headers.get(file.stackField!);
        if (stack !== undefined)
          checkTiltSeries({ stackSource: stack.path, header: stack.header, anglesSource: file.path, angles });
        const range = `${Math.min(...angles)}° to ${Math.max(...angles)}°`;
        checks.push(check('pass', scope, file.field, `${file.path}: ${angles.length} tilts, ${range}`));
      } else {
        const text = (await connection.readFile(file.path)).toString('utf8');
        const star = parseStar(text, file.path);
        const rows = star.blocks
          .map((b) => `data_${b.name}${b.loop ? ` ${b.loop.rows.length} row(s)` : ''}`)
          .join(', ');
        checks.push(check('pass', scope, file.field, `${file.path}: ${rows || 'no blocks'}`));
      }
    } catch (err) {
      checks.push(check('fail', scope, file.field, (err as Error).message, fix(file.field)));
    }
  }
  return checks;
}
