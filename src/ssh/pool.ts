/**
 * One pooled SSH connection per cluster, shared by every activity in a worker process.
 * Created lazily on first use, closed when the worker stops (plugin runContext).
 */
import { CryoError, ErrorType } from '../errors.js';
import { SshConnection, type SshTarget } from './connection.js';

/** Pool of per-cluster connections. */
export class SshPool {
  readonly #targets: ReadonlyMap<string, SshTarget>;
  readonly #connections = new Map<string, SshConnection>();

  constructor(targets: Iterable<SshTarget>) {
    this.#targets = new Map([...targets].map((t) => [t.cluster, t]));
  }

  /** The connection for a cluster named in temporal.yaml. */
  get(cluster: string): SshConnection {
    let connection = this.#connections.get(cluster);
    if (!connection) {
      const target = this.#targets.get(cluster);
      if (!target) {
        const known = [...this.#targets.keys()].join(', ');
        throw new CryoError(
          ErrorType.ClusterUnknown,
          `cluster "${cluster}" is not in temporal.yaml (clusters: ${known})`,
        );
      }
      connection = new SshConnection(target);
      this.#connections.set(cluster, connection);
    }
    return connection;
  }

  /** Closes every connection; the pool can be used again afterwards (fresh connections). */
  close(): void {
    for (const connection of this.#connections.values()) connection.close();
    this.#connections.clear();
  }
}
