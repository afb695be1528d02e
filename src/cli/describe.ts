/**
 * What the campaign commands read of a workflow: the Temporal UI's address and links, the
 * stage and cancellation its description carries, and its status query (bounded).
 */
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import type { CryoConfig } from '../config.js';
import { workflowUiUrl } from '../client.js';
import { CryoStage } from '../search-attributes.js';
import type { CampaignCancellation, CampaignStatus } from '../model/campaign-status.js';
import { campaignStatusQuery } from '../workflows/operations.js';
import { CliError, ExitCode } from './errors.js';
import { bounded, type Session } from './session.js';

/** The Temporal UI base: --ui, else $CRYOET_UI, else temporal.yaml `temporal.ui`. */
export function uiBase(config: CryoConfig, flag?: string): string {
  const fromEnv = process.env['CRYOET_UI']?.trim() || undefined; // empty = unset
  const base = flag ?? fromEnv ?? config.temporal.ui;
  const source = flag !== undefined ? '--ui' : fromEnv !== undefined ? 'CRYOET_UI' : 'temporal.yaml temporal.ui';
  let url: URL | undefined;
  try {
    url = new URL(base);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new CliError(
      ExitCode.Usage,
      `${source}: expected an http(s) URL such as http://127.0.0.1:8233, got ${JSON.stringify(base)}`,
    );
  }
  return base;
}

/** Link to a workflow in the Temporal UI under `base`. */
export function uiLink(config: CryoConfig, id: string, base: string): string {
  return workflowUiUrl({ ...config, temporal: { ...config.temporal, ui: base } }, id);
}

/** ` (stage refine)` from the search attributes (known without a worker), or ''. */
export function visibleStage(d: WorkflowExecutionDescription): string {
  const stage = d.typedSearchAttributes.get(CryoStage);
  return stage === undefined ? '' : ` (stage ${stage})`;
}

/** A cancelled campaign's record of what its cancel stopped (its memo), if any. */
export function cancellationOf(d: WorkflowExecutionDescription): CampaignCancellation | undefined {
  const c = d.memo?.['cancellation'];
  return c !== null && typeof c === 'object' ? (c as CampaignCancellation) : undefined;
}

/** Queries the live status of a running campaign, bounded by `ms`. */
export async function queryStatus(
  session: Session,
  handle: WorkflowHandle,
  d: WorkflowExecutionDescription,
  ms: number,
): Promise<CampaignStatus> {
  return bounded(session, ms, `status query to ${handle.workflowId}${visibleStage(d)}`, d.taskQueue, () =>
    handle.query(campaignStatusQuery),
  );
}
