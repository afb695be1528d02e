/**
 * The workflow entry point (the `cryoet-temporal/workflow` subpath and the plugin's
 * workflowsPath). Re-exports sandbox-safe workflow code only.
 */
export { clusterJob, type ClusterJobInput, type ClusterJobResult } from './cluster-job.js';
