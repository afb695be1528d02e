/**
 * Resolution per refine iteration: a line with a point per iteration (Å, lower is better),
 * and a marker where a reclaimed refine resumed (the `resumed` events of the refine step).
 */
import type { RunRecord } from '../model/campaign-status.js';
import { angstrom } from './format.js';
import {
  axisBottom,
  axisLeft,
  esc,
  linear,
  niceDomain,
  niceStep,
  niceTicks,
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

const FRAME: Frame = { width: 560, height: 360, left: 60, right: 24, top: 22, bottom: 58 };

/** Iterations where the refine resumed after a reclaim, with the event's note. */
function resumes(record: Pick<RunRecord, 'steps'>): { iteration: number; note: string }[] {
  const steps = Array.isArray(record.steps) ? record.steps : [];
  return steps
    .filter((s) => s.step === 'refine')
    .flatMap((s) => (Array.isArray(s.events) ? s.events : []))
    .filter((e) => e.kind === 'resumed' && Number.isFinite(e.iteration))
    .map((e) => ({ iteration: e.iteration!, note: e.note ?? `resumed from iteration ${e.iteration}` }));
}

/** `<svg id="iterations-plot">`, or a "no data" note when there are no iterations. */
export function iterationsPlot(record: Pick<RunRecord, 'iterations' | 'steps'>): string {
  const points = (Array.isArray(record.iterations) ? record.iterations : []).filter(
    (p) => p && Number.isFinite(p.iteration) && Number.isFinite(p.resolution),
  );
  if (points.length === 0) return noData('iterations-plot', 'No refine iterations in the run record.');
  const f = FRAME;
  const its = points.map((p) => p.iteration);
  const res = points.map((p) => p.resolution);
  const [iLo, iHi] = [Math.min(...its), Math.max(...its)];
  const x = linear([iLo - 0.5, iHi + 0.5], [x0(f), x1(f)]);
  const [rLo, rHi] = niceDomain(Math.min(...res), Math.max(...res), 5, Math.max(1, Math.abs(res[0]!) * 0.1));
  const y = linear([rLo, rHi], [y1(f), y0(f)]);
  const xStep = Math.max(1, Math.ceil(niceStep(iHi - iLo, 10)));
  const xTicks: Tick[] = [];
  for (let i = iLo; i <= iHi; i += xStep) xTicks.push({ at: x(i), label: tickLabel(i) });
  const yTicks: Tick[] = niceTicks(rLo, rHi, 5).map((v) => ({ at: y(v), label: tickLabel(v) }));
  const parts = [
    svgOpen('iterations-plot', f, 'Resolution per refine iteration'),
    axisLeft(f, yTicks, 'resolution (Å) — lower is better'),
    axisBottom(f, xTicks, 'refine iteration', false),
  ];
  for (const r of resumes(record)) {
    if (r.iteration < iLo - 0.5 || r.iteration > iHi + 0.5) continue;
    const rx = x(r.iteration + 0.5);
    parts.push(
      `<g class="resume-marker"><title>${esc(r.note)}</title>`,
      `<line x1="${px(rx)}" y1="${px(y0(f))}" x2="${px(rx)}" y2="${px(y1(f))}" stroke-dasharray="3 3"/>`,
      `<text x="${px(rx + 4)}" y="${px(y0(f) + 12)}">resumed after ${esc(tickLabel(r.iteration))}</text></g>`,
    );
  }
  parts.push(`<path class="curve" d="${pathThrough(points.map((p) => [x(p.iteration), y(p.resolution)]))}"/>`);
  for (const p of points) {
    const cx = px(x(p.iteration));
    const cy = px(y(p.resolution));
    const title = `iteration ${esc(tickLabel(p.iteration))}: ${esc(angstrom(p.resolution))} Å`;
    parts.push(`<circle class="point" cx="${cx}" cy="${cy}" r="3.5"><title>${title}</title></circle>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
