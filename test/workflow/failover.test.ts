/**
 * Failover across clusters: a second single-host cluster (`dev2`: own ClusterName, ports,
 * munge, sshd on 2223 and no accounting) stands in for another region. A job pinned to
 * A10G on `dev` hangs and is relaxed onto `dev2`, where it completes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { CryoCluster } from '../../src/search-attributes.js';
import { repoRoot, uniqueId } from '../helpers/env.js';
import { rung, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';
import { devConfig } from '../helpers/env.js';

const devCluster = (command: string) =>
  execFileSync('bash', [join(repoRoot, 'scripts/dev-cluster.sh'), command], {
    env: { ...process.env, CRYOET_CLUSTER: 'dev2' },
    encoding: 'utf8',
    timeout: 60_000,
  });

describe('failover to another cluster', () => {
  let h: WorkerHarness;
  before(async () => {
    devCluster('start');
    const base = await devConfig();
    const dev = base.clusters['dev']!;
    const d2 = join(repoRoot, '.dev/cluster-dev2');
    h = await startWorkerHarness({
      clusters: {
        ...base.clusters,
        dev2: {
          ...dev,
          ssh: {
            ...dev.ssh,
            port: 2223,
            keyFile: join(d2, 'ssh/id_ed25519'),
            knownHostsFile: join(d2, 'ssh/known_hosts'),
          },
          workDir: join(d2, 'work'),
        },
      },
    });
  });
  after(async () => {
    await h?.stop();
    devCluster('stop');
  });

  test('a hang on cluster dev is relaxed onto cluster dev2', async () => {
    const handle = await h.env.client.workflow.start('clusterJob', {
      taskQueue: h.taskQueue,
      workflowId: `cryoet/test/${uniqueId('failover')}`,
      args: [
        {
          step: 'failover',
          placement: {
            ladder: [rung('gpu:a10g:4'), { ...rung('gpu:4'), cluster: 'dev2' }],
            hangAfterMs: 2000,
            onExhausted: 'fail',
          },
          command: ['bash', '-c', 'echo "ran on $SLURM_CLUSTER_NAME/$SLURMD_NODENAME"'],
        },
      ],
    });
    const result: ClusterJobResult = await handle.result();
    assert.equal(result.job.cluster, 'dev2');
    assert.ok(Number(result.job.jobId) >= 100000, `dev2 job ids start at 100000, got ${result.job.jobId}`);
    assert.match(result.result.outputTail, /ran on dev2\/m[12]/);
    const hung = result.record.events.find((e) => e.kind === 'hung')!;
    assert.equal(hung.cluster, 'dev');
    assert.equal((await handle.describe()).typedSearchAttributes.get(CryoCluster), 'dev2');
  });
});
