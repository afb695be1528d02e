/**
 * Client helpers the CLI and the tests share: connect from temporal.yaml, start a
 * cluster job, and the Temporal UI link of a workflow.
 */
import { Client, Connection, WorkflowIdReusePolicy } from '@temporalio/client';
import type { CryoConfig } from './config.js';
import { temporalTarget } from './connection.js';
import { CryoCampaign } from './search-attributes.js';
import type { ClusterJobInput, ClusterJobResult } from './workflows/cluster-job.js';
import type { Placement } from './slurm/placement.js';
import type { CampaignInput } from './campaign/input.js';
import { placementRules } from './campaign/input.js';

/**
 * A connected client and its connection (close it when done). When the eager connect
 * fails with only "Failed to connect before the deadline" (grpc-js keeps the reason, e.g. a
 * TLS alert or a refused port, for the first call), one call on a lazy connection without
 * retries fetches the reason, and the error says both.
 */
export async function connectClient(config: CryoConfig): Promise<{ client: Client; close: () => Promise<void> }> {
  const target = temporalTarget(config);
  let connection: Connection;
  try {
    connection = await Connection.connect(target.connectionOptions);
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    if (!/before the deadline/i.test(message)) throw err;
    const reason = await firstCallError(target.connectionOptions);
    throw new Error(reason ? `${message}: ${reason}` : message, { cause: err });
  }
  const client = new Client({ connection, namespace: target.namespace });
  return { client, close: () => connection.close() };
}

/** The error of one call on a lazy connection with no retry interceptor, or undefined if it succeeds. */
async function firstCallError(
  options: ReturnType<typeof temporalTarget>['connectionOptions'],
): Promise<string | undefined> {
  const lazy = Connection.lazy({ ...options, interceptors: [] });
  try {
    await lazy.workflowService.getSystemInfo({});
    return undefined;
  } catch (err) {
    return ((err as { details?: string }).details || (err as Error).message || String(err)).trim();
  } finally {
    await lazy.close().catch(() => {});
  }
}

/** Link to a workflow in the Temporal UI. */
export function workflowUiUrl(config: CryoConfig, workflowId: string): string {
  const base = config.temporal.ui.replace(/\/+$/, '');
  const namespace = encodeURIComponent(temporalTarget(config).namespace);
  return `${base}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The placement ladder from temporal.yaml, as clusterJob takes it (copied into its history). */
export function placementFromConfig(config: CryoConfig): Placement {
  const p = config.placement;
  return { ladder: p.ladder, hangAfterMs: p.hangAfter, onExhausted: p.onExhausted, ...placementRules(config) };
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
    staticSummary: `${input.step}: ${input.command.join(' ').slice(0, 80)}`,
    staticDetails: [
      `command: ${input.command.join(' ')}`,
      'placement ladder:',
      ...input.placement.ladder.map((r, i) => `  ${i + 1}. ${r.cluster}/${r.partition} ${r.gres}`),
    ].join('\n'),
    typedSearchAttributes: [{ key: CryoCampaign, value: campaign }],
  });
}

/**
 * Starts a campaign workflow (id = input.id); the handle's result is the run record. The same
 * id while that campaign runs, or after it completed, is refused (WorkflowExecutionAlreadyStartedError):
 * a campaign never runs twice. Only a failed, cancelled or terminated one may be started again.
 */
export async function startCampaign(client: Client, config: CryoConfig, input: CampaignInput) {
  const { spec } = input;
  const refineLadder = input.placements.refine.ladder.map((r) => `${r.cluster}/${r.partition} ${r.gres}`).join(' → ');
  return client.workflow.start('campaign', {
    taskQueue: config.temporal.taskQueue,
    workflowId: input.id,
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    args: [input],
    staticSummary: `${spec.name} · ${spec.tiltSeries.length} tilt series · ${input.tools.profile} profile`,
    staticDetails: [
      `dataset: ${spec.dataset}`,
      `data: ${input.layout.dataDir}`,
      `campaign folder: ${input.layout.dir}`,
      `tilt series: ${spec.tiltSeries.map((ts) => ts.name).join(', ')}`,
      `refine: ${spec.refine.symmetry}, ${spec.refine.particleDiameter} Å, ini_high ${spec.refine.iniHigh} Å`,
      `refine ladder: ${refineLadder}`,
    ].join('\n'),
    typedSearchAttributes: [{ key: CryoCampaign, value: input.id }],
  });
}
