/**
 * A real Temporal dev server plus a real worker with CryoEtPlugin on a unique task
 * queue, reaching the dev Slurm cluster over the dev sshd. One per test file.
 */
import {
  Runtime,
  DefaultLogger,
  Worker,
  makeTelemetryFilterString,
  type LogEntry,
  type RuntimeOptions,
} from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { CryoEtPlugin } from '../../src/plugin.js';
import type { CryoConfig } from '../../src/config.js';
import type { Placement, PlacementRung } from '../../src/slurm/placement.js';
import { shellJoin } from '../../src/shell/quote.js';
import { devConfig, startTemporal, uniqueId } from './env.js';

/** What a workflow test file needs. */
export interface WorkerHarness {
  readonly env: TestWorkflowEnvironment;
  readonly config: CryoConfig;
  readonly plugin: CryoEtPlugin;
  readonly taskQueue: string;
  /** Runs argv on the dev cluster's login node (SLURM_CONF is set there). */
  slurm(argv: string[]): Promise<string>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

/** What the SDK logs when a workflow activation fails (an unhandled rejection, nondeterminism). */
export const FAILING_WORKFLOW_TASK = /Failing workflow task/;

/** The lines of a worker's log that name a failed workflow task. */
export function failedWorkflowTaskLines(log: string): string[] {
  return log.split('\n').filter((line) => FAILING_WORKFLOW_TASK.test(line));
}

/** Log lines of this process's worker(s) that name a failed workflow task. */
const failedWorkflowTasks: string[] = [];

/** Logs at WARN, as before, and keeps every line that names a failed workflow task. */
const testLogger = new DefaultLogger('WARN', (entry: LogEntry) => {
  const line = `${entry.level} ${entry.message} ${entry.meta ? JSON.stringify(entry.meta).slice(0, 2000) : ''}`;
  if (FAILING_WORKFLOW_TASK.test(entry.message)) failedWorkflowTasks.push(line);
  process.stderr.write(`${line}\n`);
});

/** The SDK core's own warnings (where "Failing workflow task" is logged) go through testLogger. */
const forwardCoreLogs: NonNullable<RuntimeOptions['telemetryOptions']>['logging'] = {
  forward: {},
  filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }),
};

/** Installs this test process's runtime with options of its own (e.g. a metrics exporter); before the harness. */
export function installTestRuntime(options: Omit<RuntimeOptions, 'logger'>): void {
  Runtime.install({
    logger: testLogger,
    ...options,
    telemetryOptions: { logging: forwardCoreLogs, ...options.telemetryOptions },
  });
  runtimeInstalled = true;
}

/** Throws, listing them, if a worker of this process has failed a workflow task. */
export function assertNoFailedWorkflowTasks(): void {
  if (failedWorkflowTasks.length > 0)
    throw new Error(
      `a worker failed ${failedWorkflowTasks.length} workflow task(s):\n${failedWorkflowTasks.slice(0, 5).join('\n')}`,
    );
}

/** Starts the server and a worker; call stop() in `after`. */
export async function startWorkerHarness(overrides: Partial<CryoConfig> = {}): Promise<WorkerHarness> {
  if (!runtimeInstalled) installTestRuntime({});
  const [env, base] = await Promise.all([startTemporal(), devConfig()]);
  const config = { ...base, ...overrides };
  const plugin = new CryoEtPlugin({ config, log: () => {} });
  const taskQueue = uniqueId('tq');
  const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, plugins: [plugin] });
  const running = worker.run();
  return {
    env,
    config,
    plugin,
    taskQueue,
    async slurm(argv) {
      const r = await plugin.resources.pool.get('dev').exec(shellJoin(argv), { timeoutMs: 15_000 });
      if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
      return r.stdout;
    },
    async stop() {
      worker.shutdown();
      await running;
      await env.teardown();
      // Every suite on this harness fails if a workflow task failed on the way.
      assertNoFailedWorkflowTasks();
    },
  };
}

/** A dev-cluster rung. */
export const rung = (gres: string, partition = 'gpu'): PlacementRung => ({
  cluster: 'dev',
  partition,
  gres,
  timeScale: 1,
});

/** A placement over dev-cluster rungs. */
export function ladder(gres: string[], hangAfterMs = 3000, onExhausted: Placement['onExhausted'] = 'fail'): Placement {
  return { ladder: gres.map((g) => rung(g)), hangAfterMs, onExhausted };
}
