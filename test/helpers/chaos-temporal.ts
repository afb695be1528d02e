/**
 * A Temporal dev server for chaos runs: a SQLite file, SIGKILLed and started again on the
 * same port (its state survives).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { searchAttributeFlags } from '../../src/search-attributes.js';
import { freePort, repoRoot } from './env.js';
import { run, track, waitFor } from './chaos-cluster.js';

/** A Temporal server a chaos run may kill and start again (the dev server, or temporal-pg's). */
export interface ChaosServer {
  readonly address: string;
  readonly port: number;
  /** How many times it was started. */
  readonly starts: number;
  start(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

class ExitedAtStart extends Error {}

/**
 * `temporal server start-dev` with a SQLite file, on a fixed port, that a test can SIGKILL
 * and start again: workflows, histories and search attributes live in the file.
 */
export class TemporalDevServer implements ChaosServer {
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  starts = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly httpPort: number,
    readonly metricsPort: number,
  ) {}

  static async create(dir: string): Promise<TemporalDevServer> {
    mkdirSync(dir, { recursive: true });
    return new TemporalDevServer(dir, await freePort(), await freePort(), await freePort());
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get dbFile(): string {
    return join(this.dir, 'temporal.db');
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Starts the server and waits until it serves. One that exits as it starts (an internal port
   * it picked itself was taken before it bound it) is started again, up to three times.
   */
  async start(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#launch();
        this.starts += 1;
        return;
      } catch (err) {
        if (!(err instanceof ExitedAtStart) || attempt === 3) throw err;
        process.stderr.write(`# ${err.message} (attempt ${attempt}); starting it again\n`);
        this.#child = undefined;
      }
    }
  }

  async #launch(): Promise<void> {
    const binary = join(repoRoot, '.venv', 'bin', 'temporal');
    const log = openSync(join(this.dir, 'server.log'), 'a');
    const child = spawn(
      binary,
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(this.port),
        '--http-port',
        String(this.httpPort),
        '--metrics-port',
        String(this.metricsPort),
        '--db-filename',
        this.dbFile,
        '--namespace',
        'default',
        '--log-level',
        'error',
        ...searchAttributeFlags(),
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    track(child);
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void this.#exited.then(() => (gone = true));
    await waitFor(
      'the Temporal dev server to serve',
      async () => {
        if (gone) throw new ExitedAtStart(`temporal server exited at start; see ${join(this.dir, 'server.log')}`);
        const r = await run(binary, ['operator', 'cluster', 'health', '--address', this.address], {
          timeout: 5000,
        }).catch(() => ({ stdout: '' }));
        return r.stdout.includes('SERVING');
      },
      60_000,
      200,
    );
  }

  /** SIGKILL: no shutdown, whatever was in flight is lost; the SQLite file stays. */
  async kill9(): Promise<void> {
    if (!this.#child) return;
    this.#child.kill('SIGKILL');
    await this.#exited;
    this.#child = undefined;
  }

  async stop(): Promise<void> {
    if (!this.#child) return;
    this.#child.kill('SIGINT');
    const stopped = await Promise.race([this.#exited!.then(() => true), sleep(15_000).then(() => false)]);
    if (!stopped) await this.kill9();
    this.#child = undefined;
  }
}
