/**
 * What the campaign-file tests share: the shipped campaign files as text, and edits of them.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ConfigIssue } from '../../src/config/issues.js';
import { parseCampaign } from '../../src/campaign/load.js';

const ROOT = new URL('../../', import.meta.url);
export const PRODUCTION = readFileSync(new URL('campaigns/empiar-10164.yaml', ROOT), 'utf8');
export const EMBEDDED = readFileSync(new URL('campaigns/embedded-10164.yaml', ROOT), 'utf8');

/** Line (1-based) of the first line of `text` containing `fragment`. */
export function lineOf(text: string, fragment: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(fragment));
  assert.ok(index >= 0, `no line contains ${JSON.stringify(fragment)}`);
  return index + 1;
}

/** `text` with `from` replaced by `to` (exactly once). */
export function edit(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  assert.notEqual(out, text, `edit did not apply: ${String(from)}`);
  return out;
}

export function issuesOf(text: string, profile: 'production' | 'embedded' = 'production'): ConfigIssue[] {
  const result = parseCampaign(text, profile);
  if (result.ok) assert.fail('expected the campaign to be rejected');
  return result.issues;
}

export const RELION5_LINE =
  'relion5: { tomograms: relion5/ctf/tilt_series_ctf.star, particles: relion5/particles.star }\n';
export const TS_LINES = /tiltSeries:\n(  - .*\n)+/;
