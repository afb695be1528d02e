/**
 * The Gantt timeline: one row per cluster step, light bars while its job was pending and
 * solid bars while it ran, markers (with <title> tooltips) where it hung, was relaxed to
 * the next rung, lost its node, was requeued or resumed, and a legend. x = time since the
 * campaign started.
 */
import type { StepSummary } from '../model/step-summary.js';
import type { JobEvent } from '../model/job-record.js';
import type { RunRecord } from '../model/campaign-status.js';
import { clock, dateTime, duration, parseTime, stepLabel } from './format.js';
import { stepIntervals, type Interval, type MarkedKind } from '../campaign/step-intervals.js';
import {
  axisBottom,
  esc,
  linear,
  noData,
  px,
  svgOpen,
  textWidth,
  x0,
  x1,
  y0,
  y1,
  type Frame,
  type Tick,
} from './svg.js';

const ROW = 26;
const LABEL_WIDTH = 190;
const AXIS_HEIGHT = 48;
const LEGEND_HEIGHT = 30;
const WIDTH = 1160;

/** How each marked event is drawn (shape centred on 0,0) and named in the legend. */
const MARKS: Record<MarkedKind, { shape: string; legend: string; dy: number }> = {
  hung: { shape: '<path d="M-5,-4 L5,-4 L0,4 Z"/>', legend: 'hung (cancelled)', dy: -9 },
  relaxed: { shape: '<path d="M-5,4 L5,4 L0,-4 Z"/>', legend: 'relaxed to the next rung', dy: 9 },
  lost: { shape: '<path d="M-4,-4 L4,4 M-4,4 L4,-4"/>', legend: 'node lost (reclaimed)', dy: -9 },
  requeued: { shape: '<circle r="4"/>', legend: 'requeued by Slurm', dy: -9 },
  resumed: { shape: '<path d="M-4,-5 L5,0 L-4,5 Z"/>', legend: 'resumed', dy: 9 },
};

/** Steps ordered by their first event (steps without events last, in record order). */
function ordered(steps: readonly StepSummary[]): StepSummary[] {
  const first = (s: StepSummary) =>
    Math.min(...(Array.isArray(s.events) ? s.events : []).map((e) => parseTime(e?.at) ?? Infinity), Infinity);
  return steps
    .map((s, i) => ({ s, i, t: first(s) }))
    .sort((a, b) => a.t - b.t || a.i - b.i)
    .map((r) => r.s);
}

/** Duration ticks at round steps (1 s … days), about one per 90 px. */
function timeTicks(spanS: number, x: (s: number) => number, widthPx: number): Tick[] {
  const steps = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400, 172800,
    604800,
  ];
  const max = Math.max(2, Math.floor(widthPx / 90));
  const step = steps.find((s) => spanS / s <= max) ?? Math.ceil(spanS / max / 86400) * 86400;
  const ticks: Tick[] = [];
  for (let t = 0; t <= spanS + 1e-9; t += step) ticks.push({ at: x(t), label: tickDuration(t) });
  return ticks;
}

/** A round duration, shortest form: `0`, `30s`, `5m`, `2m30s`, `1h`, `1h30m`, `2d`. */
export function tickDuration(t: number): string {
  const s = Math.round(t);
  if (s === 0) return '0';
  if (s % 86400 === 0) return `${s / 86400}d`;
  if (s >= 86400) return `${Math.floor(s / 86400)}d${Math.round((s % 86400) / 3600)}h`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s % 60 === 0) return `${s / 60}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

function eventText(e: JobEvent, startMs: number, dayOf: string): string {
  const t = parseTime(e.at);
  const bits = [`${e.kind} at ${clock(e.at, dayOf)}${t === undefined ? '' : ` (+${duration((t - startMs) / 1000)})`}`];
  if (Number.isFinite(e.rung)) bits.push(`rung ${e.rung + 1}`);
  if (e.jobId) bits.push(`job ${e.jobId}`);
  if (e.state) bits.push(e.reason ? `${e.state} (${e.reason})` : e.state);
  if (e.node) bits.push(`node ${e.node}`);
  if (e.kind === 'resumed' && e.iteration !== undefined) bits.push(`from iteration ${e.iteration}`);
  if (e.note) bits.push(e.note);
  return bits.join(' · ');
}

function barTitle(b: Interval): string {
  const what = b.kind === 'running' ? 'running' : 'pending';
  const bits = [`${what} ${duration((b.end - b.start) / 1000)}`, `rung ${b.rung + 1}`];
  if (b.jobId) bits.push(`job ${b.jobId}`);
  if (b.node) bits.push(`node ${b.node}`);
  if (b.reason) bits.push(`reason ${b.reason}`);
  return bits.join(' · ');
}

/** The campaign's time origin and end (ms): startedAt/endedAt, widened to cover every event. */
function span(
  record: Pick<RunRecord, 'startedAt' | 'endedAt'>,
  steps: readonly StepSummary[],
): [number, number] | undefined {
  const times = steps
    .flatMap((s) => (Array.isArray(s.events) ? s.events : []).map((e) => parseTime(e?.at)))
    .filter((t): t is number => t !== undefined);
  const start = parseTime(record.startedAt) ?? (times.length ? Math.min(...times) : undefined);
  if (start === undefined) return undefined;
  const end = Math.max(start, parseTime(record.endedAt) ?? start, ...times);
  return [Math.min(start, ...times), end];
}

/** Centre a label of `width` px at `at`, unless that would cross the plot's left or right edge. */
function anchorWithin(at: number, width: number, left: number, right: number): 'start' | 'middle' | 'end' {
  if (at - width / 2 < left) return 'start';
  if (at + width / 2 > right) return 'end';
  return 'middle';
}

/** Bars, then the marker kinds that occur. */
function legend(y: number, kinds: ReadonlySet<MarkedKind>): string {
  const items: { swatch: string; label: string }[] = [
    { swatch: '<rect class="bar-pending" x="-7" y="-5" width="14" height="10"/>', label: 'pending' },
    { swatch: '<rect class="bar-running" x="-7" y="-7" width="14" height="14"/>', label: 'running' },
    ...(Object.entries(MARKS) as [MarkedKind, (typeof MARKS)[MarkedKind]][])
      .filter(([kind]) => kinds.has(kind))
      .map(([kind, m]) => ({ swatch: `<g class="legend-${kind}">${m.shape}</g>`, label: m.legend })),
  ];
  const parts = ['<g class="legend">'];
  let x = 16;
  for (const it of items) {
    parts.push(
      `<g transform="translate(${px(x)} ${px(y)})">${it.swatch}<text x="12" y="4">${esc(it.label)}</text></g>`,
    );
    x += 12 + textWidth(it.label, 12) + 26;
  }
  parts.push('</g>');
  return parts.join('');
}

/** `<svg id="timeline">`, or a "no data" note when the record has no steps or no times. */
export function timeline(record: Pick<RunRecord, 'steps' | 'startedAt' | 'endedAt' | 'picks'>): string {
  const steps = ordered(Array.isArray(record.steps) ? record.steps : []);
  const range = span(record, steps);
  if (steps.length === 0 || range === undefined)
    return noData('timeline', 'No cluster steps with times in the run record.');
  const [startMs, endMs] = range;
  const spanS = Math.max(1, (endMs - startMs) / 1000);
  const f: Frame = {
    width: WIDTH,
    height: 30 + steps.length * ROW + AXIS_HEIGHT + LEGEND_HEIGHT,
    left: LABEL_WIDTH,
    right: 28,
    top: 30,
    bottom: AXIS_HEIGHT + LEGEND_HEIGHT,
  };
  const xs = linear([0, spanS], [x0(f), x1(f)]);
  const x = (ms: number) => xs((ms - startMs) / 1000);
  const dayOf = new Date(startMs).toISOString();
  const parts = [
    svgOpen('timeline', f, 'Cluster steps over time: pending and running intervals'),
    ...steps.map((_, i) =>
      i % 2 === 0 ? `<rect class="stripe" x="0" y="${px(y0(f) + i * ROW)}" width="${px(x1(f))}" height="${ROW}"/>` : '',
    ),
    axisBottom(f, timeTicks(spanS, xs, x1(f) - x0(f)), `time since the campaign started (${dateTime(dayOf)})`),
  ];
  const seen = new Set<MarkedKind>();
  steps.forEach((step, i) => {
    const top = y0(f) + i * ROW;
    const mid = top + ROW / 2;
    const label = stepLabel(step);
    const shown = label.length > 28 ? `${label.slice(0, 27)}…` : label;
    const { intervals, markers } = stepIntervals(step.events);
    parts.push(`<g class="row" data-step="${esc(label)}">`);
    const labelAt = `x="${px(LABEL_WIDTH - 10)}" y="${px(mid + 4)}"`;
    parts.push(`<text class="row-label" ${labelAt} text-anchor="end"><title>${esc(label)}</title>${esc(shown)}</text>`);
    if (intervals.length === 0 && markers.length === 0) {
      parts.push(`<text class="row-empty" x="${px(x0(f) + 6)}" y="${px(mid + 4)}">no events</text>`);
    }
    for (const b of intervals) {
      const h = b.kind === 'running' ? 14 : 10;
      const w = Math.max(1.5, x(b.end) - x(b.start));
      const box = `x="${px(x(b.start))}" y="${px(mid - h / 2)}" width="${px(w)}" height="${h}"`;
      parts.push(`<rect class="bar-${b.kind}" ${box}><title>${esc(`${label}: ${barTitle(b)}`)}</title></rect>`);
    }
    for (const m of markers) {
      seen.add(m.kind);
      const mark = MARKS[m.kind];
      const translate = `translate(${px(x(m.at))} ${px(mid + mark.dy)})`;
      const markTip = esc(`${label}: ${eventText(m.event, startMs, dayOf)}`);
      parts.push(
        `<g class="marker marker-${m.kind}" transform="${translate}"><title>${markTip}</title>${mark.shape}</g>`,
      );
    }
    parts.push('</g>');
  });
  const picksAt = parseTime(record.picks?.decidedAt);
  if (picksAt !== undefined && picksAt >= startMs && picksAt <= endMs) {
    const px0 = x(picksAt);
    const text = `picks ${record.picks.state}${record.picks.by ? ` by ${record.picks.by}` : ''}`;
    const comment = record.picks.comment ? `: ${record.picks.comment}` : '';
    const picksTip = esc(`${text} at ${clock(record.picks.decidedAt, dayOf)}${comment}`);
    const anchor = anchorWithin(px0, textWidth(text), x0(f), x1(f));
    parts.push(
      `<g class="picks-line"><title>${picksTip}</title>`,
      `<line x1="${px(px0)}" y1="${px(y0(f) - 6)}" x2="${px(px0)}" y2="${px(y1(f))}" stroke-dasharray="4 3"/>`,
      `<text x="${px(px0)}" y="${px(y0(f) - 10)}" text-anchor="${anchor}">${esc(text)}</text></g>`,
    );
  }
  parts.push(legend(y1(f) + AXIS_HEIGHT + 14, seen), '</svg>');
  return parts.join('');
}
