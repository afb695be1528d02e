/**
 * Which TCP addresses a process listens on, read from /proc the way `ss -ltnp` does:
 * LISTEN rows of /proc/net/tcp and /proc/net/tcp6 (address, port, socket inode), and
 * each process's open fds (`socket:[inode]`) to tie an inode to a pid. Linux only.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** One listening TCP socket. */
export interface ListeningSocket {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  readonly inode: number;
}

const LISTEN = '0A';

/** `0100007F` (little-endian 32-bit words) → `127.0.0.1`. */
function ipv4(hex: string): string {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
}

/** 32 hex chars, four little-endian 32-bit words → compressed IPv6 (`::`, `::1`, `::ffff:127.0.0.1`). */
function ipv6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++)
    for (const i of [6, 4, 2, 0]) bytes.push(parseInt(hex.slice(w * 8 + i, w * 8 + i + 2), 16));
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join('.')}`;
  const groups = Array.from({ length: 8 }, (_, g) => ((bytes[2 * g]! << 8) | bytes[2 * g + 1]!).toString(16));
  // Longest run of zero groups → `::`.
  let best = { start: -1, length: 0 };
  for (let g = 0; g < 8;) {
    if (groups[g] !== '0') {
      g++;
      continue;
    }
    let end = g;
    while (end < 8 && groups[end] === '0') end++;
    if (end - g > best.length) best = { start: g, length: end - g };
    g = end;
  }
  if (best.length < 2) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.length).join(':')}`;
}

/** Every LISTEN socket in this network namespace, by inode. */
export function listeningByInode(): Map<number, ListeningSocket> {
  const out = new Map<number, ListeningSocket>();
  for (const [file, family] of [
    ['/proc/net/tcp', 4],
    ['/proc/net/tcp6', 6],
  ] as const) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== LISTEN) continue;
      const [addr, port] = f[1]!.split(':') as [string, string];
      const inode = Number(f[9]);
      out.set(inode, { address: family === 4 ? ipv4(addr) : ipv6(addr), port: parseInt(port, 16), family, inode });
    }
  }
  return out;
}

/** Socket inodes among a process's open fds (empty if it is gone or unreadable). */
function socketInodes(pid: number): number[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const inodes: number[] = [];
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.push(Number(m[1]));
    } catch {
      // closed while we looked
    }
  }
  return inodes;
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** The TCP sockets `pid` (and, with `tree`, its descendants) listen on, sorted by port. */
export function listeningSockets(pid: number, tree = true): ListeningSocket[] {
  const all = listeningByInode();
  const mine = new Map<number, ListeningSocket>();
  for (const p of tree ? processTree(pid) : [pid]) {
    for (const inode of socketInodes(p)) {
      const s = all.get(inode);
      if (s) mine.set(inode, s);
    }
  }
  return [...mine.values()].sort((a, b) => a.port - b.port);
}

/** The pid of the process listening on `port` (any address), if one of ours can be seen. */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set([...listeningByInode().values()].filter((s) => s.port === port).map((s) => s.inode));
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (socketInodes(Number(entry)).some((i) => inodes.has(i))) return Number(entry);
  }
  return undefined;
}

/** 127.0.0.0/8, ::1 or an IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./.test(address);
}

/** `127.0.0.1:2222` / `[::1]:7233`. */
export function describeSocket(s: ListeningSocket): string {
  return s.family === 6 ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;
}

/** When a process started, in epoch ms (from /proc/<pid>/stat and the boot time; ±1 s). */
export function processStartMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
  return btime * 1000 + (startTicks * 1000) / 100; // USER_HZ is 100 on Linux
}
