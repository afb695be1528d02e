/**
 * Loopback ports for the servers the tests start, picked below the kernel's ephemeral range.
 *
 * A port picked inside that range (listen on port 0, then close) is free only for a moment:
 * any outgoing connection on the machine, or the Temporal dev server picking its own internal
 * ports the same way, can take it before the server binds it, and the server exits at start
 * (seen in CI: "bind: address already in use" on the dev server's HTTP port). Below the range
 * only a server that asks for that port by number can take it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The lowest port ours are picked from; the Slurm and SSH dev clusters sit below it. */
const LOWEST = 20_000;

/** Ports this process handed out: never handed out twice. */
const given = new Set<number>();

/** The lowest port of the kernel's ephemeral range (outgoing connections take theirs from it). */
export function ephemeralLow(): number {
  try {
    const low = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0];
    return Number(low) || 32_768;
  } catch {
    return 32_768;
  }
}

/** Whether 127.0.0.1:port can be bound now. */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free run of `count` loopback ports, from LOWEST up to the ephemeral range; its first port. */
export async function freeSpan(count: number): Promise<number> {
  const room = Math.max(ephemeralLow() - count - LOWEST, 1_000);
  for (let i = 0; i < 50; i++) {
    const base = LOWEST + Math.floor(Math.random() * room);
    const run = Array.from({ length: count }, (_, k) => base + k);
    if (run.some((p) => given.has(p))) continue;
    const free = await Promise.all(run.map(portFree));
    if (!free.every(Boolean)) continue;
    for (const p of run) given.add(p);
    return base;
  }
  throw new Error(`no free run of ${count} loopback ports from ${LOWEST} to ${ephemeralLow()}`);
}

/** A free TCP port on 127.0.0.1, below the ephemeral range. */
export function freePort(): Promise<number> {
  return freeSpan(1);
}
