/**
 * Builds a Worker from temporal.yaml and the plugin. Run directly
 * (`tsx src/worker.ts [temporal.yaml]` or `cryoet worker`) it serves the task queue
 * until SIGINT/SIGTERM: the SDK's default shutdown signals stop polling, in-flight
 * activities get `shutdownGraceTime` to finish, longer ones are cancelled (they
 * heartbeat-fail cleanly and retry on the next worker), then SSH links close.
 */
import { pathToFileURL } from 'node:url';
import { NativeConnection, Runtime, Worker, type LogLevel, type WorkerOptions } from '@temporalio/worker';
import { defaultConfigPath, loadConfig, type CryoConfig } from './config.js';
import { temporalTarget } from './connection.js';
import { requireAttributes } from './namespace-setup.js';
import { connectClient } from './client.js';
import { CryoEtPlugin } from './plugin.js';
import { prebuiltWorkflowBundle } from './workflow-bundle.js';
import { applyWorkerV8Flags } from './worker-heap.js';
import { conciseLogger, logLevelFromEnv } from './worker-log.js';
import proto from '@temporalio/proto';
import { activeWorkers } from './scheduler/share.js';

/** A worker with its connection and plugin, ready to `run()`. */
export interface CryoWorker {
  readonly worker: Worker;
  readonly connection: NativeConnection;
  readonly plugin: CryoEtPlugin;
}

/** Creates (does not run) a worker for the config's task queue. */
export async function createWorker(config: CryoConfig, overrides: Partial<WorkerOptions> = {}): Promise<CryoWorker> {
  const target = temporalTarget(config);
  const connection = await NativeConnection.connect(target.connectionOptions);
  const plugin = new CryoEtPlugin({ config, workflowBundlePath: await prebuiltWorkflowBundle() });
  try {
    const worker = await Worker.create({
      connection,
      namespace: target.namespace,
      taskQueue: target.taskQueue,
      plugins: [plugin],
      shutdownGraceTime: config.timeouts.workerShutdownGrace,
      // Each watched job holds one watchJob activity that mostly awaits the shared watcher:
      // cheap, so allow many (the SDK default of 100 would cap a worker at 100 jobs).
      maxConcurrentActivityTaskExecutions: 1000,
      // A watched job's workflow waits on one long activity; evicted ones replay their short
      // history when their job changes. Measured with 500 watched jobs, steady state: 20
      // cached → 300 MB RSS, 100 cached → 348 MB (bench/cluster-job.bench.ts).
      maxCachedWorkflows: 20,
      ...overrides,
    });
    if (config.polling.shareAcrossWorkers)
      plugin.resources.shareWith(() => workersOnQueue(connection, target.namespace, target.taskQueue));
    return { worker, connection, plugin };
  } catch (err) {
    await connection.close();
    throw err;
  }
}

/**
 * Installs the process's Temporal runtime: its log level and, when temporal.yaml has
 * `metrics.prometheus`, the Prometheus exporter on that loopback address (SDK metrics and
 * the plugin's `cryoet_*`). Call once, before the first connection.
 */
export function installRuntime(config: CryoConfig, logLevel: LogLevel = 'INFO'): void {
  const bindAddress = config.metrics.prometheus;
  Runtime.install({
    logger: conciseLogger(logLevelFromEnv(logLevel)),
    ...(bindAddress
      ? {
          telemetryOptions: {
            metrics: { prometheus: { bindAddress, countersTotalSuffix: true, useSecondsForDurations: true } },
          },
        }
      : {}),
  });
}

/** The workers polling the queue's activity tasks now (this one included once it polls). */
async function workersOnQueue(connection: NativeConnection, namespace: string, taskQueue: string): Promise<number> {
  const described = await connection.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: taskQueue, kind: proto.temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return activeWorkers(described.pollers ?? [], Date.now());
}

/** Loads the config (bad config never starts a worker), then runs until a shutdown signal. */
export async function runWorker(configFile: string): Promise<void> {
  const config = await loadConfig(configFile);
  // Before the workflow thread exists: its heap is sized when it starts.
  const v8Flags = applyWorkerV8Flags();
  installRuntime(config);
  if (config.metrics.prometheus)
    console.log(`cryoet worker: Prometheus metrics on http://${config.metrics.prometheus}/metrics`);
  const target = temporalTarget(config);
  // Before any worker exists: a namespace without our search attributes would fail every
  // workflow task, so stop now, naming cryoet setup.
  const checked = await connectClient(config);
  try {
    await requireAttributes(checked.client.connection.operatorService, target.namespace, configFile);
  } finally {
    await checked.close();
  }
  const { worker, connection } = await createWorker(config);
  const v8 = v8Flags ? `; V8 ${v8Flags}` : '';
  console.log(
    `cryoet worker: task queue "${target.taskQueue}" on ${target.connectionOptions.address} (${target.namespace})${v8}`,
  );
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
  console.log('cryoet worker: stopped');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runWorker(process.argv[2] ?? defaultConfigPath()).catch((err: Error) => {
    console.error(err.message);
    process.exitCode = err.name === 'ConfigInvalid' ? 2 : 1;
  });
}
