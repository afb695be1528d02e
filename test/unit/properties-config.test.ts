/**
 * Property-based tests (fast-check) for known_hosts, host lists, temporal.yaml and the campaign
 * file: any input or edit gives a value or the documented issues, never a throw.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseCampaign } from '../../src/campaign/load.js';
import { parseConfig } from '../../src/config.js';
import { expandHostList } from '../../src/slurm/node-exclusions.js';
import { hostLookupName, parseKnownHosts, verifyHostKey } from '../../src/ssh/known-hosts.js';
import { check, nasty, treeEdits } from '../helpers/arbitraries.js';

describe('parsers: any input parses or raises the documented error', () => {
  it('known_hosts lines (parseKnownHosts, verifyHostKey): never throws; a verdict naming the host', () => {
    const line = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('', '@revoked ', '@cert-authority ', '#'),
          nasty(12),
          fc.constantFrom('ssh-ed25519', 'ssh-rsa', ''),
          fc.base64String({ maxLength: 12 }),
        )
        .map((p) => `${p[0]}${p[1]} ${p[2]} ${p[3]}`),
      fc.constantFrom(
        '|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA',
        '|1|| ssh-rsa AAAA',
        '!*.evil,* ssh-rsa AAAA',
        '[h]:2222 ssh-rsa AAAA',
      ),
      nasty(30),
    );
    const input = fc.tuple(
      fc.array(line, { maxLength: 6 }).map((l) => l.join('\n')),
      fc.oneof(fc.stringMatching(/^[a-z0-9.-]{1,12}$/), nasty(8)),
      fc.integer({ min: 1, max: 65535 }),
      fc.uint8Array({ maxLength: 16 }),
    );
    check(
      fc.property(input, ([text, host, port, key]) => {
        const entries = parseKnownHosts(text);
        const lines = text.split(/\r?\n/).length;
        for (const e of entries) {
          assert.ok(e.line >= 1 && e.line <= lines);
          assert.ok(e.patterns.length > 0 && e.keyType !== '' && e.keyBase64 !== '');
        }
        const verdict = verifyHostKey(entries, host, port, Buffer.from(key), 'kh');
        if (!verdict.ok) assert.ok(verdict.message.includes(hostLookupName(host, port)), verdict.message);
      }),
      200,
    );
  });

  it('known_hosts: a listed host verifies (plain and hashed), another key does not', () => {
    const input = fc.tuple(
      fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,15}$/),
      fc.integer({ min: 1, max: 65535 }),
      fc.uint8Array({ minLength: 1, maxLength: 32 }),
      fc.uint8Array({ minLength: 1, maxLength: 20 }),
      fc.boolean(),
    );
    check(
      fc.property(input, ([host, port, key, salt, hashed]) => {
        const name = hostLookupName(host, port);
        const pattern = hashed
          ? `|1|${Buffer.from(salt).toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
          : name;
        const entries = parseKnownHosts(`# comment\n${pattern} ssh-ed25519 ${Buffer.from(key).toString('base64')}\n`);
        assert.deepEqual(verifyHostKey(entries, host, port, Buffer.from(key)), { ok: true, line: 2 });
        const other = Buffer.concat([Buffer.from(key), Buffer.from([1])]);
        const verdict = verifyHostKey(entries, host, port, other);
        assert.equal(verdict.ok ? 'ok' : verdict.reason, 'key-mismatch');
      }),
      100,
    );
  });

  it('host lists (expandHostList): safe node names, never a throw or a hang', () => {
    const hostList = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'n0123456789[],-ab'), maxLength: 24 }),
      fc
        .tuple(
          fc.stringMatching(/^[a-z]{1,4}$/),
          fc.bigInt({ min: 0n, max: 10n ** 25n }),
          fc.bigInt({ min: 0n, max: 10n ** 25n }),
        )
        .map(([p, a, b]) => `${p}[${a}-${b}]`),
      fc
        .tuple(
          fc.stringMatching(/^[a-z]{1,4}$/),
          fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5 })), {
            minLength: 1,
            maxLength: 3,
          }),
        )
        .map(([p, ranges]) => `${p}[${ranges.map(([lo, n]) => `${lo}-${lo + n}`).join(',')}]`),
      nasty(20),
    );
    check(
      fc.property(hostList, (list) => {
        const names = expandHostList(list);
        assert.ok(names.length <= 4097 * (list.split(',').length + 1), `${names.length} names`);
        for (const n of names) assert.match(n, /^[A-Za-z0-9._-]+$/);
      }),
      200,
      // Looped forever before the safe-integer check: i += 1 does not move past 2^53.
      [
        ['n[9007199254740993]'],
        ['n[99999999999999999999-99999999999999999999]'],
        ['n[9007199254740990-9007199254740999]'],
      ],
    );
  });

  it('host lists: a generated range expands to exactly its names, zero padding kept', () => {
    const spec = fc.tuple(
      fc.stringMatching(/^[a-z]{1,4}-?$/),
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 1, max: 4 }),
    );
    check(
      fc.property(spec, ([prefix, lo, count, width]) => {
        const pad = (n: number): string => String(n).padStart(width, '0');
        const expected = Array.from({ length: count + 1 }, (_, i) => `${prefix}${pad(lo + i)}`);
        assert.deepEqual(expandHostList(`${prefix}[${pad(lo)}-${pad(lo + count)}]`), expected);
      }),
      200,
    );
  });

  it('temporal.yaml (parseConfig): any edit of a valid file gives the config or issues, never a throw', () => {
    const fixtures = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
    const base = parseYaml(readFileSync(`${fixtures}minimal.yaml`, 'utf8')) as Record<string, unknown>;
    check(
      fc.property(treeEdits(base), (tree) => {
        // The default fileExists (a real stat): a path with a NUL used to make it throw a TypeError.
        const result = parseConfig(stringifyYaml(tree), { fileName: 'temporal.yaml', baseDir: fixtures });
        if (!result.ok) for (const issue of result.issues) assert.equal(typeof issue.message, 'string');
      }),
      150,
      [
        [
          {
            ...base,
            clusters: {
              dev: {
                ...(base.clusters as { dev: object }).dev,
                ssh: { host: 'h', user: 'u', keyFile: 'k\0', knownHostsFile: 'ssh/known_hosts' },
              },
            },
          },
        ],
      ],
    );
  });

  it('campaign file (parseCampaign): any edit of a valid file gives the spec or issues, never a throw', () => {
    const base = parseYaml(
      readFileSync(new URL('../../campaigns/embedded-10164.yaml', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    check(
      fc.property(
        treeEdits(base),
        fc.constantFrom<'production' | 'embedded'>('production', 'embedded'),
        (tree, profile) => {
          const result = parseCampaign(stringifyYaml(tree), profile);
          if (result.ok)
            for (const ts of result.spec.tiltSeries) assert.match(ts.name, /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/);
          else for (const issue of result.issues) assert.equal(typeof issue.message, 'string');
        },
      ),
      150,
    );
  });
});
