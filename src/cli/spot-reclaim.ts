/**
 * A FAKE spot reclaim for the embedded cluster (no cloud here to take a GPU away): once a
 * campaign's refine has written `atIteration` complete iterations, set the node under the
 * refine job DOWN with reason `spot-reclaim` — what a cloud plugin does when the spot
 * instance goes — and bring it back once the job runs again elsewhere. Used by the demo and
 * the campaign test; talks to Slurm over the same SSH pool as the worker.
 */
import type { SshPool } from '../ssh/pool.js';
import { shellJoin } from '../shell/quote.js';
import { JOB_NAME_PREFIX } from '../slurm/job-key.js';
import { refineProgress, type RelionGeneration } from '../tools/refine-iterations.js';

export interface ReclaimReport {
  readonly node: string;
  readonly jobId: string;
  /** Newest complete iteration when the node went down. */
  readonly iteration: number;
  /** Node DOWN → the refine running again on another node. */
  readonly backMs: number;
  readonly newNode: string;
}

interface Options {
  readonly pool: SshPool;
  readonly cluster: string;
  readonly campaignId: string;
  readonly campaignDir: string;
  readonly atIteration: number;
  /** Which RELION writes the refine folder (its iteration files differ); default 3.1. */
  readonly relion?: RelionGeneration;
  readonly timeoutMs: number;
  readonly log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Sets the refine's node DOWN at `atIteration` and waits for the refine to run again elsewhere.
 * A probe that fails (squeue or the SSH call timing out on a loaded head node, a dropped
 * connection) tells nothing this round and is tried again on the next; only the deadline ends
 * the wait, and its error names the last failed probe.
 */
export async function reclaimDuringRefine(o: Options): Promise<ReclaimReport> {
  const conn = o.pool.get(o.cluster);
  let lastFailure = '';
  const run = async (argv: string[]) => {
    const r = await conn.exec(shellJoin(argv), { timeoutMs: 15_000 });
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  /** `f`'s result, or undefined when it failed (remembered for the deadline's error). */
  const probe = async <T>(f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (err) {
      lastFailure = (err as Error).message;
      return undefined;
    }
  };
  const deadline = Date.now() + o.timeoutMs;
  const checkDeadline = (what: string) => {
    if (Date.now() <= deadline) return;
    throw new Error(`spot reclaim: ${what}${lastFailure ? ` (last failed probe: ${lastFailure})` : ''}`);
  };
  const prefix = `${JOB_NAME_PREFIX}${o.campaignId.replaceAll('/', '.')}.refine.`;
  const runningRefine = async (): Promise<{ jobId: string; node: string } | undefined> => {
    const out = await probe(() => run(['squeue', '-h', '-t', 'RUNNING', '-o', '%i|%j|%N']));
    for (const line of (out ?? '').trim().split('\n')) {
      const [jobId, name, node] = line.split('|');
      if (name?.startsWith(prefix) && node) return { jobId: jobId!, node };
    }
    return undefined;
  };
  for (;;) {
    checkDeadline(`the refine never reached iteration ${o.atIteration}`);
    const job = await runningRefine();
    // Not created yet, or the probe failed: either way, nothing to act on this round.
    const names = job ? await probe(() => conn.listDir(`${o.campaignDir}/Refine3D`)) : undefined;
    if (job && names) {
      const progress = refineProgress(names, 'run', o.relion);
      if (progress.finished) throw new Error('spot reclaim: the refine finished before the reclaim');
      const down = ['scontrol', 'update', `NodeName=${job.node}`, 'State=DOWN', 'Reason=spot-reclaim'];
      if ((progress.newestComplete ?? -1) >= o.atIteration && (await probe(() => run(down))) !== undefined) {
        const downAt = Date.now();
        o.log?.(
          `FAKE spot reclaim: node ${job.node} DOWN under refine job ${job.jobId}` +
            ` at iteration ${progress.newestComplete}`,
        );
        try {
          for (;;) {
            checkDeadline('the refine did not run again');
            const again = await runningRefine();
            if (again && again.jobId !== job.jobId) {
              const after = `after ${((Date.now() - downAt) / 1000).toFixed(1)} s`;
              o.log?.(`refine running again as job ${again.jobId} on ${again.node} ${after}`);
              return {
                node: job.node,
                jobId: job.jobId,
                iteration: progress.newestComplete!,
                backMs: Date.now() - downAt,
                newNode: again.node,
              };
            }
            await sleep(250);
          }
        } finally {
          await resume(job.node);
        }
      }
    }
    await sleep(300);
  }

  /** Brings the node back; tried three times, as a probe can fail on a loaded head node. */
  async function resume(node: string): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await run(['scontrol', 'update', `NodeName=${node}`, 'State=RESUME']);
        return;
      } catch (err) {
        if (i === 2) throw err;
        await sleep(1000);
      }
    }
  }
}
