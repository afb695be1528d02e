/**
 * cryoet relax (a hung step to its next rung, by an operator) and cryoet approve (the
 * picks gate before extraction).
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { approvePicksUpdate, relaxUpdate, type ApprovePicksRequest } from '../workflows/operations.js';
import { CliError, ExitCode, oneLine } from './errors.js';
import {
  bounded,
  currentUser,
  describeCampaign,
  isRunning,
  printJson,
  withSession,
  type CommonOptions,
  type JsonOption,
} from './session.js';
import { queryStatus, visibleStage } from './describe.js';

export interface RelaxOptions extends CommonOptions, JsonOption {
  readonly timeout: number;
}

export async function relax(id: string, step: string, opts: RelaxOptions): Promise<void> {
  await withSession(
    opts,
    async (session) => {
      const { handle, description: d } = await describeCampaign(session, id);
      if (!isRunning(d))
        throw new CliError(ExitCode.Failed, `campaign ${id} is closed (${d.status.name}): nothing to relax`);
      const s = await queryStatus(session, handle, d, opts.timeout);
      // A key of status.running (refine, TS_03), or the child workflow id itself.
      const childId = s.running[step] ?? Object.values(s.running).find((wf) => wf === step);
      if (childId === undefined) {
        const now = Object.keys(s.running);
        const nowText = now.length ? now.join(', ') : 'nothing';
        throw new CliError(
          ExitCode.Failed,
          `campaign ${id} is not running ${JSON.stringify(step)}; running now: ${nowText}`,
        );
      }
      const reason = `cryoet relax by ${currentUser()}`;
      let result;
      try {
        result = await bounded(session, opts.timeout, `relax update to ${childId}`, d.taskQueue, () =>
          session.client.workflow.getHandle(childId).executeUpdate(relaxUpdate, { args: [{ reason }] }),
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError)
          throw new CliError(ExitCode.Failed, `relax ${step} refused: ${err.cause ? oneLine(err.cause) : err.message}`);
        throw err;
      }
      if (opts.json) printJson({ id, step, workflowId: childId, ...result });
      else
        console.log(
          `relaxed ${step}: cancelled pending job ${result.cancelledJobId}, ` +
            `resubmitted on rung ${result.toRung + 1}: ${result.toRungDescription}`,
        );
    },
    { workflowId: id },
  );
}

export interface ApproveOptions extends CommonOptions, JsonOption {
  readonly reject?: boolean;
  readonly comment?: string;
  readonly timeout: number;
}

export async function approve(id: string, opts: ApproveOptions): Promise<void> {
  await withSession(
    opts,
    async (session) => {
      const { handle, description: d } = await describeCampaign(session, id);
      if (!isRunning(d))
        throw new CliError(ExitCode.Failed, `campaign ${id} is closed (${d.status.name}): no picks to approve`);
      const request: ApprovePicksRequest = {
        approve: !opts.reject,
        by: currentUser(),
        ...(opts.comment === undefined ? {} : { comment: opts.comment }),
      };
      let result;
      try {
        result = await bounded(
          session,
          opts.timeout,
          `approvePicks update to ${id}${visibleStage(d)}`,
          d.taskQueue,
          () => handle.executeUpdate(approvePicksUpdate, { args: [request] }),
          ' The request stays queued on the server and may still be delivered when a worker picks up the campaign.',
        );
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError)
          throw new CliError(ExitCode.Failed, `approvePicks refused: ${err.cause ? oneLine(err.cause) : err.message}`);
        throw err;
      }
      if (opts.json) printJson({ id, ...request, accepted: result.accepted });
      else if (request.approve) console.log(`picks approved for ${id} by ${request.by}: extraction goes ahead`);
      else {
        const comment = request.comment ? ` (${request.comment})` : '';
        console.log(`picks rejected for ${id} by ${request.by}${comment}: the campaign ends as failed`);
      }
    },
    { workflowId: id },
  );
}
