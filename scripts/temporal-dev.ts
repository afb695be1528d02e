/**
 * The embedded Temporal server: `temporal server start-dev` from the project venv (the
 * pinned binary scripts/setup.sh installs), bound to 127.0.0.1, its state in a SQLite
 * file so workflows survive a restart, the UI on 127.0.0.1, and the project's search
 * attributes registered.
 *
 *   tsx scripts/temporal-dev.ts start | stop | status
 *
 * Ports: CRYOET_TEMPORAL_PORT (7233) and CRYOET_TEMPORAL_UI_PORT (8233), matching the
 * project's temporal.yaml. State: CRYOET_TEMPORAL_DIR (<repo>/.dev/temporal).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI_TYPE_NAME, cryoSearchAttributes, searchAttributeFlags } from '../src/search-attributes.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const stateDir = process.env.CRYOET_TEMPORAL_DIR ?? join(root, '.dev', 'temporal');
const pidFile = join(stateDir, 'server.pid');
const logFile = join(stateDir, 'server.log');
const binary = join(root, '.venv', 'bin', 'temporal');
const port = Number(process.env.CRYOET_TEMPORAL_PORT ?? 7233);
const uiPort = Number(process.env.CRYOET_TEMPORAL_UI_PORT ?? 8233);
const address = `127.0.0.1:${port}`;

function running(): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(' ')[2] === 'Z' ? undefined : pid;
  } catch {
    return undefined;
  }
}

/** A server started by an older checkout may lack newer attributes: add those it lacks. */
function registerSearchAttributes(): void {
  const listed = spawnSync(binary, ['operator', 'search-attribute', 'list', '--address', address], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  for (const key of cryoSearchAttributes) {
    if (listed.stdout.includes(key.name)) continue;
    const made = spawnSync(
      binary,
      [
        'operator',
        'search-attribute',
        'create',
        '--name',
        key.name,
        '--type',
        CLI_TYPE_NAME[key.type]!,
        '--address',
        address,
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    if (made.status !== 0) throw new Error(`cannot register search attribute ${key.name}: ${made.stderr.trim()}`);
  }
}

function healthy(): boolean {
  const r = spawnSync(binary, ['operator', 'cluster', 'health', '--address', address], {
    encoding: 'utf8',
    timeout: 5000,
  });
  return r.status === 0 && r.stdout.includes('SERVING');
}

async function start(): Promise<void> {
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run scripts/setup.sh first`);
  if (running() !== undefined && healthy()) {
    registerSearchAttributes();
    console.log(`temporal-dev: already running on ${address}, UI http://127.0.0.1:${uiPort}`);
    return;
  }
  mkdirSync(stateDir, { recursive: true });
  const log = openSync(logFile, 'a');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--ui-ip',
    '127.0.0.1',
    '--ui-port',
    String(uiPort),
    '--ui-disable-news-fetch',
    '--http-port',
    String(port + 10),
    '--metrics-port',
    String(port + 11),
    '--db-filename',
    join(stateDir, 'temporal.db'),
    '--namespace',
    'default',
    '--log-level',
    'warn',
    ...searchAttributeFlags(),
  ];
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', log, log] });
  writeFileSync(pidFile, `${child.pid}\n`);
  child.unref();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (running() === undefined) throw new Error(`temporal server exited at start; see ${logFile}`);
    if (healthy()) {
      console.log(`temporal-dev: serving on ${address}, UI http://127.0.0.1:${uiPort}`);
      return;
    }
    await sleep(200);
  }
  throw new Error(`temporal server not healthy after 30 s; see ${logFile}`);
}

async function stop(): Promise<void> {
  const pid = running();
  if (pid !== undefined) {
    process.kill(pid, 'SIGINT');
    const deadline = Date.now() + 15_000;
    while (running() !== undefined && Date.now() < deadline) await sleep(100);
    if (running() !== undefined) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
  console.log('temporal-dev: stopped');
}

const command = process.argv[2];
if (command === 'start') await start();
else if (command === 'stop') await stop();
else if (command === 'status') {
  const ok = running() !== undefined && healthy();
  console.log(ok ? `running on ${address}` : 'stopped');
  process.exitCode = ok ? 0 : 3;
} else {
  console.error('usage: tsx scripts/temporal-dev.ts start|stop|status');
  process.exitCode = 2;
}
