/**
 * cryoet cancel: a campaign or one of its steps, and everything running under it; waits
 * until every Slurm job it ran has stopped, and says which.
 */
import type { WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { CryoSlurmJobId } from '../search-attributes.js';
import { CliError, ExitCode, oneLine } from './errors.js';
import {
  currentUser,
  describeWorkflow,
  isRunning,
  printJson,
  withSession,
  type CommonOptions,
  type JsonOption,
  type Session,
} from './session.js';
import { cancellationLines } from './tables.js';
import { cancellationOf, queryStatus } from './describe.js';

/** What `cancel` takes: a campaign, or one of its steps. */
const CANCELLABLE: ReadonlySet<string> = new Set(['campaign', 'clusterJob', 'tiltSeries']);

export interface CancelOptions extends CommonOptions, JsonOption {
  readonly timeout: number;
  readonly terminate?: boolean;
}

/** What runs under a campaign: its status query's `running`, else open children from visibility. */
async function runningUnder(
  session: Session,
  handle: WorkflowHandle,
  d: WorkflowExecutionDescription,
  ms: number,
): Promise<{ running: Record<string, string>; source: string }> {
  try {
    const s = await queryStatus(session, handle, d, ms);
    return { running: s.running, source: 'status query' };
  } catch (err) {
    // No worker answered: the children still show in visibility (CryoCampaign = id).
    const quotedId = JSON.stringify(handle.workflowId);
    const query = `CryoCampaign = ${quotedId} AND ExecutionStatus = 'Running' AND WorkflowId != ${quotedId}`;
    const running: Record<string, string> = {};
    try {
      for await (const info of session.client.workflow.list({ query })) {
        running[
          info.workflowId.startsWith(`${handle.workflowId}/`)
            ? info.workflowId.slice(handle.workflowId.length + 1)
            : info.workflowId
        ] = info.workflowId;
      }
    } catch {
      return { running, source: `unknown (${oneLine(err)})` };
    }
    return { running, source: 'visibility (no worker answered the status query)' };
  }
}

export async function cancel(id: string, opts: CancelOptions): Promise<void> {
  await withSession(
    opts,
    async (session) => {
      const { handle, description: d } = await describeWorkflow(session, id);
      // A campaign, or one step of it (`<id>/refine`, `<id>/TS_01`): its Slurm job is cancelled too.
      if (!CANCELLABLE.has(d.type))
        throw new CliError(
          ExitCode.Usage,
          `workflow ${JSON.stringify(id)} is a ${d.type} workflow: expected a campaign or one of its steps`,
        );
      const what = d.type === 'campaign' ? 'campaign' : 'step';
      if (!isRunning(d))
        throw new CliError(ExitCode.Failed, `${what} ${id} is already closed (${d.status.name}): nothing to cancel`);
      const { running, source } =
        d.type === 'campaign'
          ? await runningUnder(session, handle, d, Math.min(opts.timeout, 5000))
          : {
              running: { [d.type]: id },
              source: `its Slurm job ${d.typedSearchAttributes.get(CryoSlurmJobId) ?? '(none yet)'}`,
            };
      const runningText =
        Object.keys(running).length === 0
          ? 'nothing'
          : Object.entries(running)
              .map(([k, v]) => (k === v ? k : `${k} (${v})`))
              .join(', ');
      if (!opts.json) console.log(`running under ${id}: ${runningText} [from ${source}]`);
      if (opts.terminate) {
        await handle.terminate(`cryoet cancel --terminate by ${currentUser()}`);
        if (opts.json) printJson({ id, running, workflowStatus: 'TERMINATED', slurmJobsCancelled: false });
        else {
          console.log(`terminated ${id}: its children are terminated too, but their Slurm jobs were NOT cancelled`);
          if (Object.keys(running).length > 0)
            console.log(`check with squeue and scancel the jobs of: ${Object.values(running).join(', ')}`);
        }
        return;
      }
      await handle.cancel();
      const timeoutS = Math.round(opts.timeout / 1000);
      if (!opts.json)
        console.log(
          `cancel requested for ${id}; waiting up to ${timeoutS} s for it to close ` +
            '(children cancel their Slurm jobs first)',
        );
      const deadline = Date.now() + opts.timeout;
      let now = d;
      while (isRunning(now) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
        now = await handle.describe();
      }
      if (isRunning(now)) {
        if (opts.json) printJson({ id, running, workflowStatus: now.status.name, cancelRequested: true });
        throw new CliError(
          ExitCode.Failed,
          `cancel requested, but ${id} is still running after ${timeoutS} s: ` +
            `a worker on task queue ${now.taskQueue} must process it (children then cancel their Slurm jobs); ` +
            `wait longer with --timeout, or end it at once with --terminate (Slurm jobs are then not cancelled)`,
        );
      }
      const cancellation = cancellationOf(now);
      if (opts.json)
        printJson({
          id,
          running,
          workflowStatus: now.status.name,
          cancelRequested: true,
          ...(cancellation ? { cancellation } : {}),
        });
      else {
        const early = now.status.name === 'CANCELLED' ? '' : ' (it closed before the cancel took effect)';
        console.log(`${what} ${id} ${now.status.name}${early}`);
        const lines = cancellationLines(cancellation);
        if (lines.length > 0) console.log(lines.slice(1).join('\n'));
      }
    },
    { workflowId: id },
  );
}
