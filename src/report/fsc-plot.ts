/**
 * The FSC curve: corrected FSC against spatial frequency (1/Å), x ticks labelled as
 * resolution in Å, the 0.143 threshold and a marker at the final resolution. Points at
 * frequency 0 (RELION writes resolution 999 or Infinity there) and non-numbers are skipped.
 */
import type { RunRecord } from '../model/campaign-status.js';
import { angstrom, fixed } from './format.js';
import {
  axisBottom,
  axisLeft,
  esc,
  linear,
  niceStep,
  noData,
  pathThrough,
  px,
  svgOpen,
  tickLabel,
  x0,
  x1,
  y0,
  y1,
  type Frame,
  type Tick,
} from './svg.js';

export const FSC_THRESHOLD = 0.143;
const FRAME: Frame = { width: 560, height: 360, left: 60, right: 24, top: 22, bottom: 58 };

/** Resolutions RELION writes for frequency 0. */
const AT_ZERO = 999;

/** The plottable points: finite, positive resolution below 999 Å and finite FSC, by frequency. */
export function fscPoints(fsc: RunRecord['fsc'] | undefined): { freq: number; resolution: number; fsc: number }[] {
  return (Array.isArray(fsc) ? fsc : [])
    .filter(
      (p) => p && Number.isFinite(p.resolution) && p.resolution > 0 && p.resolution < AT_ZERO && Number.isFinite(p.fsc),
    )
    .map((p) => ({ freq: 1 / p.resolution, resolution: p.resolution, fsc: p.fsc }))
    .sort((a, b) => a.freq - b.freq);
}

/** Round resolutions (1, 1.2, 1.5, ... 8 × 10^k Å). */
const NICE_ANGSTROM = [-1, 0, 1, 2, 3, 4].flatMap((k) =>
  [1, 1.2, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8].map((m) => Number((m * 10 ** k).toPrecision(3))),
);

/** x ticks: evenly spread frequencies, each snapped to the nearest round resolution. */
function angstromTicks(maxFreq: number, x: (f: number) => number): Tick[] {
  const step = niceStep(maxFreq, 10);
  const ticks: Tick[] = [];
  let last = -Infinity;
  for (let target = step; target <= maxFreq * (1 + 1e-9); target += step) {
    const best = NICE_ANGSTROM.reduce((a, b) => (Math.abs(1 / b - target) < Math.abs(1 / a - target) ? b : a));
    const at = x(1 / best);
    if (1 / best > maxFreq || at - last < 36) continue;
    ticks.push({ at, label: tickLabel(best) });
    last = at;
  }
  return ticks;
}

/** `<svg id="fsc-plot">`, or a "no data" note when there are no plottable points. */
export function fscPlot(record: Pick<RunRecord, 'fsc' | 'finalResolution'>): string {
  const points = fscPoints(record.fsc);
  if (points.length === 0) return noData('fsc-plot', 'No FSC data in the run record.');
  const f = FRAME;
  const r = record.finalResolution ?? NaN;
  const final = Number.isFinite(r) && r > 0 ? r : undefined;
  const maxFreq = Math.max(...points.map((p) => p.freq), final ? 1 / final : 0) * 1.04;
  const lo = Math.min(-0.1, Math.floor(Math.min(...points.map((p) => p.fsc)) * 10) / 10);
  const hi = Math.max(1.05, Math.max(...points.map((p) => p.fsc)) + 0.02);
  const x = linear([0, maxFreq], [x0(f), x1(f)]);
  const y = linear([lo, hi], [y1(f), y0(f)]);
  const yTicks: Tick[] = [0, 0.2, 0.4, 0.6, 0.8, 1]
    .filter((v) => v >= lo && v <= hi)
    .map((v) => ({ at: y(v), label: tickLabel(v) }));
  const threshold = px(y(FSC_THRESHOLD));
  const parts = [
    svgOpen('fsc-plot', f, 'Fourier shell correlation against spatial frequency'),
    axisLeft(f, yTicks, 'FSC (corrected)'),
    axisBottom(f, angstromTicks(maxFreq, x), 'resolution (Å) · spatial frequency 1/Å'),
    `<line class="zero" x1="${px(x0(f))}" y1="${px(y(0))}" x2="${px(x1(f))}" y2="${px(y(0))}"/>`,
    `<g class="threshold"><title>FSC = 0.143 (gold-standard resolution criterion)</title>`,
    `<line x1="${px(x0(f))}" y1="${threshold}" x2="${px(x1(f))}" y2="${threshold}" stroke-dasharray="6 4"/>`,
    `<text x="${px(x1(f) - 4)}" y="${px(y(FSC_THRESHOLD) - 5)}" text-anchor="end">0.143</text></g>`,
  ];
  if (final) {
    const fx = x(1 / final);
    const right = fx > (x0(f) + x1(f)) / 2;
    const textX = px(fx + (right ? -5 : 5));
    const anchor = right ? 'end' : 'start';
    parts.push(
      `<g class="final-res"><title>final resolution ${esc(angstrom(final))} Å</title>`,
      `<line x1="${px(fx)}" y1="${px(y0(f))}" x2="${px(fx)}" y2="${px(y1(f))}" stroke-dasharray="3 3"/>`,
      `<text x="${textX}" y="${px(y0(f) + 12)}" text-anchor="${anchor}">${esc(angstrom(final))} Å</text></g>`,
    );
  }
  parts.push(`<path class="curve" d="${pathThrough(points.map((p) => [x(p.freq), y(p.fsc)]))}"/>`);
  for (const p of points) {
    const title = `${esc(angstrom(p.resolution))} Å: FSC ${esc(fixed(p.fsc, 3))}`;
    parts.push(
      `<circle class="fsc-point" cx="${px(x(p.freq))}" cy="${px(y(p.fsc))}" r="2.5"><title>${title}</title></circle>`,
    );
  }
  parts.push('</svg>');
  return parts.join('');
}
