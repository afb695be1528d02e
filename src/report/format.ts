/**
 * Number, time and size formatting for the campaign report. Pure; every function takes
 * whatever the record holds (possibly NaN, undefined or a bad date) and returns plain
 * text with no markup (the caller escapes it).
 */
import { parseTime } from '../campaign/step-intervals.js';
import type { TruthResult } from '../model/results.js';

/** Shown where a value is missing or not a number. */
export const NONE = '—';

/** `1234567` → `1,234,567` (any sign, rounded to an integer first). */
export function groupThousands(n: number): string {
  if (!Number.isFinite(n)) return NONE;
  const s = String(Math.round(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 && Math.round(Math.abs(n)) !== 0 ? `−${s}` : s;
}

/** A fixed number of decimals with a real minus sign; `—` for a non-number. */
export function fixed(n: number | undefined, digits: number): string {
  if (n === undefined || !Number.isFinite(n)) return NONE;
  const s = n.toFixed(digits);
  return s.startsWith('-') && Number(s) !== 0 ? `−${s.slice(1)}` : s.replace(/^-/, '');
}

/** A resolution in Å: two decimals below 100 Å, one above. */
export function angstrom(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return NONE;
  return fixed(n, Math.abs(n) < 100 ? 2 : 1);
}

/** Dollars: `$0.00` for nothing, four decimals below a cent, else two (grouped above $1,000). */
export function usd(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return NONE;
  const sign = n < 0 ? '−' : '';
  const a = Math.abs(n);
  if (a === 0) return '$0.00';
  if (a < 0.01) return `${sign}$${a.toFixed(4)}`;
  if (a >= 1000) return `${sign}$${groupThousands(Math.floor(a))}${(a % 1).toFixed(2).slice(1)}`;
  return `${sign}$${a.toFixed(2)}`;
}

/** Seconds as `45s`, `8m03s`, `2h05m`, `3d04h`. */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return NONE;
  const neg = seconds < 0 ? '−' : '';
  const s = Math.round(Math.abs(seconds));
  const two = (v: number) => String(v).padStart(2, '0');
  if (s < 60) return `${neg}${s}s`;
  if (s < 3600) return `${neg}${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${neg}${Math.floor(s / 3600)}h${two(Math.floor((s % 3600) / 60))}m`;
  return `${neg}${Math.floor(s / 86_400)}d${two(Math.floor((s % 86_400) / 3600))}h`;
}

/** A byte count as `3.0 MiB` (bytes below 1 KiB as `512 B`). */
export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n) || n < 0) return NONE;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export { parseTime };

/** `2026-11-30 09:14:03 UTC`, or `—`. */
export function dateTime(iso: string | undefined): string {
  const ms = parseTime(iso);
  if (ms === undefined) return NONE;
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** `09:14:03` when on the same UTC day as `dayOf`, else `11-30 09:14:03`; `—` when missing. */
export function clock(iso: string | undefined, dayOf?: string): string {
  const ms = parseTime(iso);
  if (ms === undefined) return NONE;
  const text = new Date(ms).toISOString();
  const ref = parseTime(dayOf);
  const sameDay = ref !== undefined && new Date(ref).toISOString().slice(0, 10) === text.slice(0, 10);
  return sameDay ? text.slice(11, 19) : `${text.slice(5, 10)} ${text.slice(11, 19)}`;
}

/** How a step row is named: `reconstruct TS_01`, or just the step. */
export function stepLabel(step: { readonly step: string; readonly tiltSeries?: string }): string {
  return step.tiltSeries ? `${step.step} ${step.tiltSeries}` : step.step;
}

const SAFE_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/;

/** An argv as one display line, POSIX-quoted where a word needs it (never throws). */
export function commandLine(argv: readonly string[] | undefined): string {
  if (!Array.isArray(argv)) return '';
  return argv
    .map((a) => String(a))
    .map((a) => (a === '' ? "''" : SAFE_WORD.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`))
    .join(' ');
}

/** `RELION 5.0.1 (BASE=double)`, or why the version is not known. */
export function relionText(r: { version: string; precision?: string; program: string; error?: string }): string {
  if (r.version === 'unknown') return `RELION version unknown (${r.program}: ${r.error ?? 'no version line'})`;
  return `RELION ${r.version}${r.precision ? ` (${r.precision})` : ''}`;
}

/**
 * Where the tilt-series geometry came from: `own AreTomo2 alignment (TS_01 84.41°, TS_03 84.52°)`
 * or `published tables`; empty for records without it (embedded profile, older records).
 */
export function alignmentText(
  a: { source: string; series?: readonly { name: string; tiltAxis: number }[] } | undefined,
): string {
  if (!a) return '';
  if (a.source === 'published') return 'published tables (relion5.tomograms as given)';
  const axes = (a.series ?? []).map((s) => `${s.name} ${Number(s.tiltAxis).toFixed(2)}°`).join(', ');
  return `own AreTomo2 alignment, imported${axes ? ` (tilt axis ${axes})` : ''}`;
}

/** The refine's start: featureless (no reference) or `reference reference.mrc`; empty when unknown. */
export function startText(s: { from: string; reference?: string } | undefined): string {
  if (!s) return '';
  return s.from === 'featureless'
    ? 'featureless: the particles averaged at random orientations (no reference)'
    : `reference ${s.reference ?? '?'}`;
}

/**
 * The known-answer check of a synthetic campaign: `cc 0.901 with the truth; hand: truth 0.915
 * vs mirror 0.706 (margin +0.209); FSC vs truth 0.5 at 12.8 Å`, or why it failed.
 */
export function truthText(t: TruthResult): string {
  if ('error' in t) return `check against ${t.truth} failed: ${t.error}`;
  // Tolerant of a record edited or cut short, as every formatter here.
  const f = (v: unknown) => (typeof v === 'number' ? v.toFixed(3) : '?');
  const margin = `${typeof t.handMargin === 'number' && t.handMargin >= 0 ? '+' : ''}${f(t.handMargin)}`;
  const hand = `hand: truth ${f(t.handTruth)} vs mirror ${f(t.handMirror)} (margin ${margin})`;
  const at =
    typeof t.resolutionAtFsc05 === 'number'
      ? `${t.resolutionAtFsc05.toFixed(1)} Å`
      : 'never (below 0.5 at every shell)';
  return `cc ${f(t.ccTruth)} with the truth; ${hand}; FSC vs truth 0.5 at ${at}`;
}
