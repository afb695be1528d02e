/**
 * Client helpers the CLI and the tests share: connect from temporal.yaml, start a
 * cluster job, and the Temporal UI link of a workflow.
 */
import { Client, Connection } from '@temporalio/client';
import type { CryoConfig } from './config.js';
import { temporalTarget } from './connection.js';
import { CryoCampaign } from './search-attributes.js';
import type { ClusterJobInput, ClusterJobResult } from './workflows/cluster-job.js';

/** A connected client and its connection (close it when done). */
export async function connectClient(config: CryoConfig): Promise<{ client: Client; close: () => Promise<void> }> {
  const target = temporalTarget(config);
  const connection = await Connection.connect(target.connectionOptions);
  const client = new Client({ connection, namespace: target.namespace });
  return { client, close: () => connection.close() };
}

/** Link to a workflow in the Temporal UI. */
export function workflowUiUrl(config: CryoConfig, workflowId: string): string {
  const base = config.temporal.ui.replace(/\/+$/, '');
  return `${base}/namespaces/${encodeURIComponent(temporalTarget(config).namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Runs one clusterJob workflow to its end. */
export async function runClusterJob(
  client: Client,
  config: CryoConfig,
  workflowId: string,
  input: ClusterJobInput,
  campaign = 'adhoc',
): Promise<ClusterJobResult> {
  return client.workflow.execute('clusterJob', {
    taskQueue: config.temporal.taskQueue,
    workflowId,
    args: [input],
    staticSummary: `${input.step} on cluster ${input.cluster}`,
    staticDetails: `command: ${input.command.join(' ')}\npartition: ${input.partition}\ngres: ${input.gres ?? 'none'}`,
    typedSearchAttributes: [{ key: CryoCampaign, value: campaign }],
  });
}
