/**
 * The science suite's cluster (test/science/): dev3 of scripts/dev-cluster.sh, a third
 * single-host cluster of the dev cluster's shape (own ClusterName, munge, ports, sshd on
 * 2224) whose daemons and jobs run at nice 15. scripts/test.sh runs the science suite beside
 * the other suites: its RELION 5 refines take only the CPU the others leave idle, and its
 * node reclaims and jobs never show up on `dev`, where the other suites count jobs and
 * orphans. The config keeps the name `dev` (temporal.yaml's cluster, so the placement's
 * rungs and the test helpers' ladders need no change) and points it at dev3's sshd.
 */
import { join } from 'node:path';
import type { CryoConfig } from '../../src/config.js';
import { devConfig, repoRoot } from './env.js';

/** dev3's state folder (scripts/dev-cluster.sh). */
export const DEV3_DIR = join(repoRoot, '.dev', 'cluster-dev3');

/** The dev config with its cluster `dev` reached at dev3, and campaigns under dev3's work folder. */
export async function dev3Config(): Promise<Pick<CryoConfig, 'clusters' | 'paths'>> {
  const base = await devConfig();
  const dev = base.clusters['dev']!;
  return {
    clusters: {
      dev: {
        ...dev,
        ssh: {
          ...dev.ssh,
          port: 2224,
          keyFile: join(DEV3_DIR, 'ssh', 'id_ed25519'),
          knownHostsFile: join(DEV3_DIR, 'ssh', 'known_hosts'),
        },
        workDir: join(DEV3_DIR, 'work'),
      },
    },
    paths: { ...base.paths, work: join(DEV3_DIR, 'work', 'campaigns') },
  };
}
