/**
 * How a closed campaign ended, as the campaign commands show it: its run record (the
 * workflow result), or the failure without the client's wrapper ("picks rejected by bob",
 * "Workflow canceled", the terminate reason).
 */
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { RunRecord } from '../model/campaign-status.js';
import { oneLine } from './errors.js';

/** The message of a failed, cancelled or terminated workflow (without the client's wrapper). */
export function failureMessage(err: unknown): string {
  if (err instanceof WorkflowFailedError) return err.cause ? oneLine(err.cause) : err.message;
  return oneLine(err);
}

/** The run record of a closed campaign, or why there is none. Other errors are thrown. */
export async function closedOutcome(handle: WorkflowHandle): Promise<{ record?: RunRecord; failure?: string }> {
  try {
    return { record: (await handle.result()) as RunRecord };
  } catch (err) {
    if (err instanceof WorkflowFailedError) return { failure: failureMessage(err) };
    throw err;
  }
}
