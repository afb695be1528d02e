/**
 * The known-answer check's result (embedded/check_truth.py `map`), parsed from its JSON: a
 * synthetic campaign's map against the particle it was made from. Pure.
 */
import type { TruthCheck } from '../model/results.js';

function numberField(parsed: Record<string, unknown>, key: string, truth: string): number {
  const value = parsed[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new Error(`truth check against ${truth}: field ${key} is ${JSON.stringify(value)}, expected a number`);
  }
  return value;
}

/** Parses check_truth.py's JSON; throws naming the field that is missing or not a number. */
export function parseTruthCheck(stdout: string, truth: string): TruthCheck {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`truth check against ${truth}: expected JSON, got ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  const handTruth = numberField(parsed, 'handTruth', truth);
  const handMirror = numberField(parsed, 'handMirror', truth);
  const at05 = parsed['resolutionAtFsc05'];
  return {
    truth,
    ccTruth: numberField(parsed, 'ccTruth', truth),
    handTruth,
    handMirror,
    handMargin: handTruth - handMirror,
    resolutionAtFsc05: at05 === null ? null : numberField(parsed, 'resolutionAtFsc05', truth),
  };
}
