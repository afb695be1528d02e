/**
 * known_hosts parsing and host-key matching, the OpenSSH way: plain and wildcard
 * patterns, `[host]:port` for non-22 ports, hashed `|1|salt|hash` entries, negated
 * patterns and `@revoked` markers. There is no "accept any key" path: a host that
 * known_hosts does not list is refused.
 */
import { createHmac } from 'node:crypto';

/** One key line of a known_hosts file. */
export interface KnownHostEntry {
  readonly line: number;
  readonly marker?: 'revoked' | 'cert-authority';
  /** Comma-separated patterns, or one hashed `|1|salt|hash` pattern. */
  readonly patterns: readonly string[];
  readonly keyType: string;
  /** The base64 key blob, exactly as ssh2's hostVerifier receives it (decoded). */
  readonly keyBase64: string;
}

/** Parses known_hosts text; comments, blank and malformed lines are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]!.startsWith('#')) return;
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
      fields.shift();
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) return;
    entries.push({ line: index + 1, marker, patterns: hosts.split(','), keyType, keyBase64 });
  });
  return entries;
}

/** The name OpenSSH looks up for a host and port: `host`, or `[host]:port` off port 22. */
export function hostLookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  return globToRegExp(pattern).test(name);
}

/** True when the entry's patterns name this host (a matching `!pattern` vetoes). */
export function entryMatchesHost(entry: KnownHostEntry, name: string): boolean {
  let matched = false;
  for (const pattern of entry.patterns) {
    if (pattern.startsWith('!')) {
      if (patternMatches(pattern.slice(1), name)) return false;
    } else if (patternMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/** Outcome of checking a presented host key against known_hosts. */
export type HostKeyVerdict =
  | { readonly ok: true; readonly line: number }
  | { readonly ok: false; readonly reason: 'unknown-host' | 'key-mismatch' | 'revoked'; readonly message: string };

/**
 * Checks the raw key blob the server presented (ssh2 hostVerifier's argument) against
 * the entries for `host:port`. Revoked keys lose even when another line lists them.
 */
export function verifyHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  presentedKey: Buffer,
  knownHostsFile = 'known_hosts',
): HostKeyVerdict {
  const name = hostLookupName(host, port);
  const presented = presentedKey.toString('base64');
  if (entries.some((e) => e.marker === 'revoked' && e.keyBase64 === presented)) {
    return { ok: false, reason: 'revoked', message: `host key of ${name} is marked @revoked in ${knownHostsFile}` };
  }
  const forHost = entries.filter((e) => e.marker === undefined && entryMatchesHost(e, name));
  const match = forHost.find((e) => e.keyBase64 === presented);
  if (match) return { ok: true, line: match.line };
  if (forHost.length === 0) {
    const addKey = `add its key (ssh-keyscan -p ${port} ${host}, checked out of band)`;
    return { ok: false, reason: 'unknown-host', message: `${name} is not listed in ${knownHostsFile}; ${addKey}` };
  }
  return {
    ok: false,
    reason: 'key-mismatch',
    message:
      `host key of ${name} does not match ${knownHostsFile} line(s) ${forHost.map((e) => e.line).join(', ')}: ` +
      'the server changed its key or someone is in the middle; refusing to connect',
  };
}
