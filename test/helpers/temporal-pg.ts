/**
 * scripts/temporal-pg.ts as a chaos server: the Temporal server built from the Go module on
 * PostgreSQL with SQL visibility, on free loopback ports and a folder of the test's own,
 * killed and started again like the dev server (ChaosServer), with PostgreSQL restartable.
 */
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { TemporalPg } from '../../scripts/temporal-pg.js';
import type { ChaosServer } from './chaos.js';
import { freeSpan } from './ports.js';

/** Ports a server of ours takes from its frontend port up (see serverConfig), and PostgreSQL's after them. */
const SPAN = 14;
const PG_OFFSET = SPAN;

export class PgTemporalServer implements ChaosServer {
  starts = 0;
  readonly pg: TemporalPg;
  #first = true;

  private constructor(dir: string, port: number, pgPort: number) {
    this.pg = new TemporalPg({ dir, port, pgPort, namespace: 'default' });
  }

  static async create(dir: string): Promise<PgTemporalServer> {
    const base = await freeSpan(SPAN + 1);
    return new PgTemporalServer(dir, base, base + PG_OFFSET);
  }

  get address(): string {
    return this.pg.address;
  }

  get port(): number {
    return this.pg.o.port;
  }

  /** First start: PostgreSQL, schema, server, namespace (timed). Later: the server alone. */
  async start(): Promise<void> {
    if (this.#first) {
      const { seconds } = await this.pg.start();
      console.log(`temporal-pg: up in ${seconds.toFixed(1)} s (PostgreSQL, schema, server, namespace)`);
      this.#first = false;
    } else {
      await this.pg.startServer();
    }
    this.starts += 1;
  }

  async kill9(): Promise<void> {
    this.pg.killServer();
    while (this.pg.serverPid() !== undefined) await sleep(50);
  }

  async stop(): Promise<void> {
    await this.pg.stop();
  }

  /** Stops everything and removes the folder (database included). */
  async destroy(): Promise<void> {
    await this.pg.stop();
    rmSync(this.pg.o.dir, { recursive: true, force: true });
  }
}
