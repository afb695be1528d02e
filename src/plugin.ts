/**
 * CryoEtPlugin: registers cryoet-temporal's activities and workflows on a Worker, and
 * owns the worker-lifetime resources (SSH pool, status watchers), closing them when
 * the worker stops. Use the same plugin on `Worker.create({ plugins })` and
 * `new Client({ plugins })`.
 */
import { fileURLToPath } from 'node:url';
import { SimplePlugin } from '@temporalio/plugin';
import type { CryoConfig } from './config.js';
import { WorkerResources } from './worker-resources.js';
import { createActivities } from './activities/index.js';

/** Options of {@link CryoEtPlugin}. */
export interface CryoEtPluginOptions {
  /** A validated temporal.yaml (see `loadConfig`). */
  readonly config: CryoConfig;
  /** Where watcher and SSH warnings go; console.warn by default. */
  readonly log?: (message: string) => void;
  /** A prebuilt workflow bundle (see `prebuiltWorkflowBundle`); otherwise the worker bundles at start. */
  readonly workflowBundlePath?: string;
}

/** Path of the sandbox-safe workflow entry (`cryoet-temporal/workflow`). */
export const workflowsPath = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

/** The cryoet-temporal plugin. */
export class CryoEtPlugin extends SimplePlugin {
  /** Per-worker resources; exposed for tests and diagnostics. */
  readonly resources: WorkerResources;

  constructor(options: CryoEtPluginOptions) {
    const resources = new WorkerResources(options.config, options.log);
    super({
      name: 'cryoet-temporal',
      // Add ours to whatever activities the user registered; never replace theirs.
      activities: (existing) => ({ ...(existing as object | undefined), ...createActivities(resources) }),
      // A user with their own workflowsPath re-exports ours from `cryoet-temporal/workflow`.
      ...(options.workflowBundlePath
        ? { workflowBundle: (existing) => existing ?? { codePath: options.workflowBundlePath! } }
        : { workflowsPath: (existing) => existing ?? workflowsPath }),
      runContext: async (next) => {
        try {
          await next();
        } finally {
          resources.close();
        }
      },
    });
    this.resources = resources;
  }
}
