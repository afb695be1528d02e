/**
 * scripts/temporal-pg.ts as a chaos server: the Temporal server built from the Go module on
 * PostgreSQL with SQL visibility, on free loopback ports and a folder of the test's own,
 * killed and started again like the dev server (ChaosServer), with PostgreSQL restartable.
 */
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TemporalPg } from '../../scripts/temporal-pg.js';
import type { ChaosServer } from './chaos.js';
import { freePort } from './env.js';

/** Ports a server of ours takes above its frontend port (see serverConfig). */
const SPAN = 14;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freeSpan(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const free = await Promise.all(Array.from({ length: SPAN }, (_, k) => portFree(base + k)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free run of loopback ports for the Temporal server');
}

export class PgTemporalServer implements ChaosServer {
  starts = 0;
  readonly pg: TemporalPg;
  #first = true;

  private constructor(dir: string, port: number, pgPort: number) {
    this.pg = new TemporalPg({ dir, port, pgPort, namespace: 'default' });
  }

  static async create(dir: string): Promise<PgTemporalServer> {
    return new PgTemporalServer(dir, await freeSpan(), await freePort());
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
