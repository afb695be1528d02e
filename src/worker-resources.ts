/**
 * Resources one worker process owns for its lifetime: the per-cluster SSH pool and the
 * per-cluster status watchers, built from temporal.yaml on first use and closed when
 * the worker stops (CryoEtPlugin's runContext).
 */
import type { ClusterConfig, CryoConfig } from './config.js';
import type { SshTarget } from './ssh/connection.js';
import { SshPool } from './ssh/pool.js';
import { SlurmWatcher } from './scheduler/watcher.js';
import { createStatusQuery, createMarkerQuery } from './activities/status-query.js';
import type { ActivityDeps, ClusterRuntime } from './activities/deps.js';
import { CryoError, ErrorType } from './errors.js';

/** How to reach a cluster of temporal.yaml over SSH (paths to the key files only). */
export function sshTarget(name: string, c: ClusterConfig): SshTarget {
  const s = c.ssh;
  return {
    cluster: name,
    host: s.host,
    port: s.port,
    user: s.user,
    keyFile: s.keyFile,
    knownHostsFile: s.knownHostsFile,
    connectTimeoutMs: s.connectTimeout,
  };
}

/** ActivityDeps over a validated config. */
export class WorkerResources implements ActivityDeps {
  readonly pool: SshPool;
  readonly #clusters: ReadonlyMap<string, ClusterRuntime>;
  readonly #watchers = new Map<string, SlurmWatcher>();

  constructor(
    readonly config: CryoConfig,
    readonly log: (message: string) => void = (m) => console.warn(m),
  ) {
    const entries = Object.entries(config.clusters);
    this.pool = new SshPool(entries.map(([name, c]) => sshTarget(name, c)));
    this.#clusters = new Map(
      entries.map(([name, c]) => [
        name,
        { name, workDir: c.workDir, environment: c.environment, commandTimeoutMs: c.ssh.commandTimeout },
      ]),
    );
  }

  cluster(name: string): ClusterRuntime {
    const cluster = this.#clusters.get(name);
    if (!cluster) {
      throw new CryoError(
        ErrorType.ClusterUnknown,
        `cluster "${name}" is not in temporal.yaml (clusters: ${[...this.#clusters.keys()].join(', ')})`,
      );
    }
    return cluster;
  }

  watcher(name: string): SlurmWatcher {
    let watcher = this.#watchers.get(name);
    if (!watcher) {
      const cluster = this.cluster(name);
      watcher = new SlurmWatcher({
        query: createStatusQuery(() => this.pool.get(name), cluster),
        minIntervalMs: this.config.polling.interval,
        maxIntervalMs: this.config.polling.maxInterval,
        maxCallsPerMinute: this.config.clusters[name]!.maxStatusCallsPerMinute,
        markerQuery: this.config.polling.resultMarkers
          ? createMarkerQuery(() => this.pool.get(name), cluster)
          : undefined,
        markerIntervalMs: this.config.polling.markerInterval,
        log: (m) => this.log(`cluster "${name}": ${m}`),
      });
      watcher.setShare(this.#share);
      this.#watchers.set(name, watcher);
    }
    return watcher;
  }

  /** Workers on this task queue sharing each cluster's status-call budget (scheduler/share.ts). */
  #share = 1;
  #shareTimer: NodeJS.Timeout | undefined;

  /** Every watcher, now and later, takes 1/`workers` of its cluster's status-call budget. */
  setShare(workers: number): void {
    const share = Math.max(1, Math.floor(workers));
    if (share !== this.#share) {
      this.log(
        `status-call budget shared by ${share} worker(s) on this task queue: ` +
          `each cluster's calls spaced ${share}x as far`,
      );
    }
    this.#share = share;
    for (const watcher of this.#watchers.values()) watcher.setShare(this.#share);
  }

  /**
   * Counts the workers on the task queue every `everyMs` (`count`: e.g. the pollers
   * DescribeTaskQueue lists) and shares the budget among them; until close(). A failed count
   * keeps the last share.
   */
  shareWith(count: () => Promise<number>, everyMs = 30_000): void {
    const tick = () =>
      void count().then(
        (n) => this.setShare(n),
        () => undefined,
      );
    tick();
    this.#shareTimer = setInterval(tick, everyMs);
    this.#shareTimer.unref();
  }

  /** Stops the watchers and closes SSH connections. */
  close(): void {
    clearInterval(this.#shareTimer);
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    this.pool.close();
  }
}
