/**
 * temporalTarget: where the worker and the CLI connect. Explicit temporal.yaml values,
 * then a Temporal env-config profile, then the local dev server; mTLS from files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, type CryoConfig } from '../../src/config.js';
import { temporalTarget } from '../../src/connection.js';

const dir = mkdtempSync(join(tmpdir(), 'cryoet-connection-'));
const files = {
  key: join(dir, 'id_ed25519'),
  knownHosts: join(dir, 'known_hosts'),
  cert: join(dir, 'client.pem'),
  certKey: join(dir, 'client.key'),
  ca: join(dir, 'ca.pem'),
  toml: join(dir, 'temporal.toml'),
};
writeFileSync(files.key, 'not a real key');
writeFileSync(files.knownHosts, '');
writeFileSync(files.cert, 'CERT-BYTES');
writeFileSync(files.certKey, 'KEY-BYTES');
writeFileSync(files.ca, 'CA-BYTES');
writeFileSync(files.toml, '[profile.cloud]\naddress = "ns1.acct.tmprl.cloud:7233"\nnamespace = "ns1.acct"\n');

function config(temporal: string): CryoConfig {
  const text = `temporal: ${temporal}
clusters:
  dev:
    ssh: { host: 127.0.0.1, user: root, keyFile: ${files.key}, knownHostsFile: ${files.knownHosts} }
    partitions: [gpu]
    workDir: /work
placement: { ladder: [{ partition: gpu, gres: "gpu:1" }] }
paths: { data: /data, work: /work }
`;
  const result = parseConfig(text, { fileName: 'temporal.yaml', baseDir: dir });
  assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
  return result.config;
}

const cases: Array<{ name: string; temporal: string; address: string; namespace: string; tls?: boolean }> = [
  { name: 'defaults to the local dev server', temporal: '{}', address: '127.0.0.1:7233', namespace: 'default' },
  {
    name: 'explicit address and namespace',
    temporal: '{ address: "temporal.lab:7233", namespace: cryo }',
    address: 'temporal.lab:7233',
    namespace: 'cryo',
  },
  {
    name: 'a profile supplies what temporal.yaml leaves unset',
    temporal: `{ profile: cloud, configFile: ${files.toml} }`,
    address: 'ns1.acct.tmprl.cloud:7233',
    namespace: 'ns1.acct',
  },
  {
    name: 'temporal.yaml wins over the profile',
    temporal: `{ profile: cloud, configFile: ${files.toml}, namespace: mine }`,
    address: 'ns1.acct.tmprl.cloud:7233',
    namespace: 'mine',
  },
  {
    name: 'mTLS files are read into the connection options',
    temporal:
      `{ address: "t.example:7233", tls: { clientCertFile: ${files.cert}, clientKeyFile: ${files.certKey}, ` +
      `serverCaFile: ${files.ca}, serverName: t.example } }`,
    address: 't.example:7233',
    namespace: 'default',
    tls: true,
  },
];

for (const c of cases) {
  test(`temporalTarget: ${c.name}`, () => {
    const target = temporalTarget(config(c.temporal));
    assert.equal(target.connectionOptions.address, c.address);
    assert.equal(target.namespace, c.namespace);
    assert.equal(target.taskQueue, 'cryoet');
    if (c.tls) {
      const tls = target.connectionOptions.tls as {
        clientCertPair: { crt: Buffer; key: Buffer };
        serverRootCACertificate: Buffer;
        serverNameOverride: string;
      };
      assert.equal(tls.clientCertPair.crt.toString(), 'CERT-BYTES');
      assert.equal(tls.clientCertPair.key.toString(), 'KEY-BYTES');
      assert.equal(tls.serverRootCACertificate.toString(), 'CA-BYTES');
      assert.equal(tls.serverNameOverride, 't.example');
    } else {
      assert.equal(target.connectionOptions.tls, undefined);
    }
  });
}
