/**
 * `npm run bench`: the same five-series pipeline run three ways, side by side in one run,
 * on the dev Slurm cluster: (a) our campaign workflow (a `cryoet worker` process),
 * (b) Snakemake 9 with snakemake-executor-plugin-slurm and an equivalent Snakefile,
 * (c) a plain `sbatch --dependency=afterok` chain, the seed study's way.
 *
 * Scenarios (SLEEP tool set: reconstruct → extract → refine of N iterations → postprocess):
 * a clean run; the refine pinned to gpu:a10g:4, whose CLOUD node never boots; the node
 * under the refine set DOWN mid-refine; the driver SIGKILLed mid-refine and restarted.
 * Then the embedded CPU tools (AreTomo2 stand-in, RELION 3.1) on the fast dataset, clean,
 * all three ways; and 10 / 100 / 500 tilt series of sleep jobs through our campaign.
 *
 * Writes .dev/bench/peers.json and .dev/bench/peers.md (the tables) and prints the tables.
 * Not a test: nothing asserts. See BENCHMARKS.md. Environment knobs (all optional):
 *   PEERS_SCENARIOS=clean,hang,node-lost,driver-killed   PEERS_WAYS=ours,snakemake,chain
 *   PEERS_EMBEDDED=0|1   PEERS_SCALE=10,100,500   PEERS_SLEEP=10,5,8x12,5 (s: reconstruct,
 *   extract, iterations x s, postprocess)   PEERS_QUIET_WAIT_S=300 (per run) PEERS_QUIET_BUDGET_S=900
 *   (in all: how long to wait for other people's jobs to leave the shared dev cluster)
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config.js';
import { ARETOMO2_STANDIN, EMBEDDED_PYTHON, MAKE_DATASET } from '../src/embedded.js';
import { freePort, repoRoot, startTemporal, uniqueId } from '../test/helpers/env.js';
import {
  cancelJobs,
  readFrom,
  sacctSince,
  sampleRss,
  setNode,
  slurm,
  writeCountingShim,
  type RssPeak,
  type SacctRow,
} from './peers/host.js';
import {
  criticalPath,
  eventsIn,
  iterationsRedone,
  listScheduleMs,
  markdownTable,
  newestIteration,
  parseCallLog,
  parseToolLog,
  pipelineDag,
  ratio,
  seconds,
  stepWorkMs,
  submissionReport,
  summarizeCalls,
  type CallSummary,
  type JobRow,
  type ToolEvent,
} from './peers/metrics.js';
import { embeddedFastSpec, sleepSpec, stepCommands, type PipelineVariant } from './peers/pipeline.js';
import { nominalCriticalPathS, writeSleepDataset, writeSleepTools, type SleepDurations } from './peers/sleep-tools.js';
import {
  chainWay,
  oursWay,
  snakemakeWay,
  type Driver,
  type RunSpec,
  type Scenario,
  type Way,
  type WayName,
} from './peers/ways.js';

Runtime.install({ logger: new DefaultLogger('WARN') });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const list = (name: string, fallback: string) =>
  (process.env[name] ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

// ---------------------------------------------------------------------------------------
// Set-up: the bench venv and /etc/slurm links, logs, shim, tool sets, data, Temporal.

execFileSync('bash', [join(repoRoot, 'bench/peers/setup.sh')], { stdio: 'inherit' });
const BENCH = join(repoRoot, '.dev/bench/peers');
const VENV = join(repoRoot, '.dev/bench/venv');
mkdirSync(BENCH, { recursive: true });
const TOOL_LOG = join(BENCH, 'tools.log');
const CALLS_LOG = join(BENCH, 'calls.log');
writeFileSync(TOOL_LOG, '');
writeFileSync(CALLS_LOG, '');
const SHIM = writeCountingShim(join(BENCH, 'shim'));
const WORK = join(BENCH, 'work');
rmSync(WORK, { recursive: true, force: true });

const [sr, se, sIter, sp] = (process.env.PEERS_SLEEP ?? '10,5,8x12,5').split(',');
const [iterations, perIteration] = sIter!.split('x').map(Number);
const durations: SleepDurations = {
  reconstruct: Number(sr),
  extract: Number(se),
  refineIterations: iterations!,
  refineIteration: perIteration!,
  postprocess: Number(sp),
};
const scaleDurations: SleepDurations = {
  reconstruct: 2,
  extract: 1,
  refineIterations: 2,
  refineIteration: 1,
  postprocess: 1,
};
const sleepData = writeSleepDataset(join(BENCH, 'data-sleep'));
const sleepTools = writeSleepTools(join(BENCH, 'tools-sleep'), durations, TOOL_LOG);
const scaleTools = writeSleepTools(join(BENCH, 'tools-scale'), scaleDurations, TOOL_LOG);
const baseConfig = await loadConfig(join(repoRoot, 'temporal.yaml'));
const sleepVariant = (count: number, tools: typeof sleepTools, stage: string): PipelineVariant => ({
  name: 'sleep',
  spec: sleepSpec(count, { dir: join(BENCH, 'data-sleep'), ...sleepData }),
  tools: {
    aretomo2: tools.aretomo2,
    relionBinDir: tools.relionBinDir,
    mpirun: [tools.mpirun],
    stageDir: join(BENCH, stage),
  },
});
const SLEEP = sleepVariant(5, sleepTools, 'stage-sleep');

const port = await freePort();
const env = await startTemporal(port);
const temporalPid =
  Number(execFileSync('bash', ['-c', `pgrep -f -- '--port ${port} ' | head -n 1`], { encoding: 'utf8' }).trim()) ||
  undefined;
const temporalRss = sampleRss(1000);
if (temporalPid) temporalRss.add(temporalPid);
const WAYS: Record<WayName, Way> = {
  ours: oursWay(env.client, port),
  snakemake: snakemakeWay(VENV),
  chain: chainWay(),
};

// ---------------------------------------------------------------------------------------
// One run.

interface RunResult {
  readonly id: string;
  readonly way: WayName;
  /** Snakemake run with --slurm-requeue. */
  readonly requeue: boolean;
  readonly scenario: Scenario;
  readonly variant: string;
  readonly completed: boolean;
  /** Why the driver gave up, from its own output (Snakemake's error message, the chain's last line). */
  readonly failure?: string;
  readonly driverOutputTail: string;
  readonly boundMs: number;
  readonly makespanMs: number;
  readonly criticalPathMs: number;
  readonly criticalPathFrom: 'tool log (ms)' | 'sacct (s)';
  readonly faultToRunningMs?: number;
  readonly fault?: string;
  readonly iterationsRedone: number;
  readonly jobs: ReturnType<typeof submissionReport> & { requeues: number };
  readonly calls: CallSummary;
  readonly driverRss: RssPeak;
  readonly othersAtStart: number;
  readonly otherJobsDuring: number;
  readonly load1AtStart: number;
  readonly notes: string[];
}

/**
 * Jobs on the cluster that run or wait for resources (other people's tests share the dev cluster); held jobs wait for
 * nobody.
 */
async function activeJobs(): Promise<string[]> {
  return (await slurm(['squeue', '-h', '-t', 'PD,R,CF,CG', '-o', '%i|%r']))
    .trim()
    .split('\n')
    .filter((l) => l && !/\|JobHeld/.test(l))
    .map((l) => l.split('|')[0]!);
}

/** Waits (bounded) until the shared cluster has no jobs, so runs do not queue behind others. */
let quietBudgetMs = Number(process.env.PEERS_QUIET_BUDGET_S ?? 900) * 1000;
async function waitQuiet(): Promise<number> {
  const limit = Date.now() + Math.min(quietBudgetMs, Number(process.env.PEERS_QUIET_WAIT_S ?? 300) * 1000);
  const waitStart = Date.now();
  let jobs = await activeJobs();
  if (jobs.length > 0) {
    const upTo = `(up to ${process.env.PEERS_QUIET_WAIT_S ?? 300} s)`;
    log(`  waiting for ${jobs.length} other job(s) on the dev cluster to finish ${upTo}`);
  }
  while (jobs.length > 0 && Date.now() < limit) {
    await sleep(2000);
    jobs = await activeJobs();
  }
  quietBudgetMs = Math.max(0, quietBudgetMs - (Date.now() - waitStart));
  return jobs.length;
}

const toolEvents = (dir: string): ToolEvent[] => eventsIn(parseToolLog(readFrom(TOOL_LOG, 0)), dir);

async function waitFor<T>(
  check: () => T | undefined | Promise<T | undefined>,
  deadline: number,
  everyMs = 200,
): Promise<T | undefined> {
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) return undefined;
    await sleep(everyMs);
  }
}

function runSpec(
  way: WayName,
  scenario: Scenario,
  variant: PipelineVariant,
  tag = '',
  snakemakeRequeue = false,
): RunSpec {
  const id = uniqueId(
    `p-${variant.name === 'embedded' ? 'emb' : 'slp'}${tag}-${scenario}-${way}`
      .replaceAll('driver-killed', 'kill')
      .replaceAll('node-lost', 'node'),
  );
  const dir = join(WORK, id);
  const refinePinned = scenario === 'hang';
  const rung = { cluster: 'dev', partition: 'gpu', gres: refinePinned ? 'gpu:a10g:4' : 'gpu:4', timeScale: 1 };
  return {
    id,
    way,
    scenario,
    variant,
    dir,
    driverDir: join(dir, '.driver'),
    refinePinned,
    snakemakeRequeue,
    commands: stepCommands(variant, baseConfig, dir, rung),
    shimDir: SHIM,
    callsLog: CALLS_LOG,
  };
}

const FAULT_AT_ITERATION = 3;

async function runOne(spec: RunSpec, boundMs: number, opts: { quiet?: boolean } = {}): Promise<RunResult> {
  const way = WAYS[spec.way];
  const notes: string[] = [];
  const othersAtStart = opts.quiet === false ? (await activeJobs()).length : await waitQuiet();
  const load1AtStart = loadavg()[0]!;
  const others = othersAtStart ? ` (${othersAtStart} other jobs on the cluster)` : '';
  log(`${spec.variant.name} · ${spec.scenario} · ${spec.way}: ${spec.id}${others}`);
  const rss = sampleRss(500);
  let { driver, t0 } = await way.start(spec);
  rss.add(driver.pid);
  const deadline = t0 + boundMs;
  let fault: string | undefined;
  let faultAt: number | undefined;
  let downNode: string | undefined;
  let done: Promise<boolean> = driver.done;
  let killedDone: Promise<boolean> | undefined;

  const refineRunning = () => {
    const ev = toolEvents(spec.dir);
    const it = newestIteration(ev);
    const last = [...ev].reverse().find((e) => e.step === 'refine' && (e.event === 'start' || e.event === 'run-start'));
    return it !== undefined && it >= FAULT_AT_ITERATION && last ? last : undefined;
  };
  const faultDone = (async () => {
    if (spec.scenario === 'node-lost') {
      const at = await waitFor(refineRunning, deadline);
      if (!at) return notes.push('the refine never reached the fault iteration');
      downNode = at.node;
      await setNode(at.node, 'DOWN');
      faultAt = Date.now();
      fault = `node ${at.node} DOWN after iteration ${newestIteration(toolEvents(spec.dir))}`;
      log(`  FAULT: ${fault}`);
      // Back once the refine runs again (or after 90 s), as spot-reclaim.ts does.
      await waitFor(
        () =>
          toolEvents(spec.dir).find(
            (e) => e.step === 'refine' && (e.event === 'start' || e.event === 'run-start') && e.ms > faultAt!,
          ),
        Math.min(deadline, faultAt + 90_000),
        250,
      );
      await setNode(at.node, 'RESUME');
      downNode = undefined;
    } else if (spec.scenario === 'driver-killed') {
      const at = await waitFor(refineRunning, deadline);
      if (!at) return notes.push('the refine never reached the fault iteration');
      // Our driver's `done` is the workflow's result, which outlives the worker.
      if (spec.way !== 'ours') killedDone = driver.done;
      driver.child.kill('SIGKILL');
      faultAt = Date.now();
      fault = `driver pid ${driver.pid} SIGKILLed after iteration ${newestIteration(toolEvents(spec.dir))}`;
      log(`  FAULT: ${fault}; restarting it in 5 s`);
      await sleep(5000);
      driver = await way.restart(spec);
      rss.add(driver.pid);
      log(`  driver restarted (pid ${driver.pid})`);
      done = driver.done;
    }
    return 0;
  })();

  let completed = false;
  let finishedAt = Date.now();
  const bound = sleep(Math.max(0, deadline - Date.now())).then(() => 'bound' as const);
  for (;;) {
    const current = done;
    const outcome = await Promise.race([current, bound]);
    finishedAt = Date.now();
    if (outcome === 'bound') {
      notes.push(`did not complete within ${Math.round(boundMs / 1000)} s`);
      break;
    }
    // The driver we killed on purpose: its successor's outcome is the run's.
    if (current === killedDone) {
      await waitFor(() => (done !== current ? true : undefined), deadline, 100);
      continue;
    }
    completed = outcome;
    break;
  }
  const makespanMs = finishedAt - t0;
  const failureLine = completed
    ? undefined
    : driver
        .output()
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => /^message: |^chain: postprocess ended|failed due to a node failure|^Error in rule/.test(l))
        .at(-1);
  const failure = failureLine
    ?.replace(/^message: /, '')
    .split(/\. /)[0]!
    .slice(0, 160);
  if (downNode) await setNode(downNode, 'RESUME').catch(() => undefined);
  await Promise.race([faultDone, sleep(1000)]);

  // What the scheduler saw of this run; whatever is still queued is cancelled (not counted).
  await way.stop(spec);
  const queued = (await slurm(['squeue', '-h', '-o', '%i|%j|%T|%r']).catch(() => ''))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|'))
    .map(([jobId, name, state, reason]) => ({ jobId: jobId!, name: name!, state: state!, reason: reason ?? '' }))
    .filter(
      (q) =>
        way.jobKey(spec, { jobId: q.jobId, name: q.name, workDir: '', state: q.state, submitMs: 0, nodes: '' }) !==
        undefined,
    );
  for (const q of queued.filter(
    (q) =>
      way.jobKey(spec, { jobId: q.jobId, name: q.name, workDir: '', state: q.state, submitMs: 0, nodes: '' }) ===
      'refine',
  )) {
    notes.push(`refine job ${q.jobId} at the end: ${q.state} (${q.reason})`);
  }
  await cancelJobs(queued.map((q) => q.jobId));
  await sleep(2500); // let slurmdbd record the last transitions
  const rows = await sacctSince(t0);
  const mine = rows
    .map((r) => ({ row: r, key: way.jobKey(spec, r) }))
    .filter((x): x is { row: SacctRow; key: string } => x.key !== undefined);
  const mineIds = new Set(mine.map((x) => x.row.jobId));
  const otherJobsDuring = new Set(
    rows
      .filter((r) => !mineIds.has(r.jobId) && (r.startMs ?? Infinity) < finishedAt && (r.endMs ?? Infinity) > t0)
      .map((r) => r.jobId),
  ).size;

  // Jobs: one row per job id (requeued incarnations folded), first submit, last state.
  const byId = new Map<string, JobRow>();
  let incarnations = 0;
  for (const { row, key } of mine) {
    incarnations += 1;
    const prev = byId.get(row.jobId);
    byId.set(row.jobId, {
      jobId: row.jobId,
      key,
      state: row.state,
      submitMs: Math.min(prev?.submitMs ?? Infinity, row.submitMs),
      ...((prev?.startMs ?? row.startMs) === undefined ? {} : { startMs: prev?.startMs ?? row.startMs }),
      ...(row.endMs === undefined ? {} : { endMs: row.endMs }),
    });
  }
  const calls = parseCallLog(readFrom(CALLS_LOG, 0)).filter((c) => c.run === spec.id);
  // Jobs submitted: the driver's sbatch calls (a job held on a dependency may reach sacct late).
  const jobs = {
    ...submissionReport([...byId.values()]),
    submitted: calls.filter((c) => c.command === 'sbatch' && !c.jobId).length,
    requeues: incarnations - byId.size,
  };

  // Critical path: the sleep tools' own ms timestamps; the embedded tools' sacct times.
  const events = toolEvents(spec.dir);
  const series = spec.variant.spec.tiltSeries.map((t) => t.name);
  const dag = pipelineDag(series, spec.way === 'ours');
  let work: Map<string, number>;
  if (spec.variant.name === 'sleep') {
    work = stepWorkMs(events);
  } else {
    work = new Map();
    for (const j of [...byId.values()].sort((a, b) => a.submitMs - b.submitMs)) {
      if (j.state === 'COMPLETED' && j.startMs !== undefined && j.endMs !== undefined)
        work.set(j.key, j.endMs - j.startMs);
    }
  }
  let cp = criticalPath(dag, work);
  // A run that never finished has no measured critical path: use the configured one.
  if (!completed && spec.variant.name === 'sleep')
    cp = {
      ms: nominalCriticalPathS(spec.variant === SLEEP ? durations : scaleDurations) * 1000,
      path: ['(configured)'],
    };

  let faultToRunningMs: number | undefined;
  if (faultAt !== undefined && spec.scenario === 'node-lost') {
    faultToRunningMs = events.find(
      (e) => e.step === 'refine' && (e.event === 'start' || e.event === 'run-start') && e.ms > faultAt!,
    )?.ms;
    if (faultToRunningMs !== undefined) faultToRunningMs -= faultAt;
  }
  if (spec.scenario === 'hang') {
    // From the moment the refine could first have run: its first sbatch, or the extract's
    // end for a refine queued behind it (afterok).
    const firstRefineSubmit = calls.find((c) => c.command === 'sbatch' && /refine/.test(c.args))?.ms;
    const extractEnd = events.find((e) => e.step === 'extract' && e.event === 'end')?.ms;
    const ran = events.find((e) => e.step === 'refine' && e.event === 'run-start')?.ms;
    if (firstRefineSubmit !== undefined && ran !== undefined)
      faultToRunningMs = ran - Math.max(firstRefineSubmit, extractEnd ?? 0);
    fault = 'refine pinned to gpu:a10g:4 (CLOUD node that never boots)';
  }
  const result: RunResult = {
    id: spec.id,
    way: spec.way,
    scenario: spec.scenario,
    variant: spec.variant.name,
    completed,
    boundMs,
    makespanMs,
    criticalPathMs: cp.ms,
    criticalPathFrom: spec.variant.name === 'sleep' ? 'tool log (ms)' : 'sacct (s)',
    requeue: spec.snakemakeRequeue === true,
    ...(failure === undefined ? {} : { failure }),
    driverOutputTail: driver.output().slice(-3000),
    ...(faultToRunningMs === undefined ? {} : { faultToRunningMs }),
    ...(fault === undefined ? {} : { fault }),
    iterationsRedone: iterationsRedone(events),
    jobs,
    calls: summarizeCalls(calls, finishedAt - t0),
    driverRss: rss.stop(),
    othersAtStart,
    otherJobsDuring,
    load1AtStart,
    notes,
  };
  const verdict = completed ? 'completed' : 'NOT completed';
  const noted = notes.length ? `; ${notes.join('; ')}` : '';
  log(
    `  ${verdict} in ${seconds(makespanMs)} (critical path ${seconds(cp.ms)}, ×${ratio(makespanMs / cp.ms)}); ` +
      `jobs ${jobs.submitted} (dup ${jobs.duplicates}, re-run ${jobs.completedRerun}); calls ${result.calls.driver}; ` +
      `RSS ${result.driverRss.treeMb.toFixed(0)} MB${noted}`,
  );
  return result;
}

// ---------------------------------------------------------------------------------------
// The runs.

const scenarios = list('PEERS_SCENARIOS', 'clean,hang,node-lost,driver-killed') as Scenario[];
const ways = list('PEERS_WAYS', 'ours,snakemake,chain') as WayName[];
const cpS = nominalCriticalPathS(durations);
interface ScaleResult {
  readonly series: number;
  readonly completed: boolean;
  readonly makespanMs: number;
  readonly idealMs: number;
  readonly jobs: number;
  readonly overheadPerJobMs: number;
  readonly statusCallsPerMinute: number;
  readonly driverCallsPerMinute: number;
  readonly calls: CallSummary;
  readonly workerRss: RssPeak;
  readonly campaignHistory?: number;
  readonly maxHistory?: number;
  readonly maxHistoryWorkflow?: string;
  readonly workflows?: number;
  readonly othersAtStart: number;
}
const scale: ScaleResult[] = [];
const results: RunResult[] = [];
const harnessErrors: { run: string; error: string }[] = [];

/** The dev cluster is shared: someone may have stopped it. Start it again (never stop it). */
function ensureCluster(): void {
  try {
    execFileSync('bash', [join(repoRoot, 'scripts/dev-cluster.sh'), 'status'], { stdio: 'ignore' });
  } catch {
    log('  the dev cluster is down (stopped by someone else?): starting it');
    execFileSync('bash', [join(repoRoot, 'scripts/dev-cluster.sh'), 'start'], { stdio: 'inherit' });
  }
}

/** One run; a harness failure (cluster gone, …) is recorded and the benchmark goes on. */
async function attempt(
  spec: RunSpec,
  boundMs: number,
  opts: { quiet?: boolean; table?: boolean } = {},
): Promise<RunResult | undefined> {
  try {
    ensureCluster();
    const r = await runOne(spec, boundMs, opts);
    if (opts.table !== false) results.push(r);
    writeFileSync(join(BENCH, 'partial.json'), JSON.stringify({ results, scale, harnessErrors }, null, 2));
    return r;
  } catch (err) {
    const error = (err as Error).message.split('\n').slice(0, 3).join(' ');
    log(`  HARNESS ERROR in ${spec.id}: ${error}`);
    harnessErrors.push({ run: spec.id, error });
    await WAYS[spec.way].stop(spec).catch(() => undefined);
    return undefined;
  }
}
const started = Date.now();

// The staged AreTomo2 for the peers (the campaign stages its own copy; same bytes, same path).
function stageFor(variant: PipelineVariant): void {
  mkdirSync(variant.tools.stageDir, { recursive: true });
  const to = join(variant.tools.stageDir, variant.tools.aretomo2.split('/').at(-1)!);
  copyFileSync(variant.tools.aretomo2, to);
  chmodSync(to, 0o755);
}
stageFor(SLEEP);

for (const scenario of scenarios) {
  if (scenario === 'hang') {
    // Ours relaxes the pin; the peers wait forever: run them together, bounded.
    const bound = 2 * cpS * 1000;
    if (ways.includes('ours')) await attempt(runSpec('ours', 'hang', SLEEP), 4 * cpS * 1000 + 120_000);
    const peers = ways.filter((w) => w !== 'ours');
    if (peers.length > 0) {
      await waitQuiet();
      await Promise.all(peers.map((w) => attempt(runSpec(w, 'hang', SLEEP), bound, { quiet: false })));
    }
    continue;
  }
  for (const way of ways) {
    await attempt(runSpec(way, scenario, SLEEP), 4 * cpS * 1000 + 120_000);
    // Snakemake stops at a NODE_FAIL unless told to leave requeueing to Slurm: both, side by side.
    if (way === 'snakemake' && scenario === 'node-lost')
      await attempt(runSpec(way, scenario, SLEEP, '-rq', true), 4 * cpS * 1000 + 120_000);
  }
}

// The embedded CPU tools on the fast dataset (test/workflow/campaign.test.ts), clean.
if ((process.env.PEERS_EMBEDDED ?? '1') !== '0') {
  const dataDir = join(BENCH, 'data-embedded-fast');
  if (!existsSync(join(dataDir, 'reference.mrc'))) {
    log('making the fast synthetic dataset (embedded/make_dataset.py)');
    execFileSync(EMBEDDED_PYTHON, [MAKE_DATASET, '--out', dataDir, '--size', '128,128,48', '--particles', '8'], {
      stdio: 'ignore',
    });
  }
  const EMBEDDED: PipelineVariant = {
    name: 'embedded',
    spec: embeddedFastSpec(dataDir),
    tools: { aretomo2: ARETOMO2_STANDIN, mpirun: baseConfig.tools.mpirun, stageDir: join(BENCH, 'stage-embedded') },
  };
  stageFor(EMBEDDED);
  for (const way of ways) await attempt(runSpec(way, 'clean', EMBEDDED), 8 * 60_000);
}

// Scale: 10 / 100 / 500 tilt series of sleep jobs through our campaign.
const GPU_SLOTS = 8; // 2 nodes × 4 FAKE t4
for (const n of list('PEERS_SCALE', '10,100,500').map(Number)) {
  if (!ways.includes('ours')) break;
  const variant = sleepVariant(n, scaleTools, 'stage-scale');
  stageFor(variant);
  const spec = runSpec('ours', 'clean', variant, `${n}`);
  const r = await attempt(spec, 20 * 60_000, { table: false });
  if (!r) continue;
  const events = toolEvents(spec.dir);
  const recon = events
    .filter((e) => e.step === 'reconstruct' && e.event === 'end')
    .map((e) => {
      const start = events.find(
        (s) => s.step === 'reconstruct' && s.event === 'start' && s.item === e.item && s.jobId === e.jobId,
      );
      return start ? e.ms - start.ms : scaleDurations.reconstruct * 1000;
    });
  const work = stepWorkMs(events);
  const idealMs =
    listScheduleMs(recon, GPU_SLOTS) +
    (work.get('probe') ?? 0) +
    (work.get('extract') ?? 0) +
    (work.get('refine') ?? 0) +
    (work.get('postprocess') ?? 0);
  const jobs = r.jobs.submitted;
  let history: Pick<ScaleResult, 'campaignHistory' | 'maxHistory' | 'maxHistoryWorkflow' | 'workflows'> = {};
  try {
    await sleep(2000);
    let max = 0;
    let maxId = '';
    let count = 0;
    for await (const wf of env.client.workflow.list({ query: `CryoCampaign = "${spec.id}"` })) {
      count += 1;
      if (wf.historyLength > max) [max, maxId] = [wf.historyLength, `${wf.type} ${wf.workflowId}`];
    }
    const campaign = await env.client.workflow.getHandle(spec.id).describe();
    history = {
      campaignHistory: campaign.historyLength,
      maxHistory: Math.max(max, campaign.historyLength),
      maxHistoryWorkflow: campaign.historyLength >= max ? `campaign ${spec.id}` : maxId,
      workflows: count,
    };
  } catch (err) {
    log(`  history lengths unavailable: ${(err as Error).message}`);
  }
  scale.push({
    series: n,
    completed: r.completed,
    makespanMs: r.makespanMs,
    idealMs,
    jobs,
    overheadPerJobMs: (r.makespanMs - idealMs) / Math.max(1, jobs),
    statusCallsPerMinute: r.calls.statusPerMinute,
    driverCallsPerMinute: r.calls.driverPerMinute,
    calls: r.calls,
    workerRss: r.driverRss,
    ...history,
    othersAtStart: r.othersAtStart,
  });
  const verdict = r.completed ? 'completed' : 'NOT completed';
  log(
    `  scale ${n}: ${verdict} in ${seconds(r.makespanMs)} (ideal ${seconds(idealMs)}); ` +
      `status calls/min ${r.calls.statusPerMinute.toFixed(1)}; RSS ${r.driverRss.treeMb.toFixed(0)} MB; ` +
      `max history ${history.maxHistory ?? '?'}`,
  );
}

const temporalPeak = temporalRss.stop();
await env.teardown();

// ---------------------------------------------------------------------------------------
// Report.

const WAY_LABEL: Record<WayName, string> = {
  ours: 'cryoet-temporal',
  snakemake: 'Snakemake + slurm plugin',
  chain: 'sbatch afterok chain',
};
const label = (r: RunResult) => WAY_LABEL[r.way] + (r.requeue ? ' (--slurm-requeue)' : '');
const mb = (p: RssPeak) => `${p.treeMb.toFixed(0)} MB`;
const rows = results.map((r) => [
  r.variant === 'embedded' ? 'embedded CPU tools · clean' : r.scenario,
  label(r),
  r.completed ? 'yes' : `**no** (${r.notes.find((n) => n.startsWith('did not')) ?? r.failure ?? 'failed'})`,
  r.criticalPathMs <= 0
    ? undefined
    : r.completed
      ? ratio(r.makespanMs / r.criticalPathMs)
      : `> ${ratio(r.makespanMs / r.criticalPathMs)}`,
  `${(r.makespanMs / 1000).toFixed(0)} / ${(r.criticalPathMs / 1000).toFixed(0)}`,
  r.scenario === 'hang'
    ? r.faultToRunningMs !== undefined
      ? seconds(r.faultToRunningMs)
      : 'never (pending)'
    : r.scenario === 'node-lost'
      ? r.faultToRunningMs !== undefined
        ? seconds(r.faultToRunningMs)
        : 'never'
      : r.scenario === 'driver-killed'
        ? 'jobs kept running'
        : undefined,
  r.variant === 'sleep' && r.scenario !== 'clean'
    ? String(r.iterationsRedone)
    : r.iterationsRedone > 0
      ? String(r.iterationsRedone)
      : undefined,
  `${r.jobs.submitted} (${r.jobs.duplicates})${r.jobs.requeues ? ` +${r.jobs.requeues} requeue` : ''}`,
  String(r.jobs.completedRerun),
  `${r.calls.driver} (${r.calls.byKind.status})` +
    (r.calls.byKind['in-job'] ? ` +${r.calls.byKind['in-job']} in-job` : ''),
  mb(r.driverRss),
]);
const mainTable = markdownTable(
  [
    'scenario',
    'way',
    'completed',
    'makespan ÷ critical path',
    'makespan / critical path (s, this machine)',
    'fault → job running again',
    'refine iterations redone',
    'jobs submitted (duplicates)',
    'completed jobs re-run',
    'scheduler calls (status)',
    'driver peak RSS',
  ],
  rows,
);
const scaleTable = markdownTable(
  [
    'tilt series',
    'jobs',
    'completed',
    'makespan ÷ ideal',
    'makespan / ideal (s)',
    'overhead per job',
    'status calls / min',
    'all scheduler calls / min',
    'worker peak RSS',
    'history events: campaign / max of any workflow',
    'workflows',
  ],
  scale.map((s) => [
    s.series,
    s.jobs,
    s.completed ? 'yes' : '**no**',
    ratio(s.makespanMs / s.idealMs),
    `${(s.makespanMs / 1000).toFixed(0)} / ${(s.idealMs / 1000).toFixed(0)}`,
    `${(s.overheadPerJobMs / 1000).toFixed(2)} s`,
    s.statusCallsPerMinute.toFixed(1),
    s.driverCallsPerMinute.toFixed(1),
    mb(s.workerRss),
    s.campaignHistory === undefined ? undefined : `${s.campaignHistory} / ${s.maxHistory}`,
    s.workflows,
  ]),
);
const cpus = execFileSync('nproc', { encoding: 'utf8' }).trim();
const memGiB = (Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1]) / 1048576).toFixed(0);
const slurmVersion = execFileSync('sbatch', ['--version'], { encoding: 'utf8' }).trim();
const snakemakeVersion = readFileSync(join(VENV, '.cryoet-installed'), 'utf8').trim();
const versions = `Slurm ${slurmVersion}; snakemake ${snakemakeVersion}; node ${process.version}`;
const machine = `${cpus} CPUs, ${memGiB} GiB; ${versions}`;
const report = {
  date: new Date().toISOString(),
  machine,
  durations,
  scaleDurations,
  faultAtIteration: FAULT_AT_ITERATION,
  polling: baseConfig.polling,
  hangAfterMs: baseConfig.placement.hangAfter,
  totalMs: Date.now() - started,
  temporalServerRss: temporalPeak,
  results,
  scale,
  harnessErrors,
};
mkdirSync(join(repoRoot, '.dev/bench'), { recursive: true });
writeFileSync(join(repoRoot, '.dev/bench/peers.json'), JSON.stringify(report, null, 2));
const sleepPipeline =
  `5 × reconstruct ${durations.reconstruct} s → extract ${durations.extract} s → ` +
  `refine ${durations.refineIterations} × ${durations.refineIteration} s → postprocess ${durations.postprocess} s ` +
  `(critical path ${cpS} s); faults after refine iteration ${FAULT_AT_ITERATION}`;
const ourPolling =
  `${baseConfig.polling.interval} ms → ${baseConfig.polling.maxInterval} ms, ` +
  `hangAfter ${baseConfig.placement.hangAfter / 1000} s; ` +
  `Temporal dev server peak RSS ${temporalPeak.treeMb.toFixed(0)} MB (not counted as a driver)`;
const scaleSleepJobs =
  `reconstruct ${scaleDurations.reconstruct} s on ${GPU_SLOTS} GPU slots, extract ${scaleDurations.extract} s, ` +
  `refine ${scaleDurations.refineIterations} × ${scaleDurations.refineIteration} s, ` +
  `postprocess ${scaleDurations.postprocess} s`;
const harnessErrorsText = harnessErrors.length
  ? `harness errors (runs not measured):\n${harnessErrors.map((e) => `- ${e.run}: ${e.error}`).join('\n')}\n\n`
  : '';
const runNotes = (r: RunResult) =>
  [
    ...r.notes,
    r.othersAtStart ? `${r.othersAtStart} other jobs queued at start` : '',
    r.otherJobsDuring ? `${r.otherJobsDuring} other jobs ran during the run` : '',
  ]
    .filter(Boolean)
    .join('; ');
const text = `peers benchmark (${new Date().toISOString()}), ${machine}
sleep pipeline: ${sleepPipeline}
our polling ${ourPolling}
total ${(report.totalMs / 60000).toFixed(1)} min

${mainTable}

scale (our campaign, sleep jobs: ${scaleSleepJobs})

${scaleTable}

${harnessErrorsText}notes:
${results
  .filter((r) => r.notes.length || r.othersAtStart || r.otherJobsDuring)
  .map((r) => `- ${r.scenario} · ${label(r)} (${r.variant}): ${runNotes(r)}`)
  .join('\n')}
`;
writeFileSync(join(repoRoot, '.dev/bench/peers.md'), text);
console.log(`\n${text}\nwritten to .dev/bench/peers.json and .dev/bench/peers.md`);
// Everything is written. Exit even if a handle stays open (seen once after a scale-only run:
// the tables were written and the process waited on, 10 min later still alive).
process.exit(0);
