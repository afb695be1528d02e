/**
 * Bad-input rows: RELION STAR results (postprocess, particles), through the campaign-file activities.
 */
import { createCampaignFileActivities } from '../../../src/activities/campaign-files.js';
import { ErrorType, type ErrorTypeName } from '../../../src/errors.js';
import { type Row, esc, settle, FakeCluster } from './rows.js';

const POSTPROCESS_PATH = '/work/c1/PostProcess/postprocess.star';
const PARTICLES_PATH = '/work/c1/Extract/particles.star';
const POSTPROCESS = [
  'data_general',
  '',
  '_rlnFinalResolution   29.09',
  '_rlnBfactorUsedForSharpening  -952.3',
  '',
  'data_fsc',
  '',
  'loop_',
  '_rlnSpectralIndex #1',
  '_rlnAngstromResolution #2',
  '_rlnFourierShellCorrelationCorrected #3',
  '0 999.0 1.0',
  '1 320.0 0.9998',
  '2 160.0 0.95',
  '',
].join('\n');
const PARTICLES = [
  'data_particles',
  '',
  'loop_',
  '_rlnTomoName #1',
  '_rlnCoordinateX #2',
  '_rlnCoordinateY #3',
  '_rlnCoordinateZ #4',
  'TS_01 10 20 30',
  'TS_01 11 21 31',
  '',
].join('\n');

export function star(name: string, path: string, text: string | undefined, type: ErrorTypeName, message: RegExp): Row {
  return {
    source: 'STAR',
    case: name,
    input: text ?? '(no file)',
    type,
    message,
    run: async () => {
      const cluster = new FakeCluster(text === undefined ? {} : { [path]: text });
      const activities = createCampaignFileActivities(cluster.deps);
      const result = await settle(() =>
        path === POSTPROCESS_PATH
          ? activities.readPostprocess({ cluster: 'dev', path })
          : activities.countParticles({ cluster: 'dev', path }),
      );
      return result.threw
        ? { kind: 'threw', error: result.error, sideEffects: cluster.sideEffects }
        : { kind: 'returned', value: result.value, sideEffects: cluster.sideEffects };
    },
  };
}

const cutAt = (text: string, fragment: string): string => text.slice(0, text.indexOf(fragment) + fragment.length);
const PP = esc(POSTPROCESS_PATH);

export const starRows: Row[] = [
  star(
    'postprocess cut in the middle of a row',
    POSTPROCESS_PATH,
    cutAt(POSTPROCESS, '2 160.0'),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:14: row has 2 values but the loop has 3 columns$`),
  ),
  star(
    'postprocess cut after loop_',
    POSTPROCESS_PATH,
    cutAt(POSTPROCESS, 'loop_'),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:8: loop_ in data_fsc has no columns$`),
  ),
  star(
    'postprocess cut before data_fsc',
    POSTPROCESS_PATH,
    cutAt(POSTPROCESS, '-952.3'),
    ErrorType.InputInvalid,
    new RegExp(`^${PP} has no data_fsc block \\(blocks: data_general\\)$`),
  ),
  star(
    'postprocess missing the corrected FSC column',
    POSTPROCESS_PATH,
    POSTPROCESS.replace('_rlnFourierShellCorrelationCorrected #3', '_rlnFourierShellCorrelation #3'),
    ErrorType.InputInvalid,
    new RegExp(
      `^${PP}: data_fsc has no column _rlnFourierShellCorrelationCorrected ` +
        '\\(columns: _rlnSpectralIndex, _rlnAngstromResolution, _rlnFourierShellCorrelation\\)$',
    ),
  ),
  star(
    'postprocess missing the final resolution',
    POSTPROCESS_PATH,
    POSTPROCESS.replace('_rlnFinalResolution   29.09\n', ''),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}: data_general has no _rlnFinalResolution \\(keys: _rlnBfactorUsedForSharpening\\)$`),
  ),
  star(
    'postprocess with a word in a number column',
    POSTPROCESS_PATH,
    POSTPROCESS.replace('1 320.0 0.9998', '1 nan 0.9998'),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:13: data_fsc _rlnAngstromResolution row 2 is "nan", not a finite number$`),
  ),
  star(
    'postprocess with an unterminated quote',
    POSTPROCESS_PATH,
    POSTPROCESS.replace('_rlnFinalResolution   29.09', "_rlnFinalResolution   '29.09"),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:3: unterminated ' quote$`),
  ),
  star(
    'postprocess with text before any data_ block',
    POSTPROCESS_PATH,
    `relion_postprocess: error\n${POSTPROCESS}`,
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:1: expected a data_ block before "relion_postprocess: error"$`),
  ),
  star(
    'postprocess file missing',
    POSTPROCESS_PATH,
    undefined,
    ErrorType.InputInvalid,
    new RegExp(`^postprocess result ${PP}: file not found on cluster "dev"$`),
  ),
  star(
    'particles cut in the middle of a row',
    PARTICLES_PATH,
    cutAt(PARTICLES, 'TS_01 11 21'),
    ErrorType.InputInvalid,
    new RegExp(`^${esc(PARTICLES_PATH)}:9: row has 3 values but the loop has 4 columns$`),
  ),
  star(
    'particles cut after the header: no rows',
    PARTICLES_PATH,
    cutAt(PARTICLES, '_rlnCoordinateZ #4\n'),
    ErrorType.ToolFailed,
    new RegExp(`^${esc(PARTICLES_PATH)}: extraction wrote no particles`),
  ),
];
