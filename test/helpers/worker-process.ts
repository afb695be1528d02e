/**
 * A worker in its own process (what an operator runs), for tests that stop or kill it:
 * its combined output, and how it exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { repoRoot, waitUntil } from './env.js';

/** A spawned worker process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `node <args>` in the repo (with `env` added) and waits until its output contains `readyText`. */
export async function spawnWorkerProcess(
  args: string[],
  readyText: string,
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  const child = spawn('node', args, {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let exitedEarly: string | undefined;
  void exited.then(({ code, signal }) => (exitedEarly = `exited ${code ?? signal} before it was ready:\n${output}`));
  await waitUntil(
    `the worker process to print "${readyText}"`,
    () => {
      // A worker that exits first (bad config, crash) fails the test at once, with its output.
      if (exitedEarly !== undefined && !output.includes(readyText)) throw new Error(`worker process ${exitedEarly}`);
      return output.includes(readyText) ? true : undefined;
    },
    120_000,
  );
  return { child, output: () => output, exited };
}
