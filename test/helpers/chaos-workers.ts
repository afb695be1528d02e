/**
 * Chaos workers: dev2's temporal.yaml, worker processes (test/fixtures/chaos-worker.ts) that
 * SIGKILL themselves at a planned activity, and a supervisor that starts the next one when one dies.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from './env.js';
import { spawnWorkerProcess, type WorkerProcess } from './worker-process.js';
import { failedWorkflowTaskLines } from './worker.js';
import { track, DEV2, waitFor } from './chaos-cluster.js';

export interface Dev2ConfigOptions {
  readonly port: number;
  readonly taskQueue: string;
  /** paths.work (campaign folders); default dev2's work/campaigns. */
  readonly work?: string;
  /** Where the file goes. */
  readonly dir: string;
  /** tools.aretomo2; default the CPU stand-in. */
  readonly aretomo2?: string;
}

/**
 * A temporal.yaml whose only cluster is dev2: the refine on any 2 GPUs then 1 (three MPI
 * ranks either way: two cores here), every other step on 1 GPU, hangs only after 10 min
 * (chaos here is not capacity), fast polling.
 */
export function writeDev2Config(o: Dev2ConfigOptions): string {
  const d = DEV2.dir;
  const ssh =
    `{ host: 127.0.0.1, port: ${DEV2.sshPort}, user: root, keyFile: "${d}/ssh/id_ed25519", ` +
    `knownHostsFile: "${d}/ssh/known_hosts", connectTimeout: 10s, commandTimeout: 60s }`;
  const text = `# Written by test/helpers/chaos.ts: campaigns on the second dev cluster only.
temporal: { address: "127.0.0.1:${o.port}", namespace: default, taskQueue: "${o.taskQueue}" }
clusters:
  dev2:
    ssh: ${ssh}
    partitions: [gpu]
    workDir: "${d}/work"
    maxStatusCallsPerMinute: 120
placement:
  hangAfter: 10m
  ladder:
    - { partition: gpu, gres: "gpu:2" }
    - { partition: gpu, gres: "gpu:1", timeScale: 2 }
  stages:
    probe:       { ladder: [{ partition: gpu, gres: "gpu:1" }] }
    reconstruct: { ladder: [{ partition: gpu, gres: "gpu:1" }] }
    extract:     { ladder: [{ partition: gpu, gres: "gpu:1" }] }
    postprocess: { ladder: [{ partition: gpu, gres: "gpu:1" }] }
gpuPrices: { t4: 0.3375, default: 0.4 }
tools:
  profile: embedded
  aretomo2: "${o.aretomo2 ?? `${repoRoot}/embedded/aretomo2_standin.py`}"
  probeArgs: [--version]
  mpirun: [mpirun, --allow-run-as-root, --oversubscribe]
  threads: 1
paths: { data: "${d}/data", work: "${o.work ?? `${d}/work/campaigns`}" }
polling: { interval: 300ms, maxInterval: 2s }
timeouts: { workerShutdownGrace: 2s }
`;
  mkdirSync(o.dir, { recursive: true });
  const file = join(o.dir, 'temporal.yaml');
  writeFileSync(file, text);
  return file;
}

/** Where a chaos worker kills itself: at the start or the end of the first matching activity. */
export interface DiePlan {
  readonly label: string;
  readonly when: 'start' | 'end';
  readonly activity: string;
  /** A substring the activity's JSON arguments must contain (e.g. a job key). */
  readonly match?: string;
}

/** A worker process (test/fixtures/chaos-worker.ts) that dies as planned, if given a plan. */
export async function spawnChaosWorker(configFile: string, plan?: DiePlan): Promise<WorkerProcess> {
  const env: Record<string, string> = plan ? { CRYOET_CHAOS_DIE: JSON.stringify(plan) } : {};
  return spawnWorkerProcess(
    ['--import', 'tsx', join(repoRoot, 'test/fixtures/chaos-worker.ts'), configFile],
    'chaos-worker: polling',
    env,
  );
}

/** One worker's life under the supervisor. */
export interface WorkerLife {
  readonly plan?: DiePlan;
  /** The campaign's stage when it died (set by the supervisor's onDeath). */
  stage?: string;
  readonly startedAt: number;
  endedAt?: number;
  /** 'plan' (died at its planned activity), 'killed' (by the test), 'exit' (on its own), 'stopped'. */
  end?: 'plan' | 'killed' | 'exit' | 'stopped';
  output: string;
}

/**
 * Keeps one chaos worker running: when it dies, starts the next, with the first plan not
 * yet carried out. `killCurrent()` SIGKILLs the running one from outside (mid-job).
 */
export class WorkerSupervisor {
  readonly lives: WorkerLife[] = [];
  #current: { worker: WorkerProcess; life: WorkerLife } | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #externalKill = false;

  constructor(
    readonly configFile: string,
    readonly plans: DiePlan[],
    /** Called after a worker died, before the next starts (e.g. to read the campaign's stage). */
    readonly onDeath: (life: WorkerLife) => Promise<void> = async () => {},
  ) {}

  /** Plans carried out so far, by label. */
  get done(): string[] {
    return this.lives.filter((l) => l.end === 'plan').map((l) => l.plan!.label);
  }

  start(): void {
    this.#loop = this.#run();
    this.#loop.catch(() => undefined);
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const plan = this.plans.find((p) => !this.done.includes(p.label));
      const life: WorkerLife = { ...(plan ? { plan } : {}), startedAt: Date.now(), output: '' };
      this.lives.push(life);
      let worker: WorkerProcess;
      try {
        worker = await spawnChaosWorker(this.configFile, plan);
        track(worker.child);
      } catch (err) {
        // E.g. the Temporal server is down right now: try again shortly.
        life.endedAt = Date.now();
        life.end = 'exit';
        life.output = (err as Error).message;
        await sleep(1000);
        continue;
      }
      this.#current = { worker, life };
      const { signal } = await worker.exited;
      life.endedAt = Date.now();
      life.output = worker.output();
      life.end = this.#externalKill
        ? 'killed'
        : this.#stopped
          ? 'stopped'
          : signal === 'SIGKILL' && plan && worker.output().includes('chaos-worker: SIGKILL')
            ? 'plan'
            : 'exit';
      this.#externalKill = false;
      this.#current = undefined;
      if (!this.#stopped) await this.onDeath(life).catch(() => undefined);
    }
  }

  /** Waits until a worker is up and SIGKILLs it; the supervisor starts the next. */
  async killCurrent(): Promise<void> {
    await waitFor('a worker to kill', () => this.#current !== undefined, 180_000);
    this.#externalKill = true;
    this.#current!.worker.child.kill('SIGKILL');
    await this.#current?.worker.exited;
  }

  /** The pid of the running worker, if one runs. */
  get pid(): number | undefined {
    return this.#current?.worker.child.pid;
  }

  /** SIGKILLs the running worker and starts no other: the worker is gone for good. */
  async killForGood(): Promise<void> {
    this.#stopped = true;
    const current = this.#current;
    if (current) {
      this.#externalKill = true;
      current.worker.child.kill('SIGKILL');
      await current.worker.exited;
    }
    await this.#loop;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const current = this.#current;
    if (current) {
      current.worker.child.kill('SIGTERM');
      const done = await Promise.race([current.worker.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) current.worker.child.kill('SIGKILL');
    }
    await this.#loop;
  }

  /**
   * Throws if any worker of this run failed a workflow task (an unhandled rejection,
   * nondeterminism: the SDK core logs it to the worker's stderr). Last in `after`.
   */
  assertNoFailedWorkflowTasks(): void {
    const lines = this.lives.flatMap((l) => failedWorkflowTaskLines(l.output));
    if (lines.length > 0)
      throw new Error(`a worker of this run failed ${lines.length} workflow task(s):\n${lines.slice(0, 5).join('\n')}`);
  }
}
