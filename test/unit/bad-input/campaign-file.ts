/**
 * Bad-input rows: the campaign file, each loaded by loadCampaign.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCampaign } from '../../../src/campaign/load.js';
import { ErrorType } from '../../../src/errors.js';
import { type Row, WORK, nextFolder, esc, edit, located, unchanged } from './rows.js';

const CAMPAIGN = readFileSync(new URL('../../../campaigns/embedded-10164.yaml', import.meta.url), 'utf8');
const TS01 =
  '{ name: TS_01, stack: TS_01.mrc, angles: TS_01.rawtlt, pixelSize: 10, dosePerTilt: 3, picks: TS_01_picks.star }';
const NAME_HINT = /expected a letter or digit, then letters, digits, '_' or '-' \(at most 63 characters\)$/;
const DOTDOT = /'\.\.' is not allowed: name the file under dataDir or give an absolute path$/;
const SYMMETRY_HINT = /expected a RELION symmetry such as C1, C6, D2, T, O or I$/;

/** A campaign row: `text` is the whole file, in a folder of its own with the tilt-series files beside it. */
export function campaign(
  name: string,
  text: string,
  path: string,
  lineFragment: string | undefined,
  message: RegExp,
): Row {
  const dir = join(WORK, `campaign-${nextFolder()}`);
  const file = join(dir, 'campaign.yaml');
  return {
    source: 'campaign file',
    case: name,
    input: text,
    type: ErrorType.InputInvalid,
    message: located(file, text, lineFragment, path, message),
    run: async () => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, text);
      writeFileSync(join(dir, 'TS_01.mrc'), Buffer.alloc(16));
      writeFileSync(join(dir, 'TS_01.rawtlt'), '0\n');
      return unchanged(() => loadCampaign(file, 'embedded'));
    },
  };
}

const ts01 = (fields: string): string => edit(CAMPAIGN, TS01, fields);
const named = (name: string): string => ts01(TS01.replace('name: TS_01', `name: ${JSON.stringify(name)}`));
const MISSING_CAMPAIGN = join(WORK, 'nowhere', 'campaign.yaml');

export const campaignRows: Row[] = [
  // tilt-series names that would reach a shell or a path
  campaign('name with ; and a command', named('TS_01;rm -rf ~'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with $( )', named('$(reboot)'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with backticks', named('`id`'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with ../', named('../TS_01'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with a line break', named('TS_01\nsbatch x'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with a quote', named("TS_01'"), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign(
    'campaign name with &&',
    edit(CAMPAIGN, 'name: embedded-10164', 'name: "demo&&id"'),
    'name',
    'name: "demo',
    NAME_HINT,
  ),
  // paths
  campaign(
    'angles path climbing out with ../',
    ts01(TS01.replace('angles: TS_01.rawtlt', 'angles: ../../etc/passwd')),
    'tiltSeries[0].angles',
    'etc/passwd',
    DOTDOT,
  ),
  campaign(
    'picks path with ../ in the middle',
    ts01(TS01.replace('picks: TS_01_picks.star', 'picks: sub/../../x.star')),
    'tiltSeries[0].picks',
    'x.star',
    DOTDOT,
  ),
  campaign(
    'dataDir with ../',
    edit(CAMPAIGN, 'dataDir: synthetic-10164', 'dataDir: ../other'),
    'dataDir',
    'dataDir:',
    DOTDOT,
  ),
  campaign(
    'reference path with a NUL',
    edit(CAMPAIGN, 'reference: reference.mrc', 'reference: "reference.mrc\\0"'),
    'reference',
    'reference:',
    /a path may not contain NUL or line breaks$/,
  ),
  // duplicates
  campaign(
    'duplicate tilt series names',
    edit(CAMPAIGN, 'name: TS_43', 'name: TS_01'),
    'tiltSeries[2].name',
    'TS_43.mrc',
    /duplicate tilt series "TS_01" \(also tiltSeries\[0\]\)$/,
  ),
  // pixel size and dose
  campaign(
    'pixel size 0',
    ts01(TS01.replace('pixelSize: 10', 'pixelSize: 0')),
    'tiltSeries[0].pixelSize',
    'TS_01.mrc',
    /expected pixel size in Å > 0$/,
  ),
  campaign(
    'pixel size negative',
    ts01(TS01.replace('pixelSize: 10', 'pixelSize: -10')),
    'tiltSeries[0].pixelSize',
    'TS_01.mrc',
    /expected pixel size in Å > 0$/,
  ),
  campaign(
    'pixel size not a number',
    ts01(TS01.replace('pixelSize: 10', 'pixelSize: .nan')),
    'tiltSeries[0].pixelSize',
    'TS_01.mrc',
    /expected a number \(pixel size in Å\)$/,
  ),
  campaign(
    'pixel size with a unit',
    ts01(TS01.replace('pixelSize: 10', 'pixelSize: 10 A')),
    'tiltSeries[0].pixelSize',
    'TS_01.mrc',
    /expected a number \(pixel size in Å\)$/,
  ),
  campaign(
    'negative dose',
    ts01(TS01.replace('dosePerTilt: 3', 'dosePerTilt: -3')),
    'tiltSeries[0].dosePerTilt',
    'TS_01.mrc',
    /expected dose per tilt in e\/Å² > 0$/,
  ),
  // symmetry
  campaign(
    'symmetry in lower case',
    edit(CAMPAIGN, 'symmetry: C6', 'symmetry: c6'),
    'refine.symmetry',
    'symmetry:',
    SYMMETRY_HINT,
  ),
  campaign(
    'symmetry order 0',
    edit(CAMPAIGN, 'symmetry: C6', 'symmetry: D0'),
    'refine.symmetry',
    'symmetry:',
    SYMMETRY_HINT,
  ),
  campaign(
    'symmetry with shell text',
    edit(CAMPAIGN, 'symmetry: C6', 'symmetry: "C6; rm -rf /"'),
    'refine.symmetry',
    'symmetry:',
    SYMMETRY_HINT,
  ),
  campaign(
    'symmetry as a number',
    edit(CAMPAIGN, 'symmetry: C6', 'symmetry: 6'),
    'refine.symmetry',
    'symmetry:',
    /expected a string, got number 6$/,
  ),
  {
    source: 'campaign file',
    case: 'campaign file missing',
    input: MISSING_CAMPAIGN,
    type: ErrorType.InputInvalid,
    message: new RegExp(`^${esc(MISSING_CAMPAIGN)}: cannot read campaign file \\(ENOENT`),
    run: () => unchanged(() => loadCampaign(MISSING_CAMPAIGN, 'embedded')),
  },
];
