/**
 * The package root: plugin, config, worker and client helpers. Workflow code is under
 * the `cryoet-temporal/workflow` subpath.
 */
export { CryoEtPlugin, type CryoEtPluginOptions, workflowsPath } from './plugin.js';
export {
  loadConfig,
  parseConfig,
  formatConfigIssues,
  defaultConfigPath,
  type CryoConfig,
  type ConfigIssue,
} from './config.js';
export { createWorker, runWorker, type CryoWorker } from './worker.js';
export { temporalTarget, type TemporalTarget } from './connection.js';
export { connectClient, runClusterJob, workflowUiUrl } from './client.js';
export { createActivities, type CryoActivities } from './activities/index.js';
export { ErrorType, CryoError } from './errors.js';
export * from './search-attributes.js';
