/**
 * Soak: many campaigns on the second dev cluster `dev2`, each hit by one or two faults
 * chosen at random (seeded), at a random stage; then, per campaign, the same checks as the
 * chaos tests: completed, every attempt submitted once (from Slurm's records), no completed
 * step run again, every output's checksum as recorded.
 *
 *   npm run soak -- [--campaigns 20] [--concurrency 2] [--seed 1] [--limit-min 90] [--json FILE]
 *
 * Faults (test/helpers/chaos.ts): the worker SIGKILLed at a stage or mid-job, the Temporal
 * server SIGKILLed and restarted on its SQLite file, sshd cut (connections dropped, 3 s
 * down), slurmctld stopped for 10 s, the refine's node lost (slurmd + job SIGKILLed; DOWN
 * after SlurmdTimeout) or set DOWN (spot reclaim), the same campaign started again. One
 * fault at a time across the run; each bounded in time. All campaigns share one Temporal
 * dev server (SQLite, under .dev/soak/) and one worker process, so a fault aimed at one
 * campaign hits whatever else is running too.
 *
 * Prints a table and a JSON summary; exits 1 if any campaign did not complete or any
 * check failed. Needs what `npm test` needs (scripts/setup.sh); starts dev2 and stops it
 * again if it was not running. Never touches the `dev` cluster.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { campaignInput, type CampaignInput } from '../src/campaign/input.js';
import { startCampaign } from '../src/client.js';
import type { CryoConfig } from '../src/config.js';
import type { RunRecord } from '../src/model/campaign-status.js';
import {
  chaosWorkers,
  checkCampaign,
  clearLeakedGres,
  cutSsh,
  dev2Cluster,
  ensureDev2,
  fastCampaignSpec,
  healDev2,
  resetDev2,
  innermostMessage,
  loseNode,
  makeFastDataset,
  refineOnDisk,
  resultThroughOutages,
  slurm2,
  SlurmLedger,
  stageOf,
  startChaosEnv,
  startSlurmctld,
  stopSlurmctld,
  type CampaignCheck,
  type ChaosEnv,
  type WorkerSupervisor,
} from '../test/helpers/chaos.js';
import { repoRoot, uniqueId } from '../test/helpers/env.js';

const { values: opts } = parseArgs({
  options: {
    campaigns: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    'limit-min': { type: 'string', default: '90' },
    json: { type: 'string' },
  },
});
const CAMPAIGNS = Number(opts.campaigns);
const CONCURRENCY = Number(opts.concurrency);
const SEED = Number(opts.seed);
if (!Number.isInteger(SEED)) {
  console.error('soak: --seed must be a whole number');
  process.exit(2);
}
const LIMIT_MS = Number(opts['limit-min']) * 60_000;
/** One campaign's bound: it completes within this or is terminated and counted as timed out. */
const CAMPAIGN_LIMIT_MS = 15 * 60_000;
for (const [name, value] of [
  ['--campaigns', CAMPAIGNS],
  ['--concurrency', CONCURRENCY],
  ['--limit-min', LIMIT_MS],
] as const) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`soak: ${name} must be a positive whole number`);
    process.exit(2);
  }
}

/** mulberry32: a small seeded PRNG, so a soak run can be repeated fault for fault. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const KINDS = [
  'worker-kill',
  'worker-kill-mid-job',
  'temporal-restart',
  'ssh-cut',
  'slurmctld-restart',
  'node-loss',
  'node-down',
  'duplicate-start',
] as const;
type FaultKind = (typeof KINDS)[number];
const STAGES = ['inspect', 'stage', 'probe', 'reconstruct', 'extract', 'refine', 'postprocess', 'record', 'done'];
/** Stages a stage-triggered fault is aimed at (record and done pass too fast to aim at). */
const AIM = ['inspect', 'probe', 'reconstruct', 'extract', 'refine', 'postprocess'];
/** Faults that need the refine running (its node, its job). */
const AT_REFINE = new Set<FaultKind>(['worker-kill-mid-job', 'node-loss', 'node-down']);

interface Fault {
  readonly kind: FaultKind;
  readonly stage: string;
  injected?: { atS: number; stage: string; detail: string };
}

interface Run {
  readonly index: number;
  readonly faults: Fault[];
  input?: CampaignInput;
  handle?: WorkflowHandle;
  startedAt?: number;
  seconds?: number;
  outcome?: 'completed' | 'failed' | 'timed out';
  error?: string;
  record?: RunRecord;
  check?: CampaignCheck;
  jobs?: number;
  duplicateStartAccepted?: boolean;
}

const runs: Run[] = Array.from({ length: CAMPAIGNS }, (_, index) => {
  const kinds = new Set<FaultKind>([pick(KINDS)]);
  if (random() < 0.5) kinds.add(pick(KINDS));
  return { index, faults: [...kinds].map((kind) => ({ kind, stage: AT_REFINE.has(kind) ? 'refine' : pick(AIM) })) };
});

// ---- the run ---------------------------------------------------------------------------------

const t0 = Date.now();
const elapsed = () => Math.round((Date.now() - t0) / 1000);
const log = (line: string) => console.log(`[${String(elapsed()).padStart(5)} s] ${line}`);
const startedDev2 = ensureDev2();
makeFastDataset();
await resetDev2();
const env: ChaosEnv = await startChaosEnv(join(repoRoot, '.dev', 'soak', uniqueId(`seed${SEED}`)));
const { config, supervisor }: { config: CryoConfig; supervisor: WorkerSupervisor } = await chaosWorkers(
  env,
  'soak',
  [],
);
const ledger = new SlurmLedger();
ledger.start(1000);
supervisor.start();
let gresLeaksCleared = 0;
let ctldRestarts = 0;

/** One fault at a time across the whole run. */
let faultLock: Promise<unknown> = Promise.resolve();
function exclusively<T>(body: () => Promise<T>): Promise<T> {
  const next = faultLock.then(body, body);
  faultLock = next.catch(() => undefined);
  return next;
}

/** A job of this campaign running its refine, if any. */
async function refineJob(run: Run): Promise<{ id: string; node: string } | undefined> {
  const out = await slurm2(['squeue', '-h', '-t', 'RUNNING', '-o', '%i|%j|%N']).catch(() => '');
  for (const line of out.split('\n')) {
    const [id, name, node] = line.trim().split('|');
    if (id && node && name?.startsWith(`cryoet.${run.input!.id}.refine.`)) return { id, node };
  }
  return undefined;
}

/** Waits (bounded) until the campaign's refine runs as a job other than `jobId`, or the campaign ended. */
async function refineAgain(run: Run, jobId: string): Promise<string> {
  for (const deadline = Date.now() + 4 * 60_000; Date.now() < deadline; await sleep(1000)) {
    if (run.outcome) return 'campaign ended first';
    const again = await refineJob(run);
    if (again && again.id !== jobId) return `running again as ${again.id} on ${again.node}`;
  }
  return 'not running again after 4 min';
}

/** Injects one fault; returns what it did, or undefined when its moment has not come. */
async function inject(run: Run, fault: Fault, stage: string): Promise<string | undefined> {
  switch (fault.kind) {
    case 'worker-kill':
      await supervisor.killCurrent();
      return 'worker SIGKILL';
    case 'worker-kill-mid-job': {
      const job = await refineJob(run);
      if (!job) return undefined;
      await supervisor.killCurrent();
      return `worker SIGKILL with refine ${job.id} running`;
    }
    case 'temporal-restart':
      await env.server.kill9();
      await sleep(2000);
      await env.server.start();
      return 'server SIGKILL, up again';
    case 'ssh-cut': {
      const cut = await cutSsh(3000, { waitForExecMs: 3000 });
      return `${cut.connections} connection(s) dropped; running: ${cut.execsInFlight.join(',') || 'none'}`;
    }
    case 'slurmctld-restart': {
      await stopSlurmctld();
      await sleep(10_000);
      await startSlurmctld();
      ctldRestarts += 1;
      return 'slurmctld down 10 s';
    }
    case 'node-loss':
    case 'node-down': {
      const job = await refineJob(run);
      if (!job || (refineOnDisk(run.input!.layout.dir).newestComplete ?? -1) < 1) return undefined;
      if (fault.kind === 'node-loss') {
        const loss = await loseNode(job.node);
        const after = await refineAgain(run, job.id);
        await healDev2();
        return `${loss.node} lost (${loss.killed} processes); ${after}`;
      }
      await slurm2(['scontrol', 'update', `NodeName=${job.node}`, 'State=DOWN', 'Reason=soak-spot-reclaim']);
      const after = await refineAgain(run, job.id);
      await slurm2(['scontrol', 'update', `NodeName=${job.node}`, 'State=RESUME']).catch(() => '');
      return `${job.node} DOWN under refine ${job.id}; ${after}`;
    }
    case 'duplicate-start': {
      const second = await startCampaign(env.client, config, run.input!).then(
        () => 'started',
        (err: unknown) => err,
      );
      run.duplicateStartAccepted = !(second instanceof WorkflowExecutionAlreadyStartedError);
      return run.duplicateStartAccepted ? 'SECOND START ACCEPTED' : 'refused (WorkflowExecutionAlreadyStartedError)';
    }
  }
  void stage;
}

async function runCampaign(run: Run): Promise<void> {
  run.input = campaignInput(config, fastCampaignSpec(), uniqueId(`soak-${run.index + 1}`));
  run.startedAt = Date.now();
  run.handle = await startCampaign(env.client, config, run.input);
  const faults = run.faults.map((f) => `${f.kind}@${f.stage}`).join(', ');
  log(`campaign ${run.index + 1}/${CAMPAIGNS} ${run.input.id}: faults ${faults}`);
  const result = resultThroughOutages(run.handle, CAMPAIGN_LIMIT_MS).then(
    (record) => {
      run.record = record;
      run.outcome = 'completed';
    },
    (err: unknown) => {
      run.error = innermostMessage(err);
      run.outcome = Date.now() - run.startedAt! >= CAMPAIGN_LIMIT_MS ? 'timed out' : 'failed';
    },
  );
  // Faults, each when the campaign first reaches (or passes) its stage.
  while (!run.outcome) {
    const stage = (await stageOf(run.handle)) ?? 'inspect';
    for (const fault of run.faults) {
      if (fault.injected || STAGES.indexOf(stage) < STAGES.indexOf(fault.stage) || run.outcome) continue;
      await exclusively(async () => {
        if (fault.injected || run.outcome) return;
        const now = (await stageOf(run.handle!)) ?? stage;
        const detail = await inject(run, fault, now).catch((err: Error) => `injection failed: ${err.message}`);
        if (detail !== undefined) {
          fault.injected = { atS: Math.round((Date.now() - run.startedAt!) / 1000), stage: now, detail };
          log(`  ${run.input!.id}: ${fault.kind} at ${now}: ${detail}`);
        }
      });
    }
    if (Date.now() - run.startedAt > CAMPAIGN_LIMIT_MS) {
      await run.handle.terminate('soak: campaign limit reached').catch(() => undefined);
    }
    await sleep(500);
  }
  await result;
  run.seconds = Math.round((Date.now() - run.startedAt) / 1000);
  await ledger.poll();
  const jobs = ledger.of(run.input.id);
  run.jobs = jobs.length;
  if (run.record) run.check = checkCampaign(run.record, jobs);
  const error = run.error ? `: ${run.error.slice(0, 300)}` : '';
  log(`campaign ${run.index + 1} ${run.input.id}: ${run.outcome} in ${run.seconds} s${error}`);
}

// K at a time; no new campaign after the overall limit.
const queue = [...runs];
const housekeeping = (async () => {
  // Slurm 22.05 can leave GPUs counted as used after a controller restart (see RELIABILITY.md):
  // clear such leaks when no fault is being injected.
  for (let tick = 1; queue.length > 0 || runs.some((r) => r.startedAt && r.seconds === undefined); tick++) {
    await sleep(1000);
    if (tick % 30 !== 0) continue;
    if (await exclusively(() => clearLeakedGres().catch(() => false))) {
      gresLeaksCleared += 1;
      log('cleared GPUs Slurm kept counting as used after a restart (slurmctld restarted)');
    }
  }
})();
await Promise.all(
  Array.from({ length: Math.min(CONCURRENCY, runs.length) }, async () => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      if (Date.now() - t0 > LIMIT_MS) {
        log(`limit of ${opts['limit-min']} min reached: campaign ${run.index + 1} not started`);
        continue;
      }
      await runCampaign(run);
    }
  }),
);
await housekeeping;
await ledger.stop();
await supervisor.stop();
const logged = ledger.submittedIds();
const unseen = logged.filter((id) => !ledger.jobs.has(id));
await healDev2().catch(() => undefined);
await env.close();
if (startedDev2) dev2Cluster('stop');

// ---- report ----------------------------------------------------------------------------------

const started = runs.filter((r) => r.outcome);
const injected = started.flatMap((r) => r.faults.filter((f) => f.injected));
const byKind = Object.fromEntries(KINDS.map((k) => [k, injected.filter((f) => f.kind === k).length]));
const summary = {
  seed: SEED,
  campaigns: started.length,
  concurrency: CONCURRENCY,
  completed: started.filter((r) => r.outcome === 'completed').length,
  failed: started.filter((r) => r.outcome === 'failed').length,
  timedOut: started.filter((r) => r.outcome === 'timed out').length,
  faultsInjected: injected.length,
  faultsByKind: byKind,
  faultsNotInjected: started.flatMap((r) =>
    r.faults.filter((f) => !f.injected).map((f) => `${r.input!.id} ${f.kind}@${f.stage}`),
  ),
  duplicateSubmissions: started.reduce((n, r) => n + (r.check?.duplicates.length ?? 0), 0),
  rerunSteps: started.reduce((n, r) => n + (r.check?.rerunSteps.length ?? 0), 0),
  checksumMismatches: started.reduce((n, r) => n + (r.check?.checksumMismatches.length ?? 0), 0),
  recordMismatches: started.filter((r) => r.check?.recordMismatch).length,
  duplicateStartsAccepted: started.filter((r) => r.duplicateStartAccepted).length,
  submissionsUnseenBySnapshots: unseen.length,
  slurmJobs: started.reduce((n, r) => n + (r.jobs ?? 0), 0),
  slurmctldRestartsByFaults: ctldRestarts,
  gresLeaksCleared,
  meanCampaignSeconds: Math.round(started.reduce((s, r) => s + (r.seconds ?? 0), 0) / Math.max(1, started.length)),
  wallSeconds: elapsed(),
  failures: started
    .filter((r) => r.outcome !== 'completed')
    .map((r) => ({ id: r.input!.id, outcome: r.outcome, error: r.error })),
};

const rows = started.map((r) => [
  String(r.index + 1),
  r.input!.id,
  r.faults.map((f) => `${f.kind}@${f.injected?.stage ?? `(${f.stage}, not reached)`}`).join(', '),
  r.outcome!,
  String(r.seconds),
  String(r.jobs),
  String(r.check?.duplicates.length ?? '-'),
  String(r.check?.rerunSteps.length ?? '-'),
  String(r.check?.checksumMismatches.length ?? '-'),
]);
const head = ['#', 'campaign', 'faults (kind@stage injected)', 'outcome', 's', 'jobs', 'dup', 'rerun', 'sha'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(['', line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line), ''].join('\n'));
console.log(JSON.stringify(summary, null, 2));
if (opts.json) {
  mkdirSync(join(opts.json, '..'), { recursive: true });
  writeFileSync(
    opts.json,
    JSON.stringify(
      {
        summary,
        campaigns: started.map((r) => ({
          id: r.input!.id,
          faults: r.faults,
          outcome: r.outcome,
          seconds: r.seconds,
          jobs: r.jobs,
          check: r.check,
          error: r.error,
        })),
      },
      null,
      2,
    ) + '\n',
  );
}
const clean =
  summary.completed === started.length &&
  summary.duplicateSubmissions +
    summary.rerunSteps +
    summary.checksumMismatches +
    summary.recordMismatches +
    summary.duplicateStartsAccepted +
    summary.submissionsUnseenBySnapshots ===
    0;
process.exit(clean ? 0 : 1);
