/**
 * A production-shaped Temporal for tests: the Temporal server built from the Go module
 * (scripts/build-temporal-server.sh, pinned, cached outside the clone) on Debian's PostgreSQL
 * with SQL visibility, the schema applied by the server module's own temporal-sql-tool.
 * Everything listens on 127.0.0.1 only. Unlike `temporal server start-dev` it registers no
 * search attributes (`cryoet setup` does, through the operator API) and its namespace is
 * created over the API, as on a cluster set up by hand.
 *
 *   tsx scripts/temporal-pg.ts start | stop | status
 *
 * Ports: CRYOET_TEMPORAL_PG_PORT (7633: the frontend; history, matching and worker on the
 * next ports, membership +10…+13, HTTP +4) and CRYOET_PG_PORT (55432). State:
 * CRYOET_TEMPORAL_PG_DIR (<repo>/.dev/temporal-pg): the database cluster, the server's config
 * and logs. Start and stop are idempotent and leave no process behind.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface TemporalPgOptions {
  readonly dir: string;
  readonly port: number;
  readonly pgPort: number;
  readonly namespace: string;
}

export function defaultOptions(): TemporalPgOptions {
  return {
    dir: process.env.CRYOET_TEMPORAL_PG_DIR ?? join(root, '.dev', 'temporal-pg'),
    port: Number(process.env.CRYOET_TEMPORAL_PG_PORT ?? 7633),
    pgPort: Number(process.env.CRYOET_PG_PORT ?? 55432),
    namespace: 'default',
  };
}

/** The newest Debian PostgreSQL's programs (postgresql-NN). */
export function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined)
    throw new Error('PostgreSQL server is not installed (apt-get install postgresql; scripts/setup.sh does)');
  return join(base, newest, 'bin');
}

/** The server's config file (SQL persistence and visibility on PostgreSQL 12+ schema). Pure. */
export function serverConfig(o: TemporalPgOptions, password: string, dynamicConfig: string): string {
  const store = (db: string, conns: number) => [
    '      sql:',
    '        pluginName: "postgres12"',
    `        databaseName: "${db}"`,
    `        connectAddr: "127.0.0.1:${o.pgPort}"`,
    '        connectProtocol: "tcp"',
    '        user: "temporal"',
    `        password: "${password}"`,
    `        maxConns: ${conns}`,
    `        maxIdleConns: ${conns}`,
    '        maxConnLifetime: "1h"',
  ];
  const service = (name: string, grpc: number, membership: number, http?: number) => [
    `  ${name}:`,
    '    rpc:',
    `      grpcPort: ${grpc}`,
    `      membershipPort: ${membership}`,
    '      bindOnIP: "127.0.0.1"',
    ...(http === undefined ? [] : [`      httpPort: ${http}`]),
  ];
  return [
    'log:',
    '  stdout: true',
    '  level: warn',
    'persistence:',
    '  defaultStore: postgres-default',
    '  visibilityStore: postgres-visibility',
    '  numHistoryShards: 4',
    '  datastores:',
    '    postgres-default:',
    ...store('temporal', 20),
    '    postgres-visibility:',
    ...store('temporal_visibility', 4),
    'global:',
    '  membership:',
    '    maxJoinDuration: 30s',
    '    broadcastAddress: "127.0.0.1"',
    'services:',
    ...service('frontend', o.port, o.port + 10, o.port + 4),
    ...service('history', o.port + 1, o.port + 11),
    ...service('matching', o.port + 2, o.port + 12),
    ...service('worker', o.port + 3, o.port + 13),
    'clusterMetadata:',
    '  enableGlobalNamespace: false',
    '  failoverVersionIncrement: 10',
    '  masterClusterName: "active"',
    '  currentClusterName: "active"',
    '  clusterInformation:',
    '    active:',
    '      enabled: true',
    '      initialFailoverVersion: 1',
    '      rpcName: "frontend"',
    `      rpcAddress: "127.0.0.1:${o.port}"`,
    'dcRedirectionPolicy:',
    '  policy: "noop"',
    'dynamicConfigClient:',
    `  filepath: "${dynamicConfig}"`,
    '  pollInterval: "10s"',
    '',
  ].join('\n');
}

/** Dynamic config: search attributes readable the moment they are created (tests add them and use them at once). */
export const DYNAMIC_CONFIG = [
  'system.forceSearchAttributesCacheRefreshOnRead:',
  '  - value: true',
  '    constraints: {}',
  '',
].join('\n');

export class TemporalPg {
  readonly address: string;
  readonly #pgData: string;
  readonly #pidFile: string;
  readonly #serverLog: string;

  constructor(readonly o: TemporalPgOptions = defaultOptions()) {
    this.address = `127.0.0.1:${o.port}`;
    this.#pgData = join(o.dir, 'pgdata');
    this.#pidFile = join(o.dir, 'server.pid');
    this.#serverLog = join(o.dir, 'server.log');
  }

  #prefix(): string {
    return execFileSync('bash', [join(root, 'scripts', 'build-temporal-server.sh'), '--print-prefix'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
  }

  #asPostgres(program: string, args: string[], timeout = 60_000): string {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', join(postgresBin(), program), ...args], {
      encoding: 'utf8',
      timeout,
    });
    if (r.status !== 0)
      throw new Error(`${program} ${args.join(' ')}: ${(r.stderr || r.stdout || `exit ${r.status}`).trim()}`);
    return r.stdout;
  }

  #password(): string {
    const file = join(this.o.dir, 'pg-password');
    if (!existsSync(file)) writeFileSync(file, randomBytes(16).toString('hex'), { mode: 0o600 });
    return readFileSync(file, 'utf8').trim();
  }

  postgresRunning(): boolean {
    return (
      spawnSync('runuser', ['-u', 'postgres', '--', join(postgresBin(), 'pg_ctl'), 'status', '-D', this.#pgData], {
        timeout: 10_000,
      }).status === 0
    );
  }

  /** Creates the database cluster on first use, then starts it (loopback, own socket folder). */
  startPostgres(): void {
    mkdirSync(this.o.dir, { recursive: true });
    if (!existsSync(join(this.#pgData, 'PG_VERSION'))) {
      mkdirSync(this.#pgData, { recursive: true });
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
      chownSync(this.#pgData, uid, gid);
      this.#asPostgres('initdb', [
        '-D',
        this.#pgData,
        '-U',
        'postgres',
        '--auth-local=peer',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
      ]);
    }
    if (!this.postgresRunning()) {
      const opts = `-c listen_addresses=127.0.0.1 -p ${this.o.pgPort} -k ${this.#pgData}`;
      this.#asPostgres(
        'pg_ctl',
        ['start', '-D', this.#pgData, '-w', '-t', '60', '-l', join(this.#pgData, 'postgres.log'), '-o', opts],
        90_000,
      );
    }
    const psql = (sql: string) =>
      this.#asPostgres('psql', ['-h', this.#pgData, '-p', String(this.o.pgPort), '-U', 'postgres', '-tAc', sql]);
    if (psql("SELECT 1 FROM pg_roles WHERE rolname = 'temporal'").trim() !== '1') {
      psql(`CREATE ROLE temporal LOGIN CREATEDB PASSWORD '${this.#password()}'`);
    }
  }

  /** `pg_ctl restart -m fast`: every connection is cut, as in a database failover. */
  restartPostgres(): void {
    const opts = `-c listen_addresses=127.0.0.1 -p ${this.o.pgPort} -k ${this.#pgData}`;
    this.#asPostgres(
      'pg_ctl',
      [
        'restart',
        '-D',
        this.#pgData,
        '-m',
        'fast',
        '-w',
        '-t',
        '60',
        '-l',
        join(this.#pgData, 'postgres.log'),
        '-o',
        opts,
      ],
      90_000,
    );
  }

  stopPostgres(): void {
    if (existsSync(join(this.#pgData, 'PG_VERSION')) && this.postgresRunning())
      this.#asPostgres('pg_ctl', ['stop', '-D', this.#pgData, '-m', 'fast', '-w']);
  }

  /** Both databases and their schema (the module's versioned SQL), idempotently. */
  applySchema(prefix = this.#prefix()): void {
    const tool = (db: string, ...args: string[]) => {
      const r = spawnSync(
        join(prefix, 'bin', 'temporal-sql-tool'),
        [
          '--plugin',
          'postgres12',
          '--ep',
          '127.0.0.1',
          '-p',
          String(this.o.pgPort),
          '-u',
          'temporal',
          '--pw',
          this.#password(),
          '--db',
          db,
          ...args,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      if (r.status !== 0) {
        const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ');
        throw new Error(`temporal-sql-tool --db ${db} ${args.join(' ')}: ${tail}`);
      }
    };
    for (const [db, schema] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ] as const) {
      const marker = join(this.o.dir, `schema-${db}`);
      if (!existsSync(marker)) {
        tool(db, 'create-database');
        tool(db, 'setup-schema', '-v', '0.0');
        writeFileSync(marker, 'setup-schema 0.0 done\n');
      }
      tool(db, 'update-schema', '-d', join(prefix, 'schema', 'postgresql', 'v12', schema, 'versioned'));
    }
  }

  serverPid(): number | undefined {
    if (!existsSync(this.#pidFile)) return undefined;
    const pid = Number(readFileSync(this.#pidFile, 'utf8').trim());
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z' ? undefined : pid;
    } catch {
      return undefined;
    }
  }

  async healthy(): Promise<boolean> {
    const connection = Connection.lazy({ address: this.address, connectTimeout: 2000 });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } catch {
      return false;
    } finally {
      await connection.close().catch(() => {});
    }
  }

  /** Starts the server on the database (already started) and waits until it answers. */
  async startServer(prefix = this.#prefix()): Promise<void> {
    if (this.serverPid() !== undefined && (await this.healthy())) return;
    const config = join(this.o.dir, 'temporal.yaml');
    const dynamic = join(this.o.dir, 'dynamicconfig.yaml');
    writeFileSync(dynamic, DYNAMIC_CONFIG);
    writeFileSync(config, serverConfig(this.o, this.#password(), dynamic), { mode: 0o600 });
    const log = openSync(this.#serverLog, 'a');
    const child = spawn(join(prefix, 'bin', 'temporal-server'), ['--config-file', config, '--allow-no-auth', 'start'], {
      detached: true,
      stdio: ['ignore', log, log],
    });
    writeFileSync(this.#pidFile, `${child.pid}\n`);
    child.unref();
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (this.serverPid() === undefined) {
        const last = readFileSync(this.#serverLog, 'utf8').trim().split('\n').slice(-5).join('\n');
        throw new Error(`temporal-server exited at start; see ${this.#serverLog}; its last lines:\n${last}`);
      }
      if (await this.healthy()) return;
      await sleep(250);
    }
    throw new Error(`temporal-server not answering after 90 s; see ${this.#serverLog}`);
  }

  /** SIGKILL, as when its machine dies; startServer brings it back on the same database. */
  killServer(): void {
    const pid = this.serverPid();
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  }

  async stopServer(): Promise<void> {
    const pid = this.serverPid();
    if (pid !== undefined) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (this.serverPid() !== undefined && Date.now() < deadline) await sleep(100);
      if (this.serverPid() !== undefined) process.kill(pid, 'SIGKILL');
      while (this.serverPid() !== undefined) await sleep(50);
    }
    rmSync(this.#pidFile, { force: true });
  }

  /** The namespace, created over the API when missing, and usable (the frontend's cache refreshes every ~10 s). */
  async ensureNamespace(): Promise<void> {
    const connection = await Connection.connect({ address: this.address });
    try {
      const exists = await connection.workflowService.describeNamespace({ namespace: this.o.namespace }).then(
        () => true,
        () => false,
      );
      if (!exists) {
        await connection.workflowService.registerNamespace({
          namespace: this.o.namespace,
          workflowExecutionRetentionPeriod: msToTs('3 days'),
        });
      }
      const deadline = Date.now() + 60_000;
      for (;;) {
        try {
          await connection.workflowService.listWorkflowExecutions({ namespace: this.o.namespace, pageSize: 1 });
          return;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(500);
        }
      }
    } finally {
      await connection.close();
    }
  }

  async start(): Promise<{ seconds: number }> {
    const started = Date.now();
    const prefix = this.#prefix();
    this.startPostgres();
    this.applySchema(prefix);
    await this.startServer(prefix);
    await this.ensureNamespace();
    return { seconds: (Date.now() - started) / 1000 };
  }

  async stop(): Promise<void> {
    await this.stopServer();
    this.stopPostgres();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const t = new TemporalPg();
  const command = process.argv[2];
  if (command === 'start') {
    const { seconds } = await t.start();
    console.log(
      `temporal-pg: serving on ${t.address} (namespace ${t.o.namespace}), ` +
        `PostgreSQL on 127.0.0.1:${t.o.pgPort}; up in ${seconds.toFixed(1)} s`,
    );
  } else if (command === 'stop') {
    await t.stop();
    console.log('temporal-pg: stopped');
  } else if (command === 'status') {
    const ok = t.serverPid() !== undefined && (await t.healthy());
    console.log(ok ? `running on ${t.address}` : 'stopped');
    process.exitCode = ok ? 0 : 3;
  } else {
    console.error('usage: tsx scripts/temporal-pg.ts start|stop|status');
    process.exitCode = 2;
  }
}
