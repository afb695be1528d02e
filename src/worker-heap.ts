/**
 * V8 heap settings for a long-lived `cryoet worker`. Applied before the worker starts its
 * workflow thread, so that thread's heap (where every workflow activation runs) is sized by
 * them; the main thread's heap takes them from then on.
 *
 * Why: a worker runs two V8 heaps (main thread: activities, SSH, the Slurm watcher; the
 * workflow thread). With V8's defaults for a throughput server (16 MB semi-spaces, heap
 * growth ahead of need) both grew to 90–130 MB while 500 tilt series (1005 workflows)
 * started and finished together, and the worker's RSS peaked at 440–520 MB. With these
 * flags both stayed at 33–61 MB (peak 298 MB); with bin/cryoet's MALLOC_ARENA_MAX=2 as
 * well, 243–252 MB, at the same orchestration overhead per job (bench/peers.bench.ts,
 * scale 500; BENCHMARKS.md).
 *
 * CRYOET_WORKER_V8_FLAGS replaces the flags ("" keeps V8's defaults).
 */
import v8 from 'node:v8';

export const WORKER_V8_FLAGS = '--optimize-for-size --max-semi-space-size=1';

/** The flags this process will apply: CRYOET_WORKER_V8_FLAGS when set, else ours. */
export function workerV8Flags(env: NodeJS.ProcessEnv = process.env): string {
  return (env.CRYOET_WORKER_V8_FLAGS ?? WORKER_V8_FLAGS).trim();
}

/** Sets them on this process's V8; returns what was set ('' for nothing). */
export function applyWorkerV8Flags(env: NodeJS.ProcessEnv = process.env): string {
  const flags = workerV8Flags(env);
  if (flags) v8.setFlagsFromString(flags);
  return flags;
}
