import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  entryMatchesHost,
  hostLookupName,
  parseKnownHosts,
  verifyHostKey,
  type HostKeyVerdict,
} from '../../src/ssh/known-hosts.js';

// Real ed25519 key blobs from ssh-keygen, as the server would present them.
const dir = mkdtempSync(join(tmpdir(), 'cryoet-known-hosts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function generateKey(name: string): string {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  const [type, blob] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  assert.equal(type, 'ssh-ed25519');
  return blob!;
}

const keyA = generateKey('key-a');
const keyB = generateKey('key-b');
const blobA = Buffer.from(keyA, 'base64');
const blobB = Buffer.from(keyB, 'base64');

/** A `|1|salt|hash` pattern made the way OpenSSH makes it, with a fixed salt. */
function hashedPattern(name: string, salt = Buffer.alloc(20, 7)): string {
  const hash = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hash}`;
}

/** A hashed line produced by `ssh-keygen -H` itself. */
let hashedFiles = 0;
function sshKeygenHashedLine(plainLine: string): string {
  const file = join(dir, `known_hosts-${++hashedFiles}`);
  writeFileSync(file, `${plainLine}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'pipe' });
  const hashed = readFileSync(file, 'utf8').trim();
  assert.match(hashed, /^\|1\|/, 'ssh-keygen -H wrote a hashed line');
  return hashed;
}

describe('hostLookupName', () => {
  const rows: [string, number, string][] = [
    ['login.example.org', 22, 'login.example.org'],
    ['127.0.0.1', 2222, '[127.0.0.1]:2222'],
    ['login.example.org', 2022, '[login.example.org]:2022'],
  ];
  for (const [host, port, expected] of rows) {
    it(`${host}:${port} → ${expected}`, () => assert.equal(hostLookupName(host, port), expected));
  }
});

describe('parseKnownHosts', () => {
  it('reads plain, marked, commented, blank and malformed lines', () => {
    const text = [
      '# a comment',
      '',
      `login.example.org,10.0.0.1 ssh-ed25519 ${keyA} comment words`,
      `@revoked * ssh-ed25519 ${keyB}`,
      'malformed-line-with-one-field',
      `   @cert-authority *.example.org ssh-ed25519 ${keyA}\r`,
      `@revoked ssh-ed25519 ${keyB}`,
    ].join('\r\n');
    assert.deepEqual(parseKnownHosts(text), [
      {
        line: 3,
        marker: undefined,
        patterns: ['login.example.org', '10.0.0.1'],
        keyType: 'ssh-ed25519',
        keyBase64: keyA,
      },
      { line: 4, marker: 'revoked', patterns: ['*'], keyType: 'ssh-ed25519', keyBase64: keyB },
      { line: 6, marker: 'cert-authority', patterns: ['*.example.org'], keyType: 'ssh-ed25519', keyBase64: keyA },
    ]);
  });
});

interface Row {
  readonly title: string;
  readonly knownHosts: string;
  readonly host: string;
  readonly port: number;
  readonly presented: Buffer;
  readonly expect: 'ok' | 'unknown-host' | 'key-mismatch' | 'revoked';
  /** Line number of the matching entry (ok), or text the message must contain. */
  readonly line?: number;
  readonly messageIncludes?: readonly string[];
}

const rows: Row[] = [
  {
    title: 'plain host on port 22',
    knownHosts: `login.example.org ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'ok',
    line: 1,
  },
  {
    title: 'host names are case-insensitive',
    knownHosts: `Login.Example.ORG ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'ok',
    line: 1,
  },
  {
    title: 'plain host entry does not cover a non-22 port',
    knownHosts: `127.0.0.1 ssh-ed25519 ${keyA}\n`,
    host: '127.0.0.1',
    port: 2222,
    presented: blobA,
    expect: 'unknown-host',
    messageIncludes: ['[127.0.0.1]:2222 is not listed', 'ssh-keyscan -p 2222 127.0.0.1'],
  },
  {
    title: '[127.0.0.1]:2222 form',
    knownHosts: `# dev cluster\n[127.0.0.1]:2222 ssh-ed25519 ${keyA}\n`,
    host: '127.0.0.1',
    port: 2222,
    presented: blobA,
    expect: 'ok',
    line: 2,
  },
  {
    title: '[host]:port entry does not cover port 22',
    knownHosts: `[127.0.0.1]:2222 ssh-ed25519 ${keyA}\n`,
    host: '127.0.0.1',
    port: 22,
    presented: blobA,
    expect: 'unknown-host',
  },
  {
    title: 'dots in a pattern are literal',
    knownHosts: `login.example.org ssh-ed25519 ${keyA}\n`,
    host: 'loginXexample.org',
    port: 22,
    presented: blobA,
    expect: 'unknown-host',
  },
  {
    title: 'wildcard *.example.org matches a subdomain',
    knownHosts: `*.example.org ssh-ed25519 ${keyA}\n`,
    host: 'gpu-login.example.org',
    port: 22,
    presented: blobA,
    expect: 'ok',
    line: 1,
  },
  {
    title: 'wildcard *.example.org does not match example.org.evil.net',
    knownHosts: `*.example.org ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org.evil.net',
    port: 22,
    presented: blobA,
    expect: 'unknown-host',
  },
  {
    title: '? matches exactly one character',
    knownHosts: `login?.example.org ssh-ed25519 ${keyA}\n`,
    host: 'login2.example.org',
    port: 22,
    presented: blobA,
    expect: 'ok',
    line: 1,
  },
  {
    title: 'negated !bad.example.org vetoes the wildcard',
    knownHosts: `*.example.org,!bad.example.org ssh-ed25519 ${keyA}\n`,
    host: 'bad.example.org',
    port: 22,
    presented: blobA,
    expect: 'unknown-host',
    messageIncludes: ['bad.example.org is not listed'],
  },
  {
    title: 'negated pattern leaves other hosts matched',
    knownHosts: `!bad.example.org,*.example.org ssh-ed25519 ${keyA}\n`,
    host: 'good.example.org',
    port: 22,
    presented: blobA,
    expect: 'ok',
    line: 1,
  },
  {
    title: 'hashed |1|salt|hash entry (node:crypto HMAC-SHA1)',
    knownHosts: `${hashedPattern('[127.0.0.1]:2222')} ssh-ed25519 ${keyA}\n`,
    host: '127.0.0.1',
    port: 2222,
    presented: blobA,
    expect: 'ok',
    line: 1,
  },
  {
    title: 'hashed entry for another host does not match',
    knownHosts: `${hashedPattern('other.example.org')} ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'unknown-host',
  },
  {
    title: 'hashed line from ssh-keygen -H, port 22',
    knownHosts: `${sshKeygenHashedLine(`login.example.org ssh-ed25519 ${keyA}`)}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'ok',
    line: 1,
  },
  {
    title: 'hashed line from ssh-keygen -H, [host]:port',
    knownHosts: `${sshKeygenHashedLine(`[127.0.0.1]:2222 ssh-ed25519 ${keyA}`)}\n`,
    host: '127.0.0.1',
    port: 2222,
    presented: blobA,
    expect: 'ok',
    line: 1,
  },
  {
    title: 'hashed line from ssh-keygen -H with a different key → mismatch',
    knownHosts: `${sshKeygenHashedLine(`[127.0.0.1]:2222 ssh-ed25519 ${keyA}`)}\n`,
    host: '127.0.0.1',
    port: 2222,
    presented: blobB,
    expect: 'key-mismatch',
    messageIncludes: ['line(s) 1'],
  },
  {
    title: 'malformed hashed pattern matches nothing',
    knownHosts: `|1|onlysalt ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'unknown-host',
  },
  {
    title: '@revoked marker wins over a matching plain line',
    knownHosts: `login.example.org ssh-ed25519 ${keyA}\n@revoked * ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'revoked',
    messageIncludes: ['host key of login.example.org is marked @revoked in /etc/ssh/ssh_known_hosts'],
  },
  {
    // Stricter than OpenSSH, which only reads @revoked lines whose patterns name the host.
    title: '@revoked key is refused whatever host the @revoked line names',
    knownHosts: `login.example.org ssh-ed25519 ${keyA}\n@revoked other.example.org ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'revoked',
  },
  {
    title: '@revoked of another key does not block this one',
    knownHosts: `@revoked * ssh-ed25519 ${keyB}\nlogin.example.org ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'ok',
    line: 2,
  },
  {
    title: '@cert-authority line is not a host key',
    knownHosts: `@cert-authority login.example.org ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'unknown-host',
  },
  {
    title: 'key mismatch names the file and every line for the host',
    knownHosts:
      `# header\nlogin.example.org ssh-ed25519 ${keyB}\nother.example.org ssh-ed25519 ${keyA}\n` +
      `*.example.org ssh-ed25519 ${keyB}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'key-mismatch',
    messageIncludes: [
      'host key of login.example.org does not match /etc/ssh/ssh_known_hosts line(s) 2, 4',
      'refusing to connect',
    ],
  },
  {
    title: 'one of several keys for a host matches',
    knownHosts: `login.example.org ssh-ed25519 ${keyB}\nlogin.example.org ssh-ed25519 ${keyA}\n`,
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'ok',
    line: 2,
  },
  {
    title: 'unknown host in an empty file',
    knownHosts: '',
    host: 'login.example.org',
    port: 22,
    presented: blobA,
    expect: 'unknown-host',
    messageIncludes: [
      'login.example.org is not listed in /etc/ssh/ssh_known_hosts',
      'ssh-keyscan -p 22 login.example.org',
    ],
  },
];

describe('verifyHostKey', () => {
  for (const row of rows) {
    it(row.title, () => {
      const verdict: HostKeyVerdict = verifyHostKey(
        parseKnownHosts(row.knownHosts),
        row.host,
        row.port,
        row.presented,
        '/etc/ssh/ssh_known_hosts',
      );
      if (row.expect === 'ok') {
        assert.deepEqual(verdict, { ok: true, line: row.line });
        return;
      }
      assert.equal(verdict.ok, false, JSON.stringify(verdict));
      if (verdict.ok) return;
      assert.equal(verdict.reason, row.expect, verdict.message);
      for (const text of row.messageIncludes ?? [])
        assert.ok(verdict.message.includes(text), `"${verdict.message}" lacks "${text}"`);
    });
  }

  it('defaults the file name in messages to known_hosts', () => {
    const verdict = verifyHostKey([], 'h', 22, blobA);
    assert.equal(verdict.ok, false);
    if (!verdict.ok) assert.match(verdict.message, /not listed in known_hosts;/);
  });
});

describe('entryMatchesHost', () => {
  const [entry] = parseKnownHosts(`*.example.org,!bad.example.org,${hashedPattern('hidden.net')} ssh-ed25519 ${keyA}`);
  const rows: [string, boolean][] = [
    ['a.example.org', true],
    ['bad.example.org', false],
    ['hidden.net', true],
    ['example.org', false],
  ];
  for (const [name, expected] of rows) {
    it(`${name} → ${expected}`, () => assert.equal(entryMatchesHost(entry!, name), expected));
  }
});
