/**
 * Every Slurm job of a chaos run, from squeue snapshots (ended jobs stay MinJobAge = 300 s)
 * cross-checked against slurmctld's log of accepted submissions.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { JOB_NAME_PREFIX } from '../../src/slurm/job-key.js';
import { DEV2, slurm2 } from './chaos-cluster.js';

/** One Slurm job as squeue showed it. */
export interface LedgerJob {
  readonly id: string;
  readonly name: string;
  readonly states: Set<string>;
  nodes: string;
  lastState: string;
}

/**
 * Every job dev2 knew during a run: squeue -t all snapshots every `everyMs` (finished jobs
 * stay MinJobAge = 300 s, far longer than between snapshots, so none is missed while the
 * controller is up; nothing is submitted while it is down), and slurmctld's own log of
 * each submission it accepted, from where the log stood at start().
 */
export class SlurmLedger {
  readonly jobs = new Map<string, LedgerJob>();
  #timer: NodeJS.Timeout | undefined;
  #logOffset = 0;
  #polling: Promise<void> | undefined;
  snapshots = 0;

  start(everyMs = 1000): void {
    const log = join(DEV2.dir, 'log', 'slurmctld.log');
    this.#logOffset = existsSync(log) ? statSync(log).size : 0;
    const tick = () => {
      this.#polling = this.poll().finally(() => {
        if (this.#timer !== undefined) this.#timer = setTimeout(tick, everyMs);
      });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
    await this.poll();
  }

  async poll(): Promise<void> {
    let out: string;
    try {
      out = await slurm2(['squeue', '-h', '-t', 'all', '-o', '%i|%j|%T|%N'], 15_000);
    } catch {
      return; // controller down: nothing can be submitted either
    }
    this.snapshots += 1;
    for (const line of out.split('\n')) {
      const [id, name, state, nodes] = line.trim().split('|');
      if (!id || !name || !state) continue;
      let job = this.jobs.get(id);
      if (!job) {
        job = { id, name, states: new Set(), nodes: nodes ?? '', lastState: state };
        this.jobs.set(id, job);
      }
      job.states.add(state);
      job.lastState = state;
      if (nodes) job.nodes = nodes;
    }
  }

  /** Jobs whose name carries `workflowIdPrefix` (a campaign id: all its steps). */
  of(workflowIdPrefix: string): LedgerJob[] {
    const prefix = `${JOB_NAME_PREFIX}${workflowIdPrefix.replaceAll('/', '.')}.`;
    return [...this.jobs.values()].filter((j) => j.name.startsWith(prefix)).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** Job ids slurmctld logged as accepted submissions since start(). */
  submittedIds(): string[] {
    const log = readFileSync(join(DEV2.dir, 'log', 'slurmctld.log'));
    return [
      ...log
        .subarray(this.#logOffset)
        .toString('utf8')
        .matchAll(/_slurm_rpc_submit_batch_job: JobId=(\d+)/g),
    ].map((m) => m[1]!);
  }
}

/** Job names with more than one job id: each is an attempt submitted twice. */
export function duplicateSubmissions(jobs: readonly LedgerJob[]): { name: string; ids: string[] }[] {
  const byName = new Map<string, string[]>();
  for (const j of jobs) byName.set(j.name, [...(byName.get(j.name) ?? []), j.id]);
  return [...byName.entries()].filter(([, ids]) => ids.length > 1).map(([name, ids]) => ({ name, ids }));
}
