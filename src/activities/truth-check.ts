/**
 * The known-answer check of a campaign on SYNTHETIC data (campaign file `truth`): the final
 * map and the truth particle are read from the cluster over SFTP and compared on the worker
 * by embedded/check_truth.py (numpy): correlation, the hand (truth vs its mirror image, each
 * at its best turn about the symmetry axis) and the FSC against the truth. Real data has no
 * truth; a campaign without `truth` never calls this.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CHECK_TRUTH, EMBEDDED_PYTHON } from '../embedded.js';
import { CryoError, ErrorType } from '../errors.js';
import { parseTruthCheck } from '../tools/truth.js';
import type { TruthCheck } from '../model/results.js';
import type { ActivityDeps } from './deps.js';
import { toApplicationFailure } from './failures.js';
import { whileHeartbeating } from './heartbeat.js';

export interface CheckTruthInput {
  readonly cluster: string;
  /** The refined map (absolute path on the cluster). */
  readonly map: string;
  /** The truth particle at the refine's sampling (absolute path on the cluster). */
  readonly truth: string;
  /** The synthetic particle's model, for its mirror image: `atoms` or `blobs`. */
  readonly model: string;
}

const run = promisify(execFile);

export function createTruthCheckActivities(deps: ActivityDeps) {
  return {
    async checkTruth(input: CheckTruthInput): Promise<TruthCheck> {
      return toApplicationFailure(() =>
        whileHeartbeating(async () => {
          const dir = await mkdtemp(join(tmpdir(), 'cryoet-truth-'));
          try {
            const sftp = deps.pool.get(input.cluster);
            const map = join(dir, 'map.mrc');
            const truth = join(dir, 'truth.mrc');
            await writeFile(map, await sftp.readFile(input.map));
            await writeFile(truth, await sftp.readFile(input.truth));
            const args = [CHECK_TRUTH, 'map', '--map', map, '--truth', truth, '--model', input.model];
            const result = await run(EMBEDDED_PYTHON, args, { timeout: 60_000 }).catch(
              (err: { stderr?: string; message: string }) => {
                throw new CryoError(
                  ErrorType.InputInvalid,
                  `truth check of ${input.map} against ${input.truth}: ${err.stderr?.trim() || err.message}`,
                );
              },
            );
            return parseTruthCheck(result.stdout, input.truth);
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        }),
      );
    },
  };
}
