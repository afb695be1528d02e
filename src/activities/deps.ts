/**
 * What activities need from the worker: the per-cluster SSH pool and status watchers,
 * and each cluster's runtime settings. Created once per worker (plugin runContext) and
 * injected into the activity factories, so tests can pass their own.
 */
import type { SshPool } from '../ssh/pool.js';
import type { SlurmWatcher } from '../scheduler/watcher.js';

/** A cluster's settings that activities use. */
export interface ClusterRuntime {
  readonly name: string;
  /** Absolute work directory on the cluster; jobs live under `<workDir>/jobs/<job name>`. */
  readonly workDir: string;
  /** Exported before every remote command (e.g. SLURM_CONF). */
  readonly environment: Readonly<Record<string, string>>;
  readonly commandTimeoutMs: number;
}

/** Dependencies of every activity factory. */
export interface ActivityDeps {
  readonly pool: SshPool;
  /** The cluster's settings; throws ClusterUnknown for a name not in temporal.yaml. */
  cluster(name: string): ClusterRuntime;
  /** The shared watcher of a cluster (created on first use). */
  watcher(cluster: string): SlurmWatcher;
}
