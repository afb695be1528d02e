/**
 * scripts/temporal-pg.ts as a chaos server: the Temporal server built from the Go module on
 * PostgreSQL with SQL visibility, on free loopback ports and a folder of the test's own,
 * killed and started again like the dev server (ChaosServer), with PostgreSQL restartable.
 */
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { TemporalPg } from '../../scripts/temporal-pg.js';
import type { ChaosServer } from './chaos.js';

/** Ports a server of ours takes from its frontend port up (see serverConfig), and PostgreSQL's after them. */
const SPAN = 14;
const PG_OFFSET = SPAN;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The lowest port of the kernel's ephemeral range (outgoing connections take their local port from
 * it). A run of ports picked inside it can be taken between the pick and the server's bind by any
 * connection on the machine (with the suites in two lanes there are many), and the server exits.
 */
function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}

/** A free run of SPAN + 1 loopback ports from 20000 up, below the ephemeral range. */
async function freeSpan(): Promise<number> {
  const room = Math.max(ephemeralLow() - SPAN - 1 - 20_000, 1_000);
  for (let i = 0; i < 20; i++) {
    const base = 20_000 + Math.floor(Math.random() * room);
    const free = await Promise.all(Array.from({ length: SPAN + 1 }, (_, k) => portFree(base + k)));
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
    const base = await freeSpan();
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
