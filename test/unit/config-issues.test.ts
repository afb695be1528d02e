/**
 * temporal.yaml issues as an operator reads them: lines, YAML syntax, duplicates, an empty file,
 * missing local files and what they are for; local paths resolved.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { formatConfigIssues, parseConfig } from '../../src/config.js';
import { baseTree, FIXTURES, fixture, parseOk, parseIssues } from '../helpers/config-parse.js';

describe('issues with lines', () => {
  test('broken-many.yaml lists every problem, in file order, with its line', () => {
    const text = readFileSync(fixture('broken-many.yaml'), 'utf8');
    const result = parseConfig(text, { fileName: 'broken-many.yaml', baseDir: FIXTURES });
    assert.equal(result.ok, false);
    const issues = result.ok ? [] : result.issues;
    const expected: Array<[number, string, string]> = [
      [3, 'temporal.address', 'expected "host:port"'],
      [8, 'clusters.dev.ssh.prot', 'unknown key'],
      [10, 'clusters.dev.ssh.keyFile', `file not found: ${fixture('ssh/missing-key')}`],
      [15, 'placement.hangAfter', 'a bare number has no unit'],
      [17, 'placement.ladder[0].gres', 'no price for GPU type "a10g" in gpuPrices'],
      [18, 'placement.ladder[1].gres', 'expected "gpu[:type]:N"'],
      [19, 'placement.ladder[2].cluster', 'unknown cluster "elsewhere"'],
      [20, 'placement.ladder[3].partition', 'partition "cpu" is not listed'],
      [22, 'gpuPrices.t4', 'expected a price ≥ 0'],
      [23, 'paths.work', 'missing'], // a missing key cites its parent's line
    ];
    assert.deepEqual(
      issues.map((i) => [i.line, i.path]),
      expected.map(([line, path]) => [line, path]),
      formatConfigIssues('broken-many.yaml', issues),
    );
    expected.forEach(([, , fragment], index) =>
      assert.ok(issues[index]!.message.includes(fragment), issues[index]!.message),
    );
  });

  test('formatConfigIssues gives one "file:line path: message" line per issue', () => {
    const text = readFileSync(fixture('broken-many.yaml'), 'utf8');
    const result = parseConfig(text, { fileName: 'temporal.yaml', baseDir: FIXTURES });
    const lines = formatConfigIssues('temporal.yaml', result.ok ? [] : result.issues).split('\n');
    assert.equal(lines.length, 10);
    assert.equal(lines[5], 'temporal.yaml:18 placement.ladder[1].gres: expected "gpu[:type]:N"');
  });

  test('formatConfigIssues without line or path', () => {
    assert.equal(
      formatConfigIssues('t.yaml', [{ path: '', message: 'the file is empty' }]),
      't.yaml: the file is empty',
    );
    assert.equal(formatConfigIssues('t.yaml', [{ path: 'paths', message: 'm', line: 2 }]), 't.yaml:2 paths: m');
  });

  test('a value on the line after its key cites the key', () => {
    const text = readFileSync(fixture('minimal.yaml'), 'utf8').replace(
      'placement:\n',
      'placement:\n  hangAfter:\n    soon\n',
    );
    const keyLine = text.split('\n').indexOf('  hangAfter:') + 1;
    assert.ok(keyLine > 0);
    assert.deepEqual(
      parseIssues(text).map((i) => [i.path, i.line]),
      [['placement.hangAfter', keyLine]],
    );
  });

  test('YAML syntax errors are issues with a line', () => {
    const issues = parseIssues(readFileSync(fixture('broken-syntax.yaml'), 'utf8'));
    assert.ok(issues.length >= 1);
    assert.equal(issues[0]!.path, '');
    assert.equal(issues[0]!.line, 4);
    assert.match(issues[0]!.message, /Flow sequence/);
    assert.doesNotMatch(issues[0]!.message, /\n/);
  });

  test('duplicate keys are reported', () => {
    const issues = parseIssues('paths: { data: /d, work: /w }\npaths: { data: /d, work: /w }\n');
    assert.equal(issues[0]!.line, 2);
    assert.match(issues[0]!.message, /unique/i);
  });

  test('an empty file says what belongs in it', () => {
    assert.deepEqual(parseIssues('# nothing yet\n'), [
      { path: '', message: 'the file is empty: expected a mapping with clusters, placement and paths' },
    ]);
  });
});

describe('local files', () => {
  test('missing files are reported with their resolved path, together with schema issues', () => {
    const tree = baseTree();
    tree.temporal = {
      tls: { clientCertFile: '/etc/tls/c.pem', clientKeyFile: 'tls/c.key', serverCaFile: 'tls/ca.pem' },
      configFile: 'temporal.toml',
    };
    tree.placement.ladder[0].gres = 'nonsense';
    const exists = new Set(['/cfg/ssh/known_hosts', '/cfg/tls/ca.pem']);
    const issues = parseIssues(stringify(tree), (p) => exists.has(p));
    assert.deepEqual(issues.map((i) => [i.path, i.message]).sort(), [
      [
        'clusters.dev.ssh.keyFile',
        'file not found: /cfg/ssh/fake-key (relative to /cfg); the SSH private key for root@127.0.0.1:' +
          ' ssh-keygen -t ed25519 -f /cfg/ssh/fake-key,' +
          " then add /cfg/ssh/fake-key.pub to the cluster's ~/.ssh/authorized_keys",
      ],
      ['placement.ladder[0].gres', 'expected "gpu[:type]:N"'],
      [
        'temporal.configFile',
        'file not found: /cfg/temporal.toml (relative to /cfg); the Temporal env-config TOML' +
          ' (temporal config set --profile …), or drop temporal.configFile',
      ],
      [
        'temporal.tls.clientCertFile',
        'file not found: /etc/tls/c.pem; the mTLS file for the Temporal frontend' +
          ' (Temporal Cloud: the client certificate and key for the namespace)',
      ],
      [
        'temporal.tls.clientKeyFile',
        'file not found: /cfg/tls/c.key (relative to /cfg); the mTLS file for the Temporal frontend' +
          ' (Temporal Cloud: the client certificate and key for the namespace)',
      ],
    ]);
  });

  test('a missing file says what it is for and how to make it', () => {
    const tree = baseTree();
    tree.clusters.dev.ssh = { ...tree.clusters.dev.ssh, port: 2022, knownHostsFile: '/etc/cryoet/known_hosts' };
    const issues = parseIssues(stringify(tree), (p) => p !== '/etc/cryoet/known_hosts');
    assert.deepEqual(
      issues.map((i) => i.message),
      [
        "file not found: /etc/cryoet/known_hosts; the cluster's host key, pinned:" +
          ' ssh-keyscan -p 2022 127.0.0.1 > /etc/cryoet/known_hosts,' +
          " then check its fingerprint with the cluster's admin (an unknown host key is never accepted)",
      ],
    );
    tree.clusters.dev.ssh.knownHostsFile = '.dev/cluster/ssh/known_hosts';
    const dev = parseIssues(stringify(tree), (p) => !p.includes('/.dev/'));
    assert.match(
      dev[0]!.message,
      /; the dev cluster writes it: bash scripts\/dev-cluster\.sh start \(npm test and npm run demo do\)$/,
    );
  });

  test('relative local paths come back absolute; absolute ones unchanged', () => {
    const tree = baseTree();
    tree.clusters.dev.ssh.keyFile = '../keys/id';
    tree.clusters.dev.ssh.knownHostsFile = '/etc/ssh/ssh_known_hosts';
    tree.temporal = {
      configFile: 'env/temporal.toml',
      tls: { clientCertFile: 'c.pem', clientKeyFile: '/k.pem', serverCaFile: 'ca.pem' },
    };
    const config = parseOk(stringify(tree));
    assert.equal(config.clusters['dev']!.ssh.keyFile, '/keys/id');
    assert.equal(config.clusters['dev']!.ssh.knownHostsFile, '/etc/ssh/ssh_known_hosts');
    assert.equal(config.temporal.configFile, '/cfg/env/temporal.toml');
    assert.deepEqual(config.temporal.tls, {
      clientCertFile: '/cfg/c.pem',
      clientKeyFile: '/k.pem',
      serverCaFile: '/cfg/ca.pem',
    });
  });
});
