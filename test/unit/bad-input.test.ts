/**
 * Bad input, one row per case (issue 7): temporal.yaml, the campaign file, the tilt-series
 * files a campaign reads on the cluster (MRC stack, .rawtlt), RELION STAR results, and
 * scheduler output. Every row goes through the real entry point (loadConfig, loadCampaign,
 * the campaign-file activities, the status query and watcher, the sbatch/submit/orphan/sinfo
 * readers) and asserts:
 *
 * - the error type (or, for scheduler output that must not end a job, that the job stays
 *   pending: never success);
 * - that the message names the source: `file:line field.path:` for YAML, the file (and line)
 *   for tilt-series and STAR files, the command and output line for scheduler output;
 * - that nothing was submitted or written: the row's folder is unchanged, and the stand-in
 *   cluster saw no write, no sbatch and no scancel.
 *
 * Nearby suites test each reader's details; this one is the inventory (RELIABILITY.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { CryoError, ErrorType } from '../../src/errors.js';
import type { Row } from './bad-input/rows.js';
import { configRows } from './bad-input/temporal-yaml.js';
import { campaignRows } from './bad-input/campaign-file.js';
import { tiltSeriesRows } from './bad-input/tilt-series.js';
import { starRows } from './bad-input/star.js';
import { schedulerRows } from './bad-input/scheduler.js';

// ---- the suite ---------------------------------------------------------------------------

const ROWS: readonly Row[] = [...configRows, ...campaignRows, ...tiltSeriesRows, ...starRows, ...schedulerRows];

/** The type and message of a thrown error: our CryoError, or the ApplicationFailure an activity made of one. */
function typeAndMessage(error: unknown): { type: string | undefined; message: string; nonRetryable?: boolean } {
  if (error instanceof CryoError) return { type: error.type, message: error.message, nonRetryable: error.nonRetryable };
  if (error instanceof ApplicationFailure)
    return { type: error.type ?? undefined, message: error.message, nonRetryable: error.nonRetryable === true };
  return { type: undefined, message: String(error) };
}

describe('bad input: every case is a clear error naming its source, and nothing is submitted or written', () => {
  it('the inventory has at least 40 cases, each source covered, no case twice', () => {
    assert.ok(ROWS.length >= 40, `${ROWS.length} cases`);
    const sources = new Set(ROWS.map((r) => r.source));
    assert.deepEqual([...sources].sort(), [
      'STAR',
      'campaign file',
      'scheduler output',
      'temporal.yaml',
      'tilt-series files',
    ]);
    const names = ROWS.map((r) => `${r.source}: ${r.case}`);
    assert.equal(new Set(names).size, names.length, 'duplicate case names');
  });

  for (const row of ROWS) {
    it(`${row.source}: ${row.case}`, async () => {
      const outcome = await row.run();
      const shown = `input: ${JSON.stringify(row.input.length > 300 ? `${row.input.slice(0, 300)}...` : row.input)}`;
      assert.deepEqual(outcome.sideEffects, [], `side effects (${shown})`);
      if (row.type === 'pending') {
        assert.equal(outcome.kind, 'watched');
        if (outcome.kind !== 'watched') return;
        const { observation, logs } = outcome;
        assert.equal(observation.move, 'pending', `never success: ${JSON.stringify(observation)}`);
        assert.equal(observation.final, false);
        const text = [`job ${observation.jobId}: ${observation.state} (${observation.move})`, ...logs].join('\n');
        assert.match(text, row.message, shown);
        return;
      }
      assert.equal(
        outcome.kind,
        'threw',
        `expected ${row.type}, got ${JSON.stringify(outcome.kind === 'returned' ? outcome.value : outcome)} (${shown})`,
      );
      if (outcome.kind !== 'threw') return;
      const { type, message, nonRetryable } = typeAndMessage(outcome.error);
      assert.equal(type, row.type, `${String(outcome.error)} (${shown})`);
      assert.match(message, row.message, shown);
      // Bad input is never retried; scheduler output is (the next poll may read better).
      const retryable = row.type === ErrorType.StatusQueryFailed || row.type === ErrorType.SubmitOutputUnreadable;
      assert.equal(nonRetryable, !retryable, `nonRetryable for ${row.type}`);
    });
  }
});
