/**
 * Bad-input rows: the tilt-series files a campaign reads on the cluster (MRC stack, .rawtlt),
 * through inspectTiltSeries, before any job.
 */
import { createCampaignFileActivities, type InspectTiltSeriesInput } from '../../../src/activities/campaign-files.js';
import { ErrorType } from '../../../src/errors.js';
import { MRC_HEADER_BYTES } from '../../../src/tools/mrc.js';
import { type Row, esc, settle, FakeCluster } from './rows.js';

interface HeaderFields {
  nx?: number;
  ny?: number;
  nz?: number;
  mode?: number;
  nsymbt?: number;
  map?: string;
}

/** An MRC2014 file of float32 voxels: header, then all the data unless `bytes` cuts it. */
export function mrc(f: HeaderFields = {}, bytes?: number): Buffer {
  const { nx = 8, ny = 8, nz = 41, mode = 2, nsymbt = 0, map = 'MAP ' } = f;
  const head = Buffer.alloc(MRC_HEADER_BYTES);
  [nx, ny, nz, mode].forEach((v, i) => head.writeInt32LE(v, i * 4));
  head.writeInt32LE(nx, 28);
  head.writeFloatLE(nx * 10, 40);
  head.writeInt32LE(nsymbt, 92);
  head.write(map, 208, 'latin1');
  head.set([0x44, 0x44, 0, 0], 212);
  const whole = Buffer.concat([head, Buffer.alloc(Math.max(0, nsymbt) + Math.max(0, nx * ny * nz * 4))]);
  return bytes === undefined ? whole : whole.subarray(0, bytes);
}

const STACK = '/data/c1/TS_01.mrc';
const ANGLES = '/data/c1/TS_01.rawtlt';
const RAWTLT_41 = Array.from({ length: 41 }, (_, i) => `${-60 + 3 * i}`).join('\n') + '\n';
const RAWTLT_40 = RAWTLT_41.split('\n').slice(0, 40).join('\n') + '\n';

export function tiltSeries(
  name: string,
  input: string,
  files: Record<string, string | Buffer>,
  message: RegExp,
  override: Partial<InspectTiltSeriesInput> = {},
): Row {
  return {
    source: 'tilt-series files',
    case: name,
    input,
    type: ErrorType.InputInvalid,
    message,
    run: async () => {
      const cluster = new FakeCluster(files);
      const activities = createCampaignFileActivities(cluster.deps);
      const result = await settle(() =>
        activities.inspectTiltSeries({
          cluster: 'dev',
          name: 'TS_01',
          stack: STACK,
          angles: ANGLES,
          pixelSize: 10,
          ...override,
        }),
      );
      return result.threw
        ? { kind: 'threw', error: result.error, sideEffects: cluster.sideEffects }
        : { kind: 'returned', value: result.value, sideEffects: cluster.sideEffects };
    },
  };
}

export const tiltSeriesRows: Row[] = [
  tiltSeries(
    'stack missing',
    'no TS_01.mrc',
    { [ANGLES]: RAWTLT_41 },
    new RegExp(`^TS_01: tilt stack ${esc(STACK)}: file not found on cluster "dev"$`),
  ),
  tiltSeries(
    'angle file missing',
    'no TS_01.rawtlt',
    { [STACK]: mrc() },
    new RegExp(`^TS_01: tilt angles ${esc(ANGLES)}: file not found on cluster "dev"$`),
  ),
  tiltSeries(
    'corrupt MRC header (no MAP stamp)',
    "bytes 208-211 'XXXX'",
    { [STACK]: mrc({ map: 'XXXX' }), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: not an MRC file: no 'MAP ' at byte 208$`),
  ),
  tiltSeries(
    'MRC header cut short',
    '100 bytes',
    { [STACK]: mrc({}, 100), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: MRC header truncated: 100 of 1024 bytes$`),
  ),
  tiltSeries(
    'MRC data cut short',
    'header + half the data',
    { [STACK]: mrc({}, 1024 + 8 * 8 * 20 * 4), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: data truncated: file is 6144 bytes, header promises 11520$`),
  ),
  tiltSeries(
    'MRC mode unknown',
    'mode 5',
    { [STACK]: mrc({ mode: 5 }), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: unsupported MRC mode 5; supported: `),
  ),
  tiltSeries(
    'MRC with zero sections',
    'nz 0',
    { [STACK]: mrc({ nz: 0 }), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: bad dimensions 8x8x0: each must be at least 1$`),
  ),
  tiltSeries(
    'MRC extended header size negative',
    'nsymbt -4',
    { [STACK]: mrc({ nsymbt: -4 }), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: bad extended header size nsymbt=-4$`),
  ),
  tiltSeries(
    'stack/angle count mismatch',
    '41 sections, 40 angles',
    { [STACK]: mrc(), [ANGLES]: RAWTLT_40 },
    /^TS_01\.mrc has 41 tilt images but TS_01\.rawtlt has 40 angles$/,
  ),
  tiltSeries(
    'angle file with a word',
    'line 3 "abc"',
    { [STACK]: mrc(), [ANGLES]: '-60\n-57\nabc\n' },
    new RegExp(`^${esc(ANGLES)}:3: tilt angle "abc" is not a number$`),
  ),
  tiltSeries(
    'angle outside ±90°',
    'line 2 "95"',
    { [STACK]: mrc(), [ANGLES]: '0\n95\n' },
    new RegExp(`^${esc(ANGLES)}:2: tilt angle 95 is outside \\[-90, 90\\] degrees$`),
  ),
  tiltSeries(
    'angle file empty',
    "''",
    { [STACK]: mrc(), [ANGLES]: '\n\n' },
    new RegExp(`^${esc(ANGLES)}: no tilt angles$`),
  ),
  tiltSeries(
    'pixel size 0 reaching the check',
    'pixelSize 0',
    { [STACK]: mrc(), [ANGLES]: RAWTLT_41 },
    /^TS_01: pixelSize 0: expected a pixel size > 0 Å$/,
    { pixelSize: 0 },
  ),
];
