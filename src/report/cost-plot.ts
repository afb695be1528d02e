/**
 * Cost per stage: horizontal bars of the steps' costUsd summed per step name (probe,
 * reconstruct, extract, refine, postprocess, then any other in record order), with the
 * value in $ beside each bar.
 */
import type { RunRecord } from '../model/campaign-status.js';
import { duration, usd } from './format.js';
import { axisBottom, esc, linear, niceDomain, niceTicks, noData, px, svgOpen, x0, x1, y0, type Frame } from './svg.js';

const ORDER = ['probe', 'reconstruct', 'extract', 'refine', 'postprocess'];
const ROW = 30;

export interface StageCost {
  readonly stage: string;
  readonly costUsd: number;
  readonly steps: number;
  readonly gpuHours: number;
  readonly runSeconds: number;
}

/** Cost, step count, GPU-hours and run time per step name, in pipeline order. */
export function costByStage(steps: RunRecord['steps'] | undefined): StageCost[] {
  const by = new Map<string, { costUsd: number; steps: number; gpuHours: number; runSeconds: number }>();
  for (const s of Array.isArray(steps) ? steps : []) {
    const name = String(s.step);
    const cur = by.get(name) ?? { costUsd: 0, steps: 0, gpuHours: 0, runSeconds: 0 };
    const run = Number.isFinite(s.runSeconds) ? s.runSeconds : 0;
    cur.costUsd += Number.isFinite(s.costUsd) ? s.costUsd : 0;
    cur.steps += 1;
    cur.runSeconds += run;
    cur.gpuHours += (run * (Number.isFinite(s.gpus) ? s.gpus : 0)) / 3600;
    by.set(name, cur);
  }
  const rank = (n: string) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
  return [...by.entries()]
    .map(([stage, v], i) => ({ stage, i, ...v, costUsd: Math.round(v.costUsd * 1e6) / 1e6 }))
    .sort((a, b) => rank(a.stage) - rank(b.stage) || a.i - b.i)
    .map(({ i: _i, ...v }) => v);
}

/** `<svg id="cost-plot">`, or a "no data" note when the record has no steps. */
export function costPlot(record: Pick<RunRecord, 'steps'>): string {
  const stages = costByStage(record.steps);
  if (stages.length === 0) return noData('cost-plot', 'No cluster steps in the run record.');
  const f: Frame = { width: 760, height: 24 + stages.length * ROW + 50, left: 120, right: 150, top: 16, bottom: 50 };
  const max = Math.max(...stages.map((s) => s.costUsd), 0);
  const [, hi] = max > 0 ? niceDomain(0, max, 5) : [0, 1];
  const x = linear([0, hi], [x0(f), x1(f)]);
  const ticks = niceTicks(0, hi, 5).map((v) => ({ at: x(v), label: usd(v).replace(/\.00$/, '') }));
  const parts = [svgOpen('cost-plot', f, 'Cost per stage (USD)'), axisBottom(f, ticks, 'cost ($)')];
  stages.forEach((s, i) => {
    const mid = y0(f) + i * ROW + ROW / 2;
    const w = Math.max(0, x(s.costUsd) - x0(f));
    const steps = `${s.steps} step${s.steps === 1 ? '' : 's'}`;
    const gpuHours = `${s.gpuHours.toFixed(2)} GPU-h`;
    const detail = `${s.stage}: ${usd(s.costUsd)} over ${steps}, ${gpuHours}, ${duration(s.runSeconds)} running`;
    const noteX = x0(f) + w + 6 + usd(s.costUsd).length * 7.5 + 8;
    parts.push(
      `<g class="cost-row" data-stage="${esc(s.stage)}"><title>${esc(detail)}</title>`,
      `<text class="row-label" x="${px(x0(f) - 10)}" y="${px(mid + 4)}" text-anchor="end">${esc(s.stage)}</text>`,
      `<rect class="cost-bar" x="${px(x0(f))}" y="${px(mid - 9)}" width="${px(w)}" height="18"/>`,
      `<text class="value" x="${px(x0(f) + w + 6)}" y="${px(mid + 4)}">${esc(usd(s.costUsd))}</text>`,
      `<text class="value-note" x="${px(noteX)}" y="${px(mid + 4)}">${esc(gpuHours)}</text>`,
      '</g>',
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
