/**
 * Reading a campaign file: YAML → zod ({@link campaignSchema}) plus the checks that need the
 * tool profile, every problem at once with its line:
 *
 *     campaign.yaml:14 tiltSeries[2].name: expected a letter or digit, then …
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { collectYamlIssues, formatConfigIssues, type ConfigIssue, type FoundIssue } from '../config/issues.js';
import { CryoError, ErrorType } from '../errors.js';
import { runsRelion5, type ToolProfileName } from '../tools/toolset.js';
import { campaignSchema, RELION_AUTO_LOCAL_HEALPIX_ORDER, type CampaignSpec } from '../model/campaign-spec.js';

export type ParseCampaignResult = { ok: true; spec: CampaignSpec } | { ok: false; issues: ConfigIssue[] };

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Checks across fields, and those that depend on the tool profile. They run on the raw
 * YAML, so they are reported together with the schema's problems, not after them.
 */
function profileIssues(raw: unknown, profile: ToolProfileName): FoundIssue[] {
  const root = record(raw);
  if (!root) return []; // the schema already says what the top level should be
  const found: FoundIssue[] = [];
  if (runsRelion5(profile) && root.relion5 === undefined) {
    found.push({
      segments: ['relion5'],
      message: `missing: the ${profile} profile extracts with relion_tomo_subtomo, which needs relion5.tomograms`,
    });
  }
  if (
    runsRelion5(profile) &&
    root.alignment === 'published' &&
    record(root.relion5) &&
    record(root.relion5)!.particles === undefined
  ) {
    found.push({
      segments: ['relion5', 'particles'],
      message: 'missing: alignment: published takes the particles from relion5.particles (the published picks)',
    });
  }
  if (record(root.refine)?.startFrom === 'featureless' && (!runsRelion5(profile) || root.alignment === 'published')) {
    found.push({
      segments: ['refine', 'startFrom'],
      message:
        'featureless needs a RELION 5 profile and alignment: aretomo2' +
        ' (the import gives the particles their random orientations)',
    });
  }
  const refine = record(root.refine);
  const localFrom =
    typeof refine?.autoLocalHealpixOrder === 'number' ? refine.autoLocalHealpixOrder : RELION_AUTO_LOCAL_HEALPIX_ORDER;
  // Particles from picks (every profile but RELION 5 with published particles) have no angles.
  const noPriors = refine?.startFrom === 'featureless' || !(runsRelion5(profile) && root.alignment === 'published');
  // Only a valid order (the schema reports the others once).
  const given = refine?.healpixOrder;
  const order = typeof given === 'number' && Number.isInteger(given) && given >= 0 && given <= 8 ? given : undefined;
  if (noPriors && order !== undefined && order >= localFrom) {
    const why =
      refine?.startFrom === 'featureless'
        ? 'featureless needs a global search first'
        : 'particles from picks have no orientations';
    found.push({
      segments: ['refine', 'healpixOrder'],
      message:
        `${why}: healpixOrder ${order} must be below autoLocalHealpixOrder ${localFrom}` +
        ' (RELION searches locally from iteration 1 otherwise, around rot = tilt = psi = 0;' +
        ' alignment: published takes the published angles)',
    });
  }
  if (refine?.startFrom !== 'featureless' && root.reference === undefined) {
    found.push({
      segments: ['reference'],
      message: 'missing: give the starting map (reference), or refine.startFrom: featureless',
    });
  }
  const masks = record(root.masks);
  const post = record(root.postprocess);
  if (masks?.fsc === undefined && post?.denovoMask === undefined) {
    found.push({
      segments: ['postprocess'],
      message: 'postprocess needs a mask: give masks.fsc, or postprocess.denovoMask { outerRadiusPx, softEdgePx }',
    });
  }
  const series = Array.isArray(root.tiltSeries) ? root.tiltSeries.map(record) : [];
  const seen = new Map<string, number>();
  series.forEach((ts, i) => {
    if (typeof ts?.name !== 'string') return;
    const first = seen.get(ts.name);
    if (first !== undefined)
      found.push({
        segments: ['tiltSeries', i, 'name'],
        message: `duplicate tilt series "${ts.name}" (also tiltSeries[${first}])`,
      });
    else seen.set(ts.name, i);
  });
  // One pixel size: compared with the first valid one, so a bad value is reported once (by the schema).
  const valid = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  const firstIndex = series.findIndex((ts) => valid(ts?.pixelSize));
  if (firstIndex >= 0) {
    const first = series[firstIndex]!.pixelSize as number;
    series.forEach((ts, i) => {
      if (valid(ts?.pixelSize) && ts.pixelSize !== first) {
        found.push({
          segments: ['tiltSeries', i, 'pixelSize'],
          message:
            `expected ${first} Å like tiltSeries[${firstIndex}]: ` +
            'one campaign averages particles at one pixel size',
        });
      }
    });
  }
  const min = record(root.limits)?.minTiltSeries;
  if (typeof min === 'number' && series.length > 0 && min > series.length) {
    found.push({
      segments: ['limits', 'minTiltSeries'],
      message: `expected at most ${series.length} (the number of tilt series)`,
    });
  }
  return found;
}

/** Validates campaign text without throwing. */
export function parseCampaign(text: string, profile: ToolProfileName): ParseCampaignResult {
  const { issues, value } = collectYamlIssues(text, campaignSchema, {
    empty:
      'the file is empty: expected a mapping with name, dataset, dataDir, tiltSeries, ' +
      'reference, reconstruction, extraction and refine',
    extra: (raw) => profileIssues(raw, profile),
  });
  return value === undefined ? { ok: false, issues } : { ok: true, spec: value };
}

/** Reads and validates a campaign file; throws InputInvalid with one line per problem. */
export async function loadCampaign(file: string, profile: ToolProfileName): Promise<CampaignSpec> {
  let text: string;
  try {
    text = await readFile(resolve(file), 'utf8');
  } catch (error) {
    throw new CryoError(ErrorType.InputInvalid, `${file}: cannot read campaign file (${(error as Error).message})`, {
      file,
    });
  }
  const result = parseCampaign(text, profile);
  if (!result.ok)
    throw new CryoError(ErrorType.InputInvalid, formatConfigIssues(file, result.issues), {
      file,
      issues: result.issues,
    });
  return result.spec;
}
