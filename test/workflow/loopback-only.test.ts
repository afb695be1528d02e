/**
 * Every local server the project starts listens on loopback only: the dev cluster's
 * sshd, MariaDB and Slurm daemons, the Temporal dev server of scripts/temporal-dev.ts
 * (frontend, HTTP API, metrics, UI), the test servers of test/helpers/env.ts (with the UI
 * on), and a `cryoet worker`'s Prometheus exporter. Sockets are read from /proc/net/tcp{,6}
 * and tied to processes through /proc/<pid>/fd (test/helpers/listening-sockets.ts).
 *
 * Slurm 22.05 has no bind-address setting: scripts/dev-cluster.sh sets
 * CommunicationParameters=NoCtldInAddrAny,NoInAddrAny, which binds to the address the host
 * NAME resolves to, and only where that is localhost's 127.0.0.1. On a host whose name
 * resolves elsewhere the Slurm daemons stay on the wildcard: the one exception, asserted
 * exactly (those daemons, their own ports). A daemon started before its config got the
 * option (a dev cluster left running across this change) is reported and the check skipped.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { cryoSearchAttributes } from '../../src/search-attributes.js';
import { freePort, repoRoot, startTemporal, uniqueId, writeTestConfig } from '../helpers/env.js';
import { spawnWorkerProcess } from '../helpers/worker-process.js';
import {
  describeSocket,
  isLoopback,
  listeningSockets,
  pidListeningOn,
  processStartMs,
  type ListeningSocket,
} from '../helpers/listening-sockets.js';

/** Asserts every socket is on loopback; returns them for further checks. */
function assertLoopbackOnly(what: string, sockets: ListeningSocket[]): ListeningSocket[] {
  assert.ok(sockets.length > 0, `${what}: no listening socket found`);
  const wild = sockets.filter((s) => !isLoopback(s.address));
  assert.deepEqual(
    wild.map(describeSocket),
    [],
    `${what} listens beyond loopback (all: ${sockets.map(describeSocket).join(', ')})`,
  );
  return sockets;
}

const ports = (sockets: ListeningSocket[]) => sockets.map((s) => s.port);

/** First IPv4 address of a name, as Slurm's getaddrinfo (AF_INET) sees it. */
function firstIpv4(name: string): string | undefined {
  try {
    return execFileSync('getent', ['ahostsv4', name], { encoding: 'utf8' }).split('\n')[0]?.split(/\s+/)[0];
  } catch {
    return undefined;
  }
}

describe('local servers listen on loopback only', { timeout: 360_000 }, () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('the dev cluster: sshd, MariaDB, slurmctld, slurmd, slurmdbd', (t) => {
    const slurmConf = execFileSync('bash', [join(repoRoot, 'scripts/dev-cluster.sh'), 'env'], { encoding: 'utf8' })
      .trim()
      .split('=')[1]!;
    const dir = dirname(dirname(slurmConf));
    const pidOf = (name: string) => Number(readFileSync(join(dir, 'run', `${name}.pid`), 'utf8').trim());
    const daemons: Array<{ name: string; port: number; slurm?: { conf: string; option: string } }> = [
      { name: 'sshd', port: 2222 },
      { name: 'mariadbd', port: 13306 },
      { name: 'slurmctld', port: 16817, slurm: { conf: slurmConf, option: 'NoCtldInAddrAny' } },
      { name: 'slurmd-n1', port: 17001, slurm: { conf: slurmConf, option: 'NoInAddrAny' } },
      { name: 'slurmd-n2', port: 17002, slurm: { conf: slurmConf, option: 'NoInAddrAny' } },
      {
        name: 'slurmdbd',
        port: 16819,
        slurm: { conf: join(dirname(slurmConf), 'slurmdbd.conf'), option: 'NoInAddrAny' },
      },
    ];
    const hostName = execFileSync('hostname', { encoding: 'utf8' }).trim();
    const nameIsLocalhost =
      firstIpv4(hostName)?.startsWith('127.') === true && firstIpv4(hostName) === firstIpv4('localhost');
    const stale: string[] = [];
    for (const d of daemons) {
      const pid = pidOf(d.name);
      // Not the tree: slurmd's job steps and sshd's sessions are other processes' business.
      const sockets = listeningSockets(pid, false);
      assert.ok(
        ports(sockets).includes(d.port),
        `${d.name} (pid ${pid}) listens on ${sockets.map(describeSocket).join(', ') || 'nothing'}, ` +
          `expected port ${d.port}`,
      );
      const wild = sockets.filter((s) => !isLoopback(s.address));
      if (wild.length === 0) continue;
      const where = `${d.name} (pid ${pid}) listens on ${wild.map(describeSocket).join(', ')}`;
      assert.ok(d.slurm, `${where}: beyond loopback`);
      // Only its own port, whatever the reason below.
      assert.deepEqual(ports(wild), [d.port], `${where}: beyond loopback, and not only on its port`);
      if (!nameIsLocalhost) {
        // The documented exception: NoInAddrAny would bind to the host name's address.
        assert.doesNotMatch(
          readFileSync(d.slurm.conf, 'utf8'),
          /^CommunicationParameters=.*InAddrAny/m,
          `${where} although ${d.slurm.conf} asks for the host name's address`,
        );
        t.diagnostic(
          `${where}: host name ${hostName} does not resolve to localhost's 127.0.0.1, ` +
            'so Slurm cannot bind loopback only (no bind-address setting)',
        );
        continue;
      }
      const conf = readFileSync(d.slurm.conf, 'utf8');
      const hasOption = new RegExp(`^CommunicationParameters=.*\\b${d.slurm.option}\\b`, 'm').test(conf);
      const startedBeforeConf = processStartMs(pid) < statSync(d.slurm.conf).mtimeMs;
      assert.ok(
        !hasOption || startedBeforeConf,
        `${where} although it started after ${d.slurm.conf} set ${d.slurm.option}`,
      );
      const startedAt = new Date(processStartMs(pid)).toISOString();
      const confState = hasOption
        ? `set ${d.slurm.option} at ${statSync(d.slurm.conf).mtime.toISOString()}`
        : `lacks ${d.slurm.option}: written by an older scripts/dev-cluster.sh`;
      stale.push(`${where} (started ${startedAt}, ${d.slurm.conf} ${confState})`);
    }
    if (stale.length > 0) {
      for (const s of stale) t.diagnostic(s);
      t.skip(
        'dev cluster daemons started before their config asked for loopback ' +
          `(restart the cluster: scripts/dev-cluster.sh stop && start): ${stale.length} not checked`,
      );
    }
  });

  test('the Temporal dev server of scripts/temporal-dev.ts: frontend, HTTP API, metrics and UI', async () => {
    const port = await freePort();
    const uiPort = await freePort();
    const stateDir = mkdtempSync(join(tmpdir(), 'cryoet-loopback-temporal-'));
    const script = (command: string) =>
      execFileSync('node', ['--import', 'tsx', join(repoRoot, 'scripts', 'temporal-dev.ts'), command], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          ...process.env,
          CRYOET_TEMPORAL_PORT: String(port),
          CRYOET_TEMPORAL_UI_PORT: String(uiPort),
          CRYOET_TEMPORAL_DIR: stateDir,
        },
      });
    cleanups.push(() => {
      if (existsSync(join(stateDir, 'server.pid'))) script('stop');
      rmSync(stateDir, { recursive: true, force: true });
    });
    script('start');
    const pid = Number(readFileSync(join(stateDir, 'server.pid'), 'utf8').trim());
    const sockets = assertLoopbackOnly(`temporal server (pid ${pid})`, listeningSockets(pid));
    for (const p of [port, port + 10, port + 11, uiPort])
      assert.ok(ports(sockets).includes(p), `port ${p} among ${sockets.map(describeSocket).join(', ')}`);
  });

  test('the test servers of test/helpers/env.ts, and one with the UI on', async () => {
    const headless = await startTemporal();
    cleanups.push(() => headless.teardown());
    const port = Number(headless.address.split(':').at(-1));
    const pid = pidListeningOn(port);
    assert.ok(pid, `no process listens on ${headless.address}`);
    assertLoopbackOnly(`test server ${headless.address} (pid ${pid})`, listeningSockets(pid));

    const uiPort = await freePort();
    const withUi = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: join(repoRoot, '.venv', 'bin', 'temporal') },
        ip: '127.0.0.1',
        ui: true,
        uiPort,
        searchAttributes: [...cryoSearchAttributes],
        extraArgs: [
          '--http-port',
          String(await freePort()),
          '--metrics-port',
          String(await freePort()),
          '--log-level',
          'error',
        ],
      },
    });
    cleanups.push(() => withUi.teardown());
    const uiPid = pidListeningOn(Number(withUi.address.split(':').at(-1)));
    assert.ok(uiPid);
    const sockets = assertLoopbackOnly(`test server with UI (pid ${uiPid})`, listeningSockets(uiPid));
    assert.ok(ports(sockets).includes(uiPort), `UI port ${uiPort} among ${sockets.map(describeSocket).join(', ')}`);
  });

  test("a cryoet worker's Prometheus exporter (temporal.yaml metrics.prometheus)", async () => {
    const server = await startTemporal();
    cleanups.push(() => server.teardown());
    const metricsPort = await freePort();
    const configFile = writeTestConfig(Number(server.address.split(':').at(-1)), uniqueId('tq-loopback'));
    appendFileSync(configFile, `\nmetrics:\n  prometheus: 127.0.0.1:${metricsPort}\n`);
    const worker = await spawnWorkerProcess(
      ['--import', 'tsx', join('src', 'worker.ts'), configFile],
      'cryoet worker: task queue',
    );
    cleanups.push(async () => {
      worker.child.kill('SIGINT');
      await worker.exited;
    });
    const pid = worker.child.pid!;
    const sockets = assertLoopbackOnly(`cryoet worker (pid ${pid})`, listeningSockets(pid));
    assert.deepEqual(
      sockets.map(describeSocket),
      [`127.0.0.1:${metricsPort}`],
      'the exporter is the only thing the worker listens on',
    );
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
});
