/**
 * The `cryoet` campaign commands: start, list, status, cancel, relax, approve, report
 * (watch lives in watch.ts). Each loads temporal.yaml, connects, does one thing and
 * translates what went wrong into one line on stderr and an exit code (errors.ts):
 *
 *   0 ok · 1 campaign failed or operation refused · 2 usage or config error · 3 not found
 */
import { WorkflowFailedError } from '@temporalio/client';
import { InvalidArgumentError, type Command } from 'commander';
import { campaignInput } from '../campaign/input.js';
import { startCampaign } from '../client.js';
import type { RunRecord } from '../model/campaign-status.js';
import { CliError, ExitCode, toCliError } from './errors.js';
import { closedOutcome, failureMessage } from './outcome.js';
import {
  describeCampaign,
  isRunning,
  loadCliConfig,
  printJson,
  withClient,
  withConfigOption,
  withSession,
  withTimeoutOption,
  type CommonOptions,
  exitWith,
  type JsonOption,
} from './session.js';
import {
  campaignRow,
  closedText,
  defaultCampaignId,
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
import { cancellationOf, queryStatus, uiBase, uiLink } from './describe.js';
import { cancel, type CancelOptions } from './cancel.js';
import { approve, type ApproveOptions, relax, type RelaxOptions } from './relax-approve.js';
import { report, type ReportOptions } from './report-command.js';

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
        const counts = `${input.spec.tiltSeries.length} tilt series, task queue ${config.temporal.taskQueue}`;
        console.log(`started campaign ${input.id} (${counts})`);
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
      else {
        const closed = closedText(id, d.status.name, outcome.failure, d.closeTime?.toISOString(), cancellation);
        console.log(`${closed}\n\nTemporal UI: ${link}`);
      }
      if (!outcome.record) throw exitWith(ExitCode.Failed);
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
          "a campaign's stage, tilt series, particles, refine, steps and running children " +
            '(closed: its run record, or its failure and exit 1)',
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
          'cancel a campaign or one of its steps (<id>/refine): their Slurm jobs are cancelled; ' +
            'wait until it closes, print what was running and the jobs cancelled',
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
        "output file ('-' for stdout; default: <id>-report.html, " +
          "or <id>-run-record.json with --json; '/' in ids → '_')",
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
