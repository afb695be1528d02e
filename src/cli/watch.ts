/**
 * `cryoet watch <id>`: live progress until the campaign closes, from its `status` query
 * (polled about once a second) and its result (long poll). On a TTY: cli-progress bars, one
 * per tilt series and one for the refine (iteration and resolution in the payload), under a
 * line with stage and cost. Otherwise: plain lines, printed only when something changes
 * (`--json`: one JSON line per change). Exit code: 0 completed, 1 failed, cancelled,
 * terminated or timed out, 130 when interrupted (the campaign keeps running).
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import type { CampaignStatus, RunRecord } from '../model/campaign-status.js';
import { campaignStatusQuery } from '../workflows/operations.js';
import { closedOutcome } from './outcome.js';
import { CliError, ExitCode, oneLine } from './errors.js';
import {
  bounded,
  describeCampaign,
  durationFlag,
  isRunning,
  withConfigOption,
  withSession,
  withTimeoutOption,
  type CommonOptions,
} from './session.js';
import { formatCost, formatResolution } from './tables.js';
import { changedLines, refineBar, tiltSeriesBar, watchFacts } from './watch-lines.js';

interface WatchOptions extends CommonOptions {
  readonly interval: number;
  readonly timeout: number;
  readonly json?: boolean;
}

/** How the campaign ended. */
export interface Outcome {
  readonly workflowStatus: string;
  readonly record?: RunRecord;
  readonly failure?: string;
}

/** Where progress goes: bars, plain lines or JSON lines. */
interface View {
  update(status: CampaignStatus): void;
  /** The status query failed (no worker, server busy); the campaign may still be running. */
  unavailable(reason: string): void;
  /** The campaign closed: show its end state (the run record where there is one). */
  finish(outcome: Outcome): void;
  stop(): void;
}

const clock = () => new Date().toISOString().slice(11, 19);

/** Plain lines for logs and pipes: only what changed. */
export function plainView(write: (line: string) => void = (l) => console.log(l), now: () => string = clock): View {
  let facts = new Map<string, string>();
  let lastUnavailable: string | undefined;
  return {
    update(status) {
      const next = watchFacts(status);
      for (const line of changedLines(facts, next)) write(`${now()}  ${line}`);
      facts = next;
      lastUnavailable = undefined;
    },
    unavailable(reason) {
      if (reason !== lastUnavailable) write(`${now()}  status unavailable: ${reason}`);
      lastUnavailable = reason;
    },
    finish() {},
    stop() {},
  };
}

/** One JSON object per line, whenever the status (or its absence) changes. */
function jsonView(): View {
  let last = '';
  const emit = (value: Record<string, unknown>, key: string) => {
    if (key === last) return;
    last = key;
    console.log(JSON.stringify({ at: new Date().toISOString(), ...value }));
  };
  return {
    update: (status) => emit({ status }, JSON.stringify(status)),
    unavailable: (reason) => emit({ unavailable: reason }, `unavailable:${reason}`),
    finish() {},
    stop() {},
  };
}

/** The line above the bars: stage, cost, particles, the picks gate, running steps, final resolution. */
function headerLine(id: string, s: CampaignStatus): string {
  const running = Object.keys(s.running);
  const particles = s.particles === undefined ? '' : ` · ${s.particles} particles`;
  const picks = s.picks.state === 'waiting' ? ` · picks waiting for \`cryoet approve ${id}\`` : '';
  const steps = running.length ? ` · running ${running.join(', ')}` : '';
  const final = s.finalResolution === undefined ? '' : ` · final ${formatResolution(s.finalResolution)}`;
  return `${id}: stage ${s.stage} · cost ${formatCost(s.costUsd)}${particles}${picks}${steps}${final}`;
}

/** cli-progress bars on the terminal. */
function barsView(id: string): View {
  const multibar = new MultiBar(
    {
      stream: process.stdout,
      clearOnComplete: false,
      hideCursor: true,
      barsize: 30,
      autopadding: true,
      format: ' {name} {bar} {state}',
    },
    Presets.shades_classic,
  );
  const header = multibar.create(1, 0, { line: `${id}: waiting for the first status…` }, { format: '{line}' });
  const series = new Map<string, SingleBar>();
  let refine: SingleBar | undefined;
  let width = 6;
  return {
    update(s) {
      const names = Object.keys(s.tiltSeries);
      if (series.size === 0 && names.length > 0) {
        width = Math.max(width, ...names.map((n) => n.length));
        for (const name of names)
          series.set(name, multibar.create(1, 0, { name: name.padEnd(width), state: 'waiting' }));
        refine = multibar.create(
          1,
          0,
          { name: 'refine'.padEnd(width), state: '' },
          { format: ' {name} {bar} iteration {iteration} · {resolution}' },
        );
      }
      header.update(0, { line: headerLine(id, s) });
      for (const [name, t] of Object.entries(s.tiltSeries)) {
        const bar = tiltSeriesBar(t.status);
        series.get(name)?.update(bar.value, {
          name: name.padEnd(width),
          state: `${bar.label}${t.error ? `: ${t.error.split('\n')[0]}` : ''}`,
        });
      }
      const r = refineBar(s.refine);
      refine?.setTotal(r.total);
      refine?.update(r.value, { name: 'refine'.padEnd(width), iteration: r.iteration, resolution: r.resolution });
    },
    unavailable(reason) {
      header.update(0, { line: `${id}: status unavailable: ${reason}` });
    },
    finish(outcome) {
      if (!outcome.record) {
        header.update(0, { line: `${id}: ${outcome.workflowStatus.toLowerCase()}` });
        return;
      }
      const last = outcome.record.iterations[outcome.record.iterations.length - 1];
      const r = refineBar({
        ...(last ? { iteration: last.iteration, resolution: last.resolution } : {}),
        finished: true,
        history: [],
      });
      refine?.setTotal(r.total);
      refine?.update(r.value, { name: 'refine'.padEnd(width), iteration: r.iteration, resolution: r.resolution });
      const final = formatResolution(outcome.record.finalResolution);
      header.update(0, { line: `${id}: done · cost ${formatCost(outcome.record.costUsd)} · final ${final}` });
    },
    stop() {
      multibar.stop();
    },
  };
}

/**
 * Shows the progress of a running campaign in `view` until it closes (checked with describe
 * before each status query) or Ctrl-C. Every call runs under its own AbortController, so a
 * Ctrl-C cancels a query still in flight and closing the connection leaves no call behind.
 */
async function follow(
  handle: WorkflowHandle,
  view: View,
  opts: { intervalMs: number; query: () => Promise<CampaignStatus>; client: Client },
): Promise<Outcome | 'interrupted'> {
  const inFlight = new Set<AbortController>();
  const inScope = async <T>(fn: () => Promise<T>): Promise<T> => {
    const abort = new AbortController();
    inFlight.add(abort);
    try {
      return await opts.client.withAbortSignal(abort.signal, fn);
    } finally {
      inFlight.delete(abort);
    }
  };
  let interrupted = false;
  let poke = () => {};
  const poked = new Promise<undefined>((resolve) => (poke = () => resolve(undefined)));
  /** `call`, unless Ctrl-C comes first (then undefined; a later rejection of `call` is ignored). */
  const unlessInterrupted = <T>(call: Promise<T>): Promise<T | undefined> => {
    call.catch(() => {});
    return Promise.race([call, poked]);
  };
  const onSigint = () => {
    interrupted = true;
    poke();
  };
  process.once('SIGINT', onSigint);
  try {
    while (!interrupted) {
      try {
        const now = await unlessInterrupted(inScope(() => handle.describe()));
        if (now === undefined) break;
        if (!isRunning(now)) return { workflowStatus: now.status.name, ...(await closedOutcome(handle)) };
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw err;
        view.unavailable(oneLine(err));
      }
      try {
        const status = await unlessInterrupted(inScope(opts.query));
        if (status === undefined) break;
        view.update(status);
      } catch (err) {
        if (interrupted) break;
        view.unavailable(err instanceof CliError ? err.message : oneLine(err));
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.intervalMs))), poked]);
      clearTimeout(timer);
    }
  } finally {
    process.off('SIGINT', onSigint);
    for (const abort of inFlight) abort.abort();
  }
  return 'interrupted';
}

/** One line about how the campaign ended. */
export function outcomeLine(id: string, outcome: Outcome): string {
  if (outcome.record) {
    const r = outcome.record;
    const final = `final ${formatResolution(r.finalResolution)} (FSC 0.143), B-factor ${r.bfactor.toFixed(0)} Å²`;
    return `campaign ${id} completed: ${final}, ${r.particles} particles, cost ${formatCost(r.costUsd)}`;
  }
  return `campaign ${id} ${outcome.workflowStatus.toLowerCase()}${outcome.failure ? `: ${outcome.failure}` : ''}`;
}

async function watch(id: string, opts: WatchOptions): Promise<void> {
  await withSession(
    opts,
    async (session) => {
      const { handle, description: d } = await describeCampaign(session, id);
      let outcome: Outcome | 'interrupted';
      if (!isRunning(d)) {
        // Closed already: its result says how it ended (no status query: that may need a worker).
        outcome = { workflowStatus: d.status.name, ...(await closedOutcome(handle)) };
      } else {
        if (!opts.json)
          console.log(`watching ${id} (task queue ${d.taskQueue}); Ctrl-C stops watching, the campaign keeps running`);
        const view = opts.json ? jsonView() : process.stdout.isTTY === true ? barsView(id) : plainView();
        try {
          outcome = await follow(handle, view, {
            intervalMs: opts.interval,
            query: () =>
              bounded(session, opts.timeout, 'status query', d.taskQueue, () => handle.query(campaignStatusQuery)),
            client: session.client,
          });
          if (outcome !== 'interrupted') view.finish(outcome);
        } finally {
          view.stop();
        }
      }
      if (outcome === 'interrupted') {
        console.error(`stopped watching ${id}; the campaign keeps running`);
        throw new CliError(130, '');
      }
      if (opts.json)
        console.log(
          JSON.stringify({
            at: new Date().toISOString(),
            id,
            workflowStatus: outcome.workflowStatus,
            ...(outcome.record ? { result: outcome.record } : {}),
            ...(outcome.failure === undefined ? {} : { failure: outcome.failure }),
          }),
        );
      else console.log(outcomeLine(id, outcome));
      if (!outcome.record) throw new CliError(ExitCode.Failed, '');
    },
    { workflowId: id },
  );
}

/** Adds `watch` to `program`. */
export function registerWatch(program: Command): void {
  withTimeoutOption(
    withConfigOption(
      program
        .command('watch')
        .description(
          'live progress of a campaign until it closes (bars on a terminal, plain lines otherwise);' +
            ' exit 0 completed, 1 otherwise',
        )
        .argument('<id>', 'campaign id')
        .addOption(durationFlag('--interval <duration>', 'how often to ask for the status', '1s'))
        .option('--json', 'one JSON line per change, then the outcome'),
    ),
    'how long each status query may wait for a worker',
    '5s',
  ).action((id: string, opts: WatchOptions) => watch(id, opts));
}
