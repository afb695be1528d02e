/**
 * Integration: the FAKE spot reclaim (src/cli/spot-reclaim.ts) against the dev cluster's real
 * sshd and Slurm. A probe that fails is tried again until the deadline, whose error names it:
 * the reclaim of the science campaign once failed its whole test file on one squeue over SSH
 * that timed out on a loaded head node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reclaimDuringRefine } from '../../src/cli/spot-reclaim.js';
import type { SshTarget } from '../../src/ssh/connection.js';
import { SshPool } from '../../src/ssh/pool.js';
import { sshTarget } from '../../src/worker-resources.js';
import { devConfig, uniqueId } from '../helpers/env.js';
import { freePort } from '../helpers/ports.js';

describe('FAKE spot reclaim [integration]', () => {
  let target: SshTarget;
  before(async () => {
    target = sshTarget('dev', (await devConfig()).clusters['dev']!);
  });
  const pools: SshPool[] = [];
  after(() => pools.forEach((p) => p.close()));
  const reclaim = (t: SshTarget) => {
    const pool = new SshPool([t]);
    pools.push(pool);
    const campaignId = uniqueId('reclaim');
    return reclaimDuringRefine({
      pool,
      cluster: 'dev',
      campaignId,
      campaignDir: `/tmp/${campaignId}`,
      atIteration: 2,
      timeoutMs: 3000,
    });
  };

  it('keeps probing through failed probes and names the last one at the deadline', async () => {
    // Nothing listens on this port: every squeue over SSH fails.
    const unreachable = { ...target, port: await freePort() };
    await assert.rejects(reclaim(unreachable), (err: Error) => {
      assert.match(err.message, /^spot reclaim: the refine never reached iteration 2 \(last failed probe: .+\)$/);
      return true;
    });
  });

  it('waits for a refine that never runs until the deadline, with no failed probe to name', async () => {
    await assert.rejects(reclaim(target), (err: Error) => {
      assert.equal(err.message, 'spot reclaim: the refine never reached iteration 2');
      return true;
    });
  });
});
