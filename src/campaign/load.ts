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
import type { ToolProfileName } from '../tools/toolset.js';
import { campaignSchema, type CampaignSpec } from './schema.js';

export type ParseCampaignResult = { ok: true; spec: CampaignSpec } | { ok: false; issues: ConfigIssue[] };

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Checks across fields, and those that depend on the tool profile. */
function profileIssues(raw: unknown, profile: ToolProfileName): FoundIssue[] {
  const root = record(raw);
  const found: FoundIssue[] = [];
  if (profile === 'production' && root?.relion5 === undefined) {
    found.push({ segments: ['relion5'], message: 'missing: the production profile extracts with relion_tomo_subtomo, which needs relion5.particles and relion5.tomograms' });
  }
  const masks = record(root?.masks);
  const post = record(root?.postprocess);
  if (masks?.fsc === undefined && post?.denovoMask === undefined) {
    found.push({ segments: ['postprocess'], message: 'postprocess needs a mask: give masks.fsc, or postprocess.denovoMask { outerRadiusPx, softEdgePx }' });
  }
  const series = Array.isArray(root?.tiltSeries) ? root.tiltSeries.map(record) : [];
  const first = series[0]?.pixelSize;
  series.forEach((ts, i) => {
    if (typeof first === 'number' && typeof ts?.pixelSize === 'number' && ts.pixelSize !== first) {
      found.push({ segments: ['tiltSeries', i, 'pixelSize'], message: `expected ${first} Å like tiltSeries[0]: one campaign averages particles at one pixel size` });
    }
  });
  return found;
}

/** Validates campaign text without throwing. */
export function parseCampaign(text: string, profile: ToolProfileName): ParseCampaignResult {
  const { issues, value } = collectYamlIssues(text, campaignSchema, {
    empty: 'the file is empty: expected a mapping with name, dataset, dataDir, tiltSeries, reference, reconstruction, extraction and refine',
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
    throw new CryoError(ErrorType.InputInvalid, `${file}: cannot read campaign file (${(error as Error).message})`, { file });
  }
  const result = parseCampaign(text, profile);
  if (!result.ok) throw new CryoError(ErrorType.InputInvalid, formatConfigIssues(file, result.issues), { file, issues: result.issues });
  return result.spec;
}
