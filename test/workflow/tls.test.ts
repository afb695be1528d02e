/**
 * Temporal over mTLS, configured the project's way: a temporal.yaml with `temporal.tls`
 * (serverCaFile, clientCertFile, clientKeyFile, serverName) → loadConfig → temporalTarget →
 * `createWorker` (NativeConnection, real Worker with CryoEtPlugin) and `connectClient`
 * (Connection). The TLS endpoint is an in-test Node TLS server on 127.0.0.1 that demands
 * a client certificate from the test CA and pipes the decrypted HTTP/2 to a plain test
 * Temporal server: it stands in for a TLS frontend (the dev server has no TLS of its own).
 * Certificates are made with openssl in a temp folder. A clusterJob (`echo ok`) runs to
 * completion through it; no client certificate, or a server CA that did not sign the
 * server's certificate, is refused with a clear error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import { Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { connectClient, runClusterJob } from '../../src/client.js';
import { loadConfig, type CryoConfig } from '../../src/config.js';
import { temporalTarget } from '../../src/connection.js';
import { createWorker, type CryoWorker } from '../../src/worker.js';
import { startTemporal, uniqueId, writeTestConfig } from '../helpers/env.js';
import {
  describeHits,
  fetchHistories,
  findSecrets,
  GENERIC_SECRETS,
  keyFileSecrets,
} from '../helpers/history-secrets.js';
import { ladder } from '../helpers/worker.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

/** A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA. */
function makeCertificates(
  dir: string,
): Record<'ca' | 'caKey' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey' | 'otherCa' | 'otherCaKey', string> {
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string) =>
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-subj',
      `/CN=cryoet test ${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  makeCa('ca');
  makeCa('other-ca');
  const leaf = (name: string, cn: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      String(Date.now()),
      '-days',
      '1',
      '-out',
      `${name}.pem`,
      '-extfile',
      `${name}.ext`,
    );
  };
  leaf(
    'server',
    'localhost',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  leaf(
    'client',
    'cryoet-test-client',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  const at = (f: string) => join(dir, f);
  return {
    ca: at('ca.pem'),
    caKey: at('ca.key'),
    serverCert: at('server.pem'),
    serverKey: at('server.key'),
    clientCert: at('client.pem'),
    clientKey: at('client.key'),
    otherCa: at('other-ca.pem'),
    otherCaKey: at('other-ca.key'),
  };
}

/** What the TLS front door saw. */
interface ProxyLog {
  /** Subject CN of each client certificate accepted. */
  readonly accepted: string[];
  /** Handshakes it refused, with OpenSSL's reason. */
  readonly refused: string[];
}

/** A TLS server on 127.0.0.1 (h2, client certificate required) piping to `upstreamPort`. */
async function startTlsProxy(
  files: ReturnType<typeof makeCertificates>,
  upstreamPort: number,
): Promise<{ server: TlsServer; port: number; log: ProxyLog; close: () => Promise<void> }> {
  const log: ProxyLog = { accepted: [], refused: [] };
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    {
      key: readFileSync(files.serverKey),
      cert: readFileSync(files.serverCert),
      ca: readFileSync(files.ca),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (tlsSocket: TLSSocket) => {
      const peer = tlsSocket.getPeerCertificate();
      log.accepted.push(
        tlsSocket.authorized ? String(peer.subject?.CN) : `UNAUTHORIZED ${tlsSocket.authorizationError}`,
      );
      const upstream = netConnect(upstreamPort, '127.0.0.1');
      sockets.add(tlsSocket).add(upstream);
      const drop = () => {
        tlsSocket.destroy();
        upstream.destroy();
        sockets.delete(tlsSocket);
        sockets.delete(upstream);
      };
      tlsSocket.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      tlsSocket.pipe(upstream).pipe(tlsSocket);
    },
  );
  server.on('tlsClientError', (err: Error & { code?: string }) =>
    log.refused.push(`${err.code ?? ''} ${err.message}`.trim()),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The test temporal.yaml pointed at `port`, with a `temporal.tls` block. */
function tlsConfigFile(
  port: number,
  taskQueue: string,
  tls: { serverCaFile: string; clientCertFile: string; clientKeyFile: string; serverName?: string },
): string {
  const file = writeTestConfig(port, taskQueue);
  const block = Object.entries(tls)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `    ${k}: ${v}`)
    .join('\n');
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes(`  taskQueue: ${taskQueue}\n`));
  writeFileSync(file, text.replace(`  taskQueue: ${taskQueue}\n`, `  taskQueue: ${taskQueue}\n  tls:\n${block}\n`));
  return file;
}

describe('Temporal over mTLS from temporal.yaml temporal.tls', { timeout: 540_000 }, () => {
  let dir: string;
  let files: ReturnType<typeof makeCertificates>;
  let env: TestWorkflowEnvironment;
  let proxy: Awaited<ReturnType<typeof startTlsProxy>>;
  let config: CryoConfig;
  let worker: CryoWorker | undefined;
  let running: Promise<void> | undefined;
  const taskQueue = uniqueId('tq-tls');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cryoet-tls-'));
    files = makeCertificates(dir);
    env = await startTemporal();
    proxy = await startTlsProxy(files, Number(env.address.split(':').at(-1)));
    config = await loadConfig(
      tlsConfigFile(proxy.port, taskQueue, {
        serverCaFile: files.ca,
        clientCertFile: files.clientCert,
        clientKeyFile: files.clientKey,
        serverName: 'localhost',
      }),
    );
  });

  after(async () => {
    if (worker) {
      worker.worker.shutdown();
      await running;
      await worker.connection.close();
    }
    await proxy?.close();
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a worker with CryoEtPlugin and a client, both over mTLS, run a clusterJob to completion', async () => {
    const target = temporalTarget(config);
    assert.equal(target.connectionOptions.address, `127.0.0.1:${proxy.port}`);
    worker = await createWorker(config);
    running = worker.worker.run();
    const { client, close } = await connectClient(config);
    try {
      const workflowId = `cryoet/test/${uniqueId('tls')}`;
      const result = await runClusterJob(client, config, workflowId, {
        step: 'tls',
        placement: ladder(['gpu:t4:1'], 60_000),
        command: ['echo', 'ok'],
      });
      assert.equal(result.final.state, 'COMPLETED');
      assert.equal(result.result.marker?.exitCode, 0);
      assert.match(result.result.outputTail, /^ok$/m);
      // Both the worker's (Rust core) and the client's (grpc-js) connections came through the
      // proxy, each with the test client certificate.
      assert.ok(proxy.log.accepted.length >= 2, `accepted: ${proxy.log.accepted.join(', ')}`);
      assert.deepEqual([...new Set(proxy.log.accepted)], ['cryoet-test-client']);

      // Nothing of the TLS keys (nor the SSH key) went into the history.
      const histories = await fetchHistories(client, [workflowId]);
      const secrets = [
        ...[files.clientKey, files.serverKey, files.caKey].flatMap((f) => keyFileSecrets(f)),
        ...keyFileSecrets(config.clusters['dev']!.ssh.keyFile),
        ...GENERIC_SECRETS,
      ];
      assert.deepEqual(findSecrets(histories, secrets), [], describeHits(findSecrets(histories, secrets)));
    } finally {
      await close();
    }
  });

  // The worker's connection (Rust core, rustls) fails at connect with the TLS alert in its
  // message. The client's eager `Connection.connect` (grpc-js) only says "Failed to connect
  // before the deadline": grpc-js keeps the TLS reason for the first call, whose UNAVAILABLE
  // error carries it ("Last error: ..."), so that is checked on a lazy connection.
  async function clientReason(options: ReturnType<typeof temporalTarget>['connectionOptions']): Promise<string> {
    await assert.rejects(
      Connection.connect({ ...options, connectTimeout: '2 seconds' }),
      /Failed to connect before the deadline/,
    );
    const lazy = Connection.lazy({ ...options, interceptors: [] }); // no retries: the first error is the answer
    try {
      await lazy.workflowService.getSystemInfo({});
    } catch (err) {
      return (err as Error).message;
    } finally {
      await lazy.close();
    }
    assert.fail('getSystemInfo succeeded over a connection that should have been refused');
  }

  test('without a client certificate the connection is refused', async () => {
    const { tls, ...rest } = temporalTarget(config).connectionOptions;
    assert.ok(tls && typeof tls === 'object');
    const { clientCertPair: _dropped, ...serverOnly } = tls;
    const options = { ...rest, tls: serverOnly };
    const refusedBefore = proxy.log.refused.length;
    // TLS 1.3: the client finishes its handshake before the server checks it, so the client
    // either reads the server's alert or, when it has already written its first request,
    // finds the connection closed under it (seen in CI: a broken pipe; hyper's "connection
    // closed"). Either way it is refused; the proxy's log below says why, from the server's side.
    await assert.rejects(
      NativeConnection.connect(options),
      /received fatal alert: CertificateRequired|BrokenPipe|ConnectionReset|connection closed/,
    );
    assert.match(
      await clientReason(options),
      new RegExp(
        '14 UNAVAILABLE: No connection established\\. Last error: ' +
          '.*(alert certificate required|EPIPE|ECONNRESET|socket disconnected|[Cc]onnection closed|socket hang up)',
      ),
    );
    const refused = proxy.log.refused.slice(refusedBefore);
    assert.ok(refused.length >= 2, `proxy refusals: ${refused.join(' | ')}`);
    for (const r of refused) assert.match(r, /ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE/);
    assert.equal(
      proxy.log.accepted.filter((cn) => cn !== 'cryoet-test-client').length,
      0,
      'no unauthenticated connection was piped through',
    );
  });

  test('a server CA that did not sign the server certificate is refused', async () => {
    const wrong = await loadConfig(
      tlsConfigFile(proxy.port, taskQueue, {
        serverCaFile: files.otherCa,
        clientCertFile: files.clientCert,
        clientKeyFile: files.clientKey,
        serverName: 'localhost',
      }),
    );
    const options = temporalTarget(wrong).connectionOptions;
    await assert.rejects(NativeConnection.connect(options), /InvalidCertificate\(UnknownIssuer\)/);
    assert.match(
      await clientReason(options),
      new RegExp(
        '14 UNAVAILABLE: No connection established\\. Last error: ' +
          '.*(self-signed certificate in certificate chain|unable to (get local issuer|verify))',
      ),
    );
    // connectClient (the CLI's way in) says why, not only that the deadline passed.
    await assert.rejects(connectClient(wrong), (err: Error) => {
      assert.match(
        err.message,
        new RegExp(
          'Failed to connect before the deadline: ' +
            '.*(self-signed certificate in certificate chain|unable to (get local issuer|verify))',
        ),
      );
      return true;
    });
  });
});
