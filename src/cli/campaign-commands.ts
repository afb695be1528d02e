/**
 * The `cryoet` campaign commands: start, list, status, cancel, relax, approve, report
 * (watch lives in watch.ts). Each loads temporal.yaml, connects, does one thing and
 * translates what went wrong into one line on stderr and an exit code (errors.ts):
 *
 *   0 ok · 1 campaign failed or operation refused · 2 usage or config error · 3 not found
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { InvalidArgumentError, type Command } from 'commander';
import type { CryoConfig } from '../config.js';
import { campaignInput } from '../campaign/input.js';
import { startCampaign, workflowUiUrl } from '../client.js';
import { CryoSlurmJobId, CryoStage } from '../search-attributes.js';
import type { CampaignCancellation, CampaignStatus, RunRecord } from '../model/campaign-status.js';
import {
  approvePicksUpdate,
  campaignStatusQuery,
  relaxUpdate,
  type ApprovePicksRequest,
} from '../workflows/operations.js';
import { CliError, ExitCode, oneLine, toCliError } from './errors.js';
import { closedOutcome, failureMessage } from './outcome.js';
import {
  bounded,
  currentUser,
  describeCampaign,
  describeWorkflow,
  isRunning,
  loadCliConfig,
  printJson,
  withClient,
  withConfigOption,
  withSession,
  withTimeoutOption,
  type CommonOptions,
  type Session,
} from './session.js';
import {
  campaignRow,
  cancellationLines,
  closedText,
  defaultCampaignId,
  fileNameFor,
  listQuery,
  listTable,
  runRecordText,
  statusText,
  type CampaignRow,
} from './tables.js';
import { registerWatch } from './watch.js';
import { requireAttributes } from '../namespace-setup.js';
import { formatChecks } from '../doctor/index.js';
import { loadCampaignForCli, startPreflight } from './doctor.js';

// ---- shared -------------------------------------------------------------------------------

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
function visibleStage(d: WorkflowExecutionDescription): string {
  const stage = d.typedSearchAttributes.get(CryoStage);
  return stage === undefined ? '' : ` (stage ${stage})`;
}

/** A cancelled campaign's record of what its cancel stopped (its memo), if any. */
export function cancellationOf(d: WorkflowExecutionDescription): CampaignCancellation | undefined {
  const c = d.memo?.['cancellation'];
  return c !== null && typeof c === 'object' ? (c as CampaignCancellation) : undefined;
}

/** Silent exit with `code` (the output already said why). */
const exitWith = (code: number) => new CliError(code, '');

interface JsonOption {
  readonly json?: boolean;
}

// ---- start -------------------------------------------------------------------------------

interface StartOptions extends CommonOptions, JsonOption {
  readonly id?: string;
  readonly wait?: boolean;
  readonly ui?: string;
  /** false with --no-preflight. */
  readonly preflight: boolean;
}

async function start(file: string, opts: StartOptions): Promise<void> {
  const config = await loadCliConfig(opts.config);
  const spec = await loadCampaignForCli(file, config);
  let input;
  try {
    input = campaignInput(config, spec, opts.id ?? defaultCampaignId(spec.name, new Date()));
  } catch (err) {
    throw toCliError(err);
  }
  const ui = uiBase(config, opts.ui);
  await withClient(
    config,
    async (session) => {
      await requireAttributes(session.client.connection.operatorService, session.namespace, opts.config);
      if (opts.preflight) {
        const warnings = (await startPreflight(config, opts.config, spec, file)).filter((c) => c.status === 'warn');
        if (warnings.length > 0 && !opts.json) console.error(formatChecks(warnings));
      }
      const handle = await startCampaign(session.client, config, input);
      const link = uiLink(config, input.id, ui);
      if (opts.json && !opts.wait) {
        printJson({
          id: input.id,
          runId: handle.firstExecutionRunId,
          namespace: session.namespace,
          taskQueue: config.temporal.taskQueue,
          ui: link,
        });
        return;
      }
      if (!opts.json) {
        console.log(
          `started campaign ${input.id} (${input.spec.tiltSeries.length} tilt series, task queue ${config.temporal.taskQueue})`,
        );
        console.log(`Temporal UI: ${link}`);
      }
      if (!opts.wait) return;
      try {
        const record = (await handle.result()) as RunRecord;
        if (opts.json) printJson({ id: input.id, workflowStatus: 'COMPLETED', ui: link, result: record });
        else console.log(`\n${runRecordText(record)}`);
      } catch (err) {
        if (!(err instanceof WorkflowFailedError)) throw err;
        const status = (await handle.describe()).status.name;
        if (opts.json) printJson({ id: input.id, workflowStatus: status, ui: link, failure: failureMessage(err) });
        throw new CliError(ExitCode.Failed, `campaign ${input.id} ${status.toLowerCase()}: ${failureMessage(err)}`);
      }
    },
    { workflowId: input.id },
  );
}

// ---- list ----------------------------------------------------------------------------------

interface ListOptions extends CommonOptions, JsonOption {
  readonly query?: string;
  readonly limit: number;
}

async function list(opts: ListOptions): Promise<void> {
  await withSession(opts, async (session) => {
    const rows: CampaignRow[] = [];
    for await (const info of session.client.workflow.list({
      query: listQuery(opts.query),
      pageSize: Math.min(opts.limit, 1000),
    })) {
      rows.push(campaignRow(info));
      if (rows.length >= opts.limit) break;
    }
    if (opts.json) printJson(rows);
    else console.log(listTable(rows));
  });
}

// ---- status --------------------------------------------------------------------------------

interface StatusOptions extends CommonOptions, JsonOption {
  readonly timeout: number;
  readonly ui?: string;
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

async function status(id: string, opts: StatusOptions): Promise<void> {
  await withSession(
    opts,
    async (session) => {
      const link = uiLink(session.config, id, uiBase(session.config, opts.ui));
      const { handle, description: d } = await describeCampaign(session, id);
      const common = {
        id,
        workflowStatus: d.status.name,
        taskQueue: d.taskQueue,
        startTime: d.startTime.toISOString(),
        ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
        ui: link,
      };
      if (isRunning(d)) {
        const s = await queryStatus(session, handle, d, opts.timeout);
        if (opts.json) printJson({ ...common, status: s });
        else console.log(`${statusText(s, d.status.name)}\n\nTemporal UI: ${link}`);
        return;
      }
      const outcome = await closedOutcome(handle);
      const cancellation = cancellationOf(d);
      if (opts.json)
        printJson({
          ...common,
          ...(outcome.record ? { result: outcome.record } : {}),
          ...(outcome.failure !== undefined ? { failure: outcome.failure } : {}),
          ...(cancellation ? { cancellation } : {}),
        });
      else if (outcome.record) console.log(`${runRecordText(outcome.record)}\n\nTemporal UI: ${link}`);
      else
        console.log(
          `${closedText(id, d.status.name, outcome.failure, d.closeTime?.toISOString(), cancellation)}\n\nTemporal UI: ${link}`,
        );
      if (!outcome.record) throw exitWith(ExitCode.Failed);
    },
    { workflowId: id },
  );
}

// ---- cancel --------------------------------------------------------------------------------

/** What `cancel` takes: a campaign, or one of its steps. */
const CANCELLABLE: ReadonlySet<string> = new Set(['campaign', 'clusterJob', 'tiltSeries']);

interface CancelOptions extends CommonOptions, JsonOption {
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
    const query = `CryoCampaign = ${JSON.stringify(handle.workflowId)} AND ExecutionStatus = 'Running' AND WorkflowId != ${JSON.stringify(handle.workflowId)}`;
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

async function cancel(id: string, opts: CancelOptions): Promise<void> {
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
      if (!opts.json)
        console.log(
          `cancel requested for ${id}; waiting up to ${Math.round(opts.timeout / 1000)} s for it to close (children cancel their Slurm jobs first)`,
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
          `cancel requested, but ${id} is still running after ${Math.round(opts.timeout / 1000)} s: a worker on task queue ${now.taskQueue} must process it (children then cancel their Slurm jobs); ` +
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
        console.log(
          `${what} ${id} ${now.status.name}${now.status.name === 'CANCELLED' ? '' : ' (it closed before the cancel took effect)'}`,
        );
        const lines = cancellationLines(cancellation);
        if (lines.length > 0) console.log(lines.slice(1).join('\n'));
      }
    },
    { workflowId: id },
  );
}

// ---- relax ---------------------------------------------------------------------------------

interface RelaxOptions extends CommonOptions, JsonOption {
  readonly timeout: number;
}

async function relax(id: string, step: string, opts: RelaxOptions): Promise<void> {
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
        throw new CliError(
          ExitCode.Failed,
          `campaign ${id} is not running ${JSON.stringify(step)}; running now: ${now.length ? now.join(', ') : 'nothing'}`,
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
          `relaxed ${step}: cancelled pending job ${result.cancelledJobId}, resubmitted on rung ${result.toRung + 1}: ${result.toRungDescription}`,
        );
    },
    { workflowId: id },
  );
}

// ---- approve -------------------------------------------------------------------------------

interface ApproveOptions extends CommonOptions, JsonOption {
  readonly reject?: boolean;
  readonly comment?: string;
  readonly timeout: number;
}

async function approve(id: string, opts: ApproveOptions): Promise<void> {
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
      else
        console.log(
          `picks rejected for ${id} by ${request.by}${request.comment ? ` (${request.comment})` : ''}: the campaign ends as failed`,
        );
    },
    { workflowId: id },
  );
}

// ---- report --------------------------------------------------------------------------------

interface ReportOptions extends CommonOptions, JsonOption {
  readonly out?: string;
  /** false with --no-pictures. */
  readonly pictures: boolean;
}

async function report(id: string, opts: ReportOptions): Promise<void> {
  await withSession(
    opts,
    async (session) => {
      const { handle, description: d } = await describeCampaign(session, id);
      const cancellation = cancellationOf(d);
      const cancelledRecord = d.status.name === 'CANCELLED' && cancellation !== undefined && opts.json === true;
      let text: string;
      if (cancelledRecord) {
        // No run record, but what the cancel stopped: what was running, the jobs cancelled.
        const { failure } = await closedOutcome(handle);
        text = `${JSON.stringify({ campaign: id, workflowStatus: d.status.name, closeTime: d.closeTime?.toISOString(), failure, cancellation }, null, 2)}\n`;
      } else if (d.status.name !== 'COMPLETED') {
        if (isRunning(d))
          throw new CliError(
            ExitCode.Failed,
            `campaign ${id} is still running${visibleStage(d)}: no run record until it completes`,
          );
        const { failure } = await closedOutcome(handle);
        const hint = cancellation ? '; `cryoet report --json` lists what its cancel stopped' : '';
        throw new CliError(
          ExitCode.Failed,
          `campaign ${id} ended ${d.status.name}, not completed: no run record${failure ? ` (${failure})` : ''}${hint}`,
        );
      } else {
        const record = (await handle.result()) as RunRecord;
        if (opts.json) text = `${JSON.stringify(record, null, 2)}\n`;
        else {
          // The HTML renderer and the picture reader load only here: no other command needs them.
          const pictures = opts.pictures
            ? await (await import('./report-pictures.js')).clusterPictures(session.config, record)
            : undefined;
          for (const note of pictures?.notes ?? []) console.error(`report: not drawn: ${note}`);
          const render = (await import('../report/index.js')).renderReport;
          text = render(record, { generatedAt: new Date().toISOString(), ...(pictures ? { pictures } : {}) });
        }
      }
      const out =
        opts.out ??
        fileNameFor(id, cancelledRecord ? '-cancellation.json' : opts.json ? '-run-record.json' : '-report.html');
      if (out === '-') {
        process.stdout.write(text);
        return;
      }
      const path = resolve(out);
      try {
        await writeFile(path, text);
      } catch (err) {
        throw new CliError(ExitCode.Failed, `cannot write ${path}: ${(err as Error).message}`);
      }
      console.log(
        `${cancelledRecord ? 'cancellation record' : opts.json ? 'run record' : 'report'} of ${id} written to ${path}`,
      );
    },
    { workflowId: id },
  );
}

// ---- registration --------------------------------------------------------------------------

/** Adds the campaign commands to `program`. */
export function registerCampaignCommands(program: Command): void {
  withConfigOption(
    program
      .command('start')
      .description('start a campaign from a campaign file and print its id and Temporal UI link')
      .argument('<campaign.yaml>', 'campaign file (every problem in it is listed, exit 2)')
      .option('--id <id>', 'campaign id, also the workflow id (default: <name>-<yyyymmdd-hhmmss>, UTC)')
      .option('--wait', 'wait for the campaign to end and print its run record (exit 1 if it fails)')
      .option('--ui <url>', 'Temporal UI base for the link (default: $CRYOET_UI, else temporal.yaml temporal.ui)')
      .option('--json', 'print JSON')
      .option(
        '--no-preflight',
        "start without the cheap preflight (cryoet doctor's cluster and file checks, no compute-node job)",
      ),
  ).action((file: string, opts: StartOptions) => start(file, opts));

  withConfigOption(
    program
      .command('list')
      .description(
        'list campaigns (visibility: WorkflowType = campaign) with status, stage, iteration, resolution, cost',
      )
      .option(
        '-q, --query <query>',
        'extra visibility filter, ANDed, e.g. "CryoStage = \'refine\'" or "ExecutionStatus = \'Running\'"',
      )
      .option('--limit <n>', 'at most this many campaigns', (v: string) => positiveInt(v), 100)
      .option('--json', 'print JSON'),
  ).action((opts: ListOptions) => list(opts));

  withTimeoutOption(
    withConfigOption(
      program
        .command('status')
        .description(
          "a campaign's stage, tilt series, particles, refine, steps and running children (closed: its run record, or its failure and exit 1)",
        )
        .argument('<id>', 'campaign id')
        .option('--ui <url>', 'Temporal UI base for the link (default: $CRYOET_UI, else temporal.yaml temporal.ui)')
        .option('--json', 'print JSON'),
    ),
    'how long to wait for a worker to answer the status query',
    '10s',
  ).action((id: string, opts: StatusOptions) => status(id, opts));

  withTimeoutOption(
    withConfigOption(
      program
        .command('cancel')
        .description(
          'cancel a campaign or one of its steps (<id>/refine): their Slurm jobs are cancelled; wait until it closes, print what was running and the jobs cancelled',
        )
        .argument('<id>', 'campaign id, or one of its steps: <id>/refine, <id>/TS_01')
        .option(
          '--terminate',
          'terminate at once instead: for a campaign no worker will pick up again; Slurm jobs are NOT cancelled',
        )
        .option('--json', 'print JSON'),
    ),
    'how long to wait for the campaign to close',
    '2m',
  ).action((id: string, opts: CancelOptions) => cancel(id, opts));

  withTimeoutOption(
    withConfigOption(
      program
        .command('relax')
        .description('move a pending step down its placement ladder now (the relax update on its clusterJob)')
        .argument('<id>', 'campaign id')
        .argument(
          '<step>',
          'a running step or tilt series, as `cryoet status` lists under running (e.g. refine, TS_03)',
        )
        .option('--json', 'print JSON'),
    ),
    'how long to wait for a worker to answer',
    '30s',
  ).action((id: string, step: string, opts: RelaxOptions) => relax(id, step, opts));

  withTimeoutOption(
    withConfigOption(
      program
        .command('approve')
        .description('approve (or --reject) the particle picks of a campaign waiting at the picks gate')
        .argument('<id>', 'campaign id')
        .option('--reject', 'reject the picks: the campaign ends as failed')
        .option('--comment <text>', 'a note kept in the status and the run record')
        .option('--json', 'print JSON'),
    ),
    'how long to wait for a worker to accept the decision',
    '30s',
  ).action((id: string, opts: ApproveOptions) => approve(id, opts));

  withConfigOption(
    program
      .command('report')
      .description('write the HTML report of a completed campaign (from its run record)')
      .argument('<id>', 'campaign id')
      .option(
        '-o, --out <file>',
        "output file ('-' for stdout; default: <id>-report.html, or <id>-run-record.json with --json; '/' in ids → '_')",
      )
      .option('--json', 'write the run record as JSON instead of the HTML report')
      .option('--no-pictures', "leave out the tomogram and map pictures (read over SSH from the campaign's cluster)"),
  ).action((id: string, opts: ReportOptions) => report(id, opts));

  registerWatch(program);
}

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a positive whole number, got ${JSON.stringify(text)}`);
  return n;
}
