/**
 * Tiny SVG helpers for the report's plots: escaping, linear scales, nice ticks, axes and
 * the plot frame. Output is XML-clean (every attribute quoted, every text escaped) so the
 * plots parse as XML as well as HTML. Pure.
 */

/** Escapes text for HTML/XML text and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** A coordinate with at most one decimal. */
export function px(v: number): string {
  const r = Math.round(v * 10) / 10;
  return Object.is(r, -0) ? '0' : String(r);
}

/** `(v) → pixels` mapping `domain` linearly onto `range`; a point domain maps to the range's middle. */
export function linear(domain: readonly [number, number], range: readonly [number, number]): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  if (d1 === d0) return () => (r0 + r1) / 2;
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/** A "nice" step (1, 2, 2.5 or 5 × 10^k) giving about `count` ticks over `span`. */
export function niceStep(span: number, count: number): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
}

/** Multiples of a nice step inside [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const step = niceStep(max - min, count);
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Math.round(v / step) * step);
    if (ticks.length > 50) break;
  }
  return ticks.map((t) => Number(t.toPrecision(12)));
}

/** [min, max] widened to whole multiples of a nice step (a point gets ± pad). */
export function niceDomain(min: number, max: number, count = 5, pad = 1): [number, number] {
  if (min === max) return [min - pad, max + pad];
  const step = niceStep(max - min, count);
  return [Math.floor(min / step + 1e-9) * step, Math.ceil(max / step - 1e-9) * step];
}

/** A tick value without float noise: `0.30000000000000004` → `0.3`. */
export function tickLabel(v: number): string {
  const s = String(Number(v.toPrecision(10)));
  return s.startsWith('-') ? `−${s.slice(1)}` : s;
}

/** The plot area of a chart: the whole size and the margins around the data. */
export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

export const x0 = (f: Frame): number => f.left;
export const x1 = (f: Frame): number => f.width - f.right;
export const y0 = (f: Frame): number => f.top;
export const y1 = (f: Frame): number => f.height - f.bottom;

/** One axis tick: pixel position along the axis and its label. */
export interface Tick {
  readonly at: number;
  readonly label: string;
}

/** `<svg>` open tag with a <title> (the accessible name and hover text). */
export function svgOpen(id: string, f: Frame, title: string): string {
  const size = `viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}"`;
  return `<svg id="${esc(id)}" xmlns="http://www.w3.org/2000/svg" ${size} role="img"><title>${esc(title)}</title>`;
}

/** Bottom axis: baseline, ticks with labels, light vertical grid lines and a title. */
export function axisBottom(f: Frame, ticks: readonly Tick[], title: string, grid = true): string {
  const y = y1(f);
  const parts = [`<g class="axis axis-x">`, `<line x1="${px(x0(f))}" y1="${px(y)}" x2="${px(x1(f))}" y2="${px(y)}"/>`];
  for (const t of ticks) {
    if (grid) parts.push(`<line class="grid" x1="${px(t.at)}" y1="${px(y0(f))}" x2="${px(t.at)}" y2="${px(y)}"/>`);
    parts.push(`<line x1="${px(t.at)}" y1="${px(y)}" x2="${px(t.at)}" y2="${px(y + 5)}"/>`);
    parts.push(`<text x="${px(t.at)}" y="${px(y + 18)}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  if (title) {
    const cx = px((x0(f) + x1(f)) / 2);
    parts.push(`<text class="axis-title" x="${cx}" y="${px(y + 38)}" text-anchor="middle">${esc(title)}</text>`);
  }
  parts.push('</g>');
  return parts.join('');
}

/** Left axis: baseline, ticks with labels, light horizontal grid lines and a rotated title. */
export function axisLeft(f: Frame, ticks: readonly Tick[], title: string, grid = true): string {
  const x = x0(f);
  const parts = [`<g class="axis axis-y">`, `<line x1="${px(x)}" y1="${px(y0(f))}" x2="${px(x)}" y2="${px(y1(f))}"/>`];
  for (const t of ticks) {
    if (grid) parts.push(`<line class="grid" x1="${px(x)}" y1="${px(t.at)}" x2="${px(x1(f))}" y2="${px(t.at)}"/>`);
    parts.push(`<line x1="${px(x - 5)}" y1="${px(t.at)}" x2="${px(x)}" y2="${px(t.at)}"/>`);
    parts.push(`<text x="${px(x - 8)}" y="${px(t.at + 4)}" text-anchor="end">${esc(t.label)}</text>`);
  }
  if (title) {
    const cx = 14;
    const cy = (y0(f) + y1(f)) / 2;
    const rotate = `transform="rotate(-90 ${px(cx)} ${px(cy)})"`;
    parts.push(
      `<text class="axis-title" x="${px(cx)}" y="${px(cy)}" text-anchor="middle" ${rotate}>${esc(title)}</text>`,
    );
  }
  parts.push('</g>');
  return parts.join('');
}

/** A polyline path through points (`M x,y L x,y ...`); empty for none. */
export function pathThrough(points: readonly (readonly [number, number])[]): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x)},${px(y)}`).join(' ');
}

/** A rough text width (px) for layout, for the report's sans-serif at `size` px. */
export function textWidth(text: string, size = 12): number {
  return text.length * size * 0.6;
}

/** The note shown in place of a plot that has nothing to draw. */
export function noData(id: string, message: string): string {
  return `<p class="no-data" id="${esc(id)}-empty">${esc(message)}</p>`;
}
