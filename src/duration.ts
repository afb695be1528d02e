/**
 * Durations as written in temporal.yaml: `500ms`, `90s`, `10m`, `2h`, `1d`, and
 * combinations from the largest unit down (`1h30m`, `1m30s`, `2d12h`).
 *
 * A bare number is rejected on purpose: `hangAfter: 600` could mean seconds or
 * milliseconds, and guessing wrong turns a 10-minute hang check into a 10-day one.
 * Parsed values are milliseconds, the unit Temporal's APIs accept as a number.
 */
import { z } from 'zod';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNITS_DESCENDING: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];

// Each unit at most once, largest first. `m(?!s)` keeps `10ms` from reading as `10m` + `s`.
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** What every duration error says is accepted. */
export const DURATION_EXPECTED = 'expected a duration such as 500ms, 90s, 10m, 2h, 1d or 1h30m';

/**
 * Milliseconds in `text`. Throws a plain `Error` whose message starts with
 * {@link DURATION_EXPECTED} and quotes the input, e.g.
 * `expected a duration such as … , got "600" (a bare number has no unit: write 600s or 10m)`.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  const match = DURATION.exec(trimmed);
  if (trimmed === '' || !match) throw new Error(durationError(text));
  let ms = 0;
  UNITS_DESCENDING.forEach((unit, index) => {
    const digits = match[index + 1];
    if (digits !== undefined) ms += Number(digits) * UNIT_MS[unit];
  });
  if (!Number.isSafeInteger(ms)) throw new Error(`${durationError(text)} (too large)`);
  return ms;
}

function durationError(text: string): string {
  const got = `${DURATION_EXPECTED}, got ${JSON.stringify(text)}`;
  const trimmed = text.trim();
  if (trimmed === '') return `${DURATION_EXPECTED}, got an empty string`;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return `${got} (${bareNumberHint(trimmed)})`;
  if (trimmed.startsWith('-')) return `${got} (durations cannot be negative)`;
  if (/^\d+\.\d+/.test(trimmed)) return `${got} (use whole numbers: 1m30s, not 1.5m)`;
  return got;
}

/**
 * The shortest string {@link parseDuration} reads back as `ms`: `5400000` → `1h30m`,
 * `1500` → `1s500ms`, `0` → `0s`. Fractions of a millisecond are rounded.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let text = '';
  for (const unit of UNITS_DESCENDING) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * UNIT_MS[unit];
  }
  return text;
}

/**
 * zod schema for a positive duration string; the output is milliseconds. Errors quote the
 * original text (`got "10 minutes"`), and a YAML number gets a hint to add a unit.
 * Give defaults with `.prefault('10s')` so the default goes through the parser too.
 */
export const durationSchema = z
  .string({
    error: (issue) =>
      typeof issue.input === 'number'
        ? `${DURATION_EXPECTED}, got ${issue.input} (${bareNumberHint(String(issue.input))})`
        : `${DURATION_EXPECTED}, got ${describeInput(issue.input)}`,
  })
  .transform((text, ctx) => {
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch (error) {
      ctx.issues.push({ code: 'custom', message: (error as Error).message, input: text });
      return z.NEVER;
    }
    if (ms === 0) {
      ctx.issues.push({
        code: 'custom',
        message: `expected a positive duration, got ${JSON.stringify(text)}`,
        input: text,
      });
      return z.NEVER;
    }
    return ms;
  });

function bareNumberHint(number: string): string {
  return /^\d+$/.test(number)
    ? `a bare number has no unit: write ${number}s or ${number}ms`
    : 'a bare number has no unit: write whole numbers with units, e.g. 1m30s';
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  return JSON.stringify(input);
}
