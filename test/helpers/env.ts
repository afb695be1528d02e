/**
 * Shared test set-up: the project's temporal.yaml (the embedded dev cluster that
 * scripts/test.sh starts), the real Temporal dev server through @temporalio/testing
 * with the project's pinned binary (nothing is downloaded), and unique names per test.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig, type CryoConfig } from '../../src/config.js';
import { cryoSearchAttributes } from '../../src/search-attributes.js';
import { freePort } from './ports.js';

/** Repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The dev config, with fast polling for tests. */
export async function devConfig(): Promise<CryoConfig> {
  const config = await loadConfig(join(repoRoot, 'temporal.yaml'));
  return {
    ...config,
    polling: { ...config.polling, interval: 300, maxInterval: 2000, resultMarkers: true, markerInterval: 300 },
  };
}

export { freePort } from './ports.js';

/**
 * A real Temporal dev server on 127.0.0.1 with the project's search attributes (or none: `bare`).
 *
 * The dev server picks its internal services' ports itself (free when picked, bound a moment
 * later). When another process takes one in between, that service has no listener and the
 * server crashes (SIGSEGV in the worker service's grpc Serve, seen once in CI, a few ms after
 * the frontend answered). Such a server is started again, up to three times.
 */
export async function startTemporal(port?: number, bare = false): Promise<TestWorkflowEnvironment> {
  for (let attempt = 1; ; attempt++) {
    const httpPort = await freePort();
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: join(repoRoot, '.venv', 'bin', 'temporal') },
        ip: '127.0.0.1',
        port: port ?? (await freePort()),
        ui: false,
        searchAttributes: bare ? [] : [...cryoSearchAttributes],
        extraArgs: [
          '--http-port',
          String(httpPort),
          '--metrics-port',
          String(await freePort()),
          '--log-level',
          'error',
        ],
      },
    });
    if (await serverSurvives(httpPort)) return env;
    await env.teardown().catch(() => {});
    if (attempt === 3) throw new Error('the Temporal dev server crashed as it started, three times');
    process.stderr.write(`# the Temporal dev server crashed as it started (attempt ${attempt}); starting another\n`);
  }
}

/** Whether the dev server started with `--http-port <httpPort>` is still running 300 ms on. */
async function serverSurvives(httpPort: number): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 300));
  const marker = `--http-port\0${httpPort}\0`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) continue;
      return !/^\S+ \([^)]*\) Z/.test(readFileSync(`/proc/${entry}/stat`, 'utf8'));
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/** A short unique token for workflow ids, task queues and job keys. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Polls `check` until it returns a value, or fails with `what` after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The project temporal.yaml pointed at a test's server and task queue, with absolute
 * paths, written to a temp folder (for worker processes the test spawns).
 */
export function writeTestConfig(
  port: number,
  taskQueue: string,
  workerShutdownGrace = '2s',
  fastPolling = true,
): string {
  let text = readFileSync(join(repoRoot, 'temporal.yaml'), 'utf8')
    .replace('address: 127.0.0.1:7233', `address: 127.0.0.1:${port}`)
    .replace('taskQueue: cryoet', `taskQueue: ${taskQueue}`)
    .replace(/workerShutdownGrace: \S+/, `workerShutdownGrace: ${workerShutdownGrace}`)
    .replaceAll(' .dev/', ` ${repoRoot}/.dev/`)
    .replace('aretomo2: embedded/', `aretomo2: ${repoRoot}/embedded/`);
  if (fastPolling)
    text = text.replace(/interval: \S+/, 'interval: 300ms').replace(/maxInterval: \S+/, 'maxInterval: 2s');
  const file = join(mkdtempSync(join(tmpdir(), 'cryoet-config-')), 'temporal.yaml');
  writeFileSync(file, text);
  return file;
}

/** A Temporal dev server plus a config file pointing at it, for tests that spawn worker processes. */
export async function startTemporalWithConfig(
  taskQueue: string,
): Promise<{ env: TestWorkflowEnvironment; configFile: string }> {
  const port = await freePort();
  const env = await startTemporal(port);
  return { env, configFile: writeTestConfig(port, taskQueue) };
}
