/**
 * What cryoet watch shows of a campaign's status: keyed lines (without a TTY, printed
 * again only when they change) and the progress bars' values (with one).
 */
import type { CampaignStatus } from '../model/campaign-status.js';
import { bfactorSuffix, formatCost, formatResolution, picksText, refineText } from './tables.js';

/**
 * What `cryoet watch` prints without a TTY: one keyed line per thing that can change.
 * A line is printed again only when its text changes ({@link changedLines}).
 */
export function watchFacts(s: CampaignStatus): Map<string, string> {
  const facts = new Map<string, string>();
  facts.set(
    'stage',
    `stage ${s.stage} · cost ${formatCost(s.costUsd)}${s.particles === undefined ? '' : ` · ${s.particles} particles`}`,
  );
  for (const [name, t] of Object.entries(s.tiltSeries))
    facts.set(`ts:${name}`, `${name} ${t.status}${t.error ? `: ${t.error}` : ''}`);
  if (s.picks.state !== 'not-required') facts.set('picks', `picks ${picksText(s.picks)}`);
  if (s.refine.iteration !== undefined || s.refine.finished) facts.set('refine', `refine ${refineText(s.refine)}`);
  for (const [step, workflowId] of Object.entries(s.running))
    facts.set(`run:${step}`, `running ${step} (${workflowId})`);
  if (s.finalResolution !== undefined)
    facts.set('final', `final ${formatResolution(s.finalResolution)}${bfactorSuffix(s.bfactor)}`);
  if (s.error !== undefined) facts.set('error', `error ${s.error}`);
  // Each event once: a hang relaxed, a job lost and resubmitted, a node left out, a step moved.
  for (const e of s.events ?? []) facts.set(`event:${e.at}:${e.text}`, e.text);
  return facts;
}

/** Lines that are new or changed since `before`, plus `finished <step>` for ones gone from `running`. */
export function changedLines(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const lines: string[] = [];
  for (const [key, text] of after) if (before.get(key) !== text) lines.push(text);
  for (const key of before.keys())
    if (key.startsWith('run:') && !after.has(key)) lines.push(`finished ${key.slice(4)}`);
  return lines;
}

/** Bar value (0..1) and label of a tilt series for the progress bars. */
export function tiltSeriesBar(state: CampaignStatus['tiltSeries'][string]['status']): { value: number; label: string } {
  switch (state) {
    case 'waiting':
      return { value: 0, label: 'waiting' };
    case 'running':
      return { value: 0.5, label: 'running' };
    case 'done':
      return { value: 1, label: 'done' };
    case 'failed':
      return { value: 1, label: 'FAILED' };
    case 'cancelled':
      return { value: 1, label: 'cancelled' };
  }
}

/** Iterations the refine bar assumes until RELION reports convergence. */
export const REFINE_BAR_ITERATIONS = 25;

/** Refine bar: value / total (iterations) and payload text. */
export function refineBar(refine: CampaignStatus['refine']): {
  value: number;
  total: number;
  iteration: string;
  resolution: string;
} {
  const it = refine.iteration ?? 0;
  const total = refine.finished ? Math.max(it, 1) : Math.max(REFINE_BAR_ITERATIONS, it + 1);
  return {
    value: refine.finished ? total : it,
    total,
    iteration: refine.iteration === undefined ? (refine.finished ? 'done' : '-') : String(refine.iteration),
    resolution: refine.resolution === undefined ? '-' : `${refine.resolution.toFixed(2)} Å`,
  };
}
