/**
 * Integration: SshConnection and SshPool against the dev cluster's real sshd
 * (scripts/dev-cluster.sh start; 127.0.0.1:2222). Run on its own with
 * `node --import tsx --test test/integration/ssh.test.ts`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { CryoError, ErrorType, type ErrorTypeName } from '../../src/errors.js';
import { SshConnection, type SshTarget } from '../../src/ssh/connection.js';
import { SshPool } from '../../src/ssh/pool.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sshDir = join(root, '.dev', 'cluster', 'ssh');

const target: SshTarget = {
  cluster: 'dev',
  host: '127.0.0.1',
  port: 2222,
  user: 'root',
  keyFile: join(sshDir, 'id_ed25519'),
  knownHostsFile: join(sshDir, 'known_hosts'),
  connectTimeoutMs: 5000,
};

const EXEC = { timeoutMs: 10_000 };

const localDir = mkdtempSync(join(tmpdir(), 'cryoet-ssh-test-'));
after(() => rmSync(localDir, { recursive: true, force: true }));

/** Asserts that `promise` rejects with a CryoError of `type` whose message matches `message`. */
async function rejectsWith(promise: Promise<unknown>, type: ErrorTypeName, message?: RegExp): Promise<CryoError> {
  let caught: unknown;
  await assert.rejects(promise, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof CryoError, `expected CryoError, got ${String(caught)}`);
  assert.equal(caught.type, type, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** Deterministic bytes (mulberry32), so a failing round trip reproduces. */
function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let a = seed >>> 0;
  for (let i = 0; i < length; i += 4) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const word = (t ^ (t >>> 14)) >>> 0;
    for (let j = 0; j < 4 && i + j < length; j++) out[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return out;
}

/** A fresh ed25519 public key blob that is not the dev sshd's host key. */
let otherKeys = 0;
function otherHostKey(): string {
  const file = join(localDir, `other_host_key_${++otherKeys}`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
}

describe('SshConnection against the dev sshd [integration]', () => {
  const connection = new SshConnection(target);
  let remoteDir = '';

  before(async () => {
    const made = await connection.exec('mktemp -d /tmp/cryoet-ssh-test.XXXXXX', EXEC);
    assert.equal(made.exitCode, 0, made.stderr);
    remoteDir = made.stdout.trim();
  });
  after(async () => {
    if (remoteDir) await connection.exec(`rm -rf '${remoteDir}'`, EXEC).catch(() => undefined);
    connection.close();
  });

  it('exec returns exit code, stdout and stderr separately', async () => {
    const result = await connection.exec(`sh -c 'echo out; echo err >&2; exit 3'`, EXEC);
    assert.deepEqual(
      { ...result, stderr: undefined },
      { exitCode: 3, signal: undefined, stdout: 'out\n', stderr: undefined },
    );
    assert.ok(result.stderr.endsWith('err\n'), JSON.stringify(result.stderr)); // after any login-shell noise
  });

  it('delivers stdin, then EOF', async () => {
    const stdin = 'line one\nline "two" with $HOME and `quotes`\n';
    const result = await connection.exec('cat', { ...EXEC, stdin });
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, stdin);
  });

  it('sets SLURM_CONF in the remote environment (sshd SetEnv)', async () => {
    const result = await connection.exec('printf %s "$SLURM_CONF"', EXEC);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout, join(root, '.dev', 'cluster', 'etc', 'slurm.conf'));
  });

  it('times out with CommandTimeout and stays usable', async () => {
    const connectsBefore = connection.connects;
    const started = Date.now();
    await rejectsWith(
      connection.exec('sleep 30', { timeoutMs: 300 }),
      ErrorType.CommandTimeout,
      /ran past 300 ms: sleep 30/,
    );
    assert.ok(Date.now() - started < 5000, 'timeout fired promptly');
    const result = await connection.exec('echo still-here', EXEC);
    assert.equal(result.stdout, 'still-here\n');
    assert.equal(connection.connects, connectsBefore, 'no reconnect was needed');
  });

  it('runs 20 execs in parallel on one connection', async () => {
    const connectsBefore = connection.connects;
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => connection.exec(`echo job-${i}; echo e-${i} >&2; exit ${i % 4}`, EXEC)),
    ).finally(() => process.off('warning', onWarning));
    assert.deepEqual(
      warnings.map((w) => `${w.name}: ${w.message}`),
      [],
      'no MaxListenersExceededWarning',
    );
    results.forEach((r, i) => {
      // Login shells print their own noise to stderr on real hosts (here root's rc file runs
      // `pyenv rehash`, which races under parallel logins): stderr must end with ours.
      assert.deepEqual(
        { ...r, stderr: undefined },
        { exitCode: i % 4, signal: undefined, stdout: `job-${i}\n`, stderr: undefined },
      );
      assert.ok(r.stderr.endsWith(`e-${i}\n`), `stderr of exec ${i}: ${JSON.stringify(r.stderr)}`);
    });
    assert.equal(connection.connects, connectsBefore);
  });

  it('SFTP put then get round-trips a 1 MiB file byte for byte', async () => {
    const data = seededBytes(1024 * 1024, 20240601);
    const local = join(localDir, 'upload.bin');
    const back = join(localDir, 'download.bin');
    writeFileSync(local, data);
    await connection.put(local, `${remoteDir}/blob.bin`);
    const size = await connection.exec(`wc -c < '${remoteDir}/blob.bin'`, EXEC);
    assert.equal(size.stdout.trim(), String(data.length));
    await connection.get(`${remoteDir}/blob.bin`, back);
    assert.ok(readFileSync(back).equals(data), 'downloaded bytes equal uploaded bytes');
  });

  it('writeFile then readFile, with the mode applied', async () => {
    const content = 'echo hello from a script\n';
    await connection.writeFile(`${remoteDir}/script.sh`, content, 0o750);
    assert.equal((await connection.readFile(`${remoteDir}/script.sh`)).toString('utf8'), content);
    const mode = await connection.exec(`stat -c %a '${remoteDir}/script.sh'`, EXEC);
    assert.equal(mode.stdout.trim(), '750');
    const binary = seededBytes(4096, 7);
    await connection.writeFile(`${remoteDir}/bin.dat`, binary);
    assert.ok((await connection.readFile(`${remoteDir}/bin.dat`)).equals(binary));
  });

  it('readFile of a missing path is OutputMissing', async () => {
    await rejectsWith(
      connection.readFile(`${remoteDir}/no-such-file`),
      ErrorType.OutputMissing,
      new RegExp(`${remoteDir}/no-such-file does not exist \\(sftp read\\)`),
    );
    await rejectsWith(connection.get(`${remoteDir}/no-such-file`, join(localDir, 'x')), ErrorType.OutputMissing);
  });

  it('reconnects on the next call after disconnect()', async () => {
    const connectsBefore = connection.connects;
    connection.disconnect();
    const result = await connection.exec('echo again', EXEC);
    assert.equal(result.stdout, 'again\n');
    assert.equal(connection.connects, connectsBefore + 1);
    // SFTP opens a fresh session on the new link too.
    await connection.writeFile(`${remoteDir}/after-disconnect`, 'x');
    assert.equal((await connection.readFile(`${remoteDir}/after-disconnect`)).toString(), 'x');
  });
});

describe('SshConnection after the server drops the link [integration]', () => {
  const connection = new SshConnection(target);
  after(() => connection.close());

  it('kill -9 of the server-side session: the exec fails or reports a signal, the next exec reconnects', async () => {
    assert.equal((await connection.exec('true', EXEC)).exitCode, 0);
    assert.equal(connection.connects, 1);
    try {
      const result = await connection.exec('kill -9 $PPID', EXEC);
      assert.equal(result.exitCode, null, `expected a signal, got ${JSON.stringify(result)}`);
    } catch (err) {
      assert.ok(err instanceof CryoError, String(err));
      assert.equal(err.type, ErrorType.SshUnavailable, err.message);
    }
    const result = await connection.exec('echo back', EXEC);
    assert.equal(result.stdout, 'back\n');
    assert.equal(connection.connects, 2);
  });

  it('refuses every call once closed', async () => {
    const closed = new SshConnection(target);
    closed.close();
    await rejectsWith(closed.exec('true', EXEC), ErrorType.SshUnavailable, /was closed/);
  });
});

describe('host key checking against the dev sshd [integration]', () => {
  it('refuses a known_hosts with a different key for [127.0.0.1]:2222', async () => {
    const file = join(localDir, 'known_hosts.wrong-key');
    writeFileSync(file, `# wrong key\n[127.0.0.1]:2222 ${otherHostKey()}\n`);
    const connection = new SshConnection({ ...target, knownHostsFile: file });
    try {
      const err = await rejectsWith(connection.exec('true', EXEC), ErrorType.HostKeyRejected, /does not match/);
      assert.ok(err.message.includes(`${file} line(s) 2`), err.message);
      assert.ok(err.message.includes('cluster "dev"'), err.message);
      assert.equal(err.nonRetryable, true);
      assert.equal(connection.connects, 0);
    } finally {
      connection.close();
    }
  });

  it('refuses a known_hosts that does not list the host', async () => {
    const file = join(localDir, 'known_hosts.other-host');
    writeFileSync(file, `[127.0.0.1]:2223 ${otherHostKey()}\nlogin.example.org ${otherHostKey()}\n`);
    const connection = new SshConnection({ ...target, knownHostsFile: file });
    try {
      await rejectsWith(
        connection.exec('true', EXEC),
        ErrorType.HostKeyRejected,
        /\[127\.0\.0\.1\]:2222 is not listed/,
      );
    } finally {
      connection.close();
    }
  });

  it('reports an unreadable known_hosts file as ConfigInvalid', async () => {
    const connection = new SshConnection({ ...target, knownHostsFile: join(localDir, 'missing-known-hosts') });
    try {
      await rejectsWith(connection.exec('true', EXEC), ErrorType.ConfigInvalid, /cannot read known_hosts file/);
    } finally {
      connection.close();
    }
  });
});

describe('SshPool [integration]', () => {
  const pool = new SshPool([target, { ...target, cluster: 'dev-b' }]);
  after(() => pool.close());

  it('returns the same connection for a cluster every time', async () => {
    const first = pool.get('dev');
    assert.equal(pool.get('dev'), first);
    assert.notEqual(pool.get('dev-b'), first);
    assert.equal((await first.exec('echo pooled', EXEC)).stdout, 'pooled\n');
  });

  it('throws ClusterUnknown naming the known clusters', () => {
    assert.throws(
      () => pool.get('nope'),
      (err: unknown) =>
        err instanceof CryoError &&
        err.type === ErrorType.ClusterUnknown &&
        err.message.includes('"nope"') &&
        err.message.includes('dev, dev-b'),
    );
  });

  it('hands out fresh connections after close()', async () => {
    const before = pool.get('dev');
    pool.close();
    const again = pool.get('dev');
    assert.notEqual(again, before);
    assert.equal((await again.exec('echo fresh', EXEC)).stdout, 'fresh\n');
    await rejectsWith(before.exec('true', EXEC), ErrorType.SshUnavailable, /was closed/);
  });
});
