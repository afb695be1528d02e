/**
 * Fault injection for the chaos test and the soak (scripts/soak.ts), on the SECOND dev
 * cluster `dev2` (scripts/dev-cluster.sh with CRYOET_CLUSTER=dev2: own slurmctld, slurmd
 * m1/m2, sshd on 2223, no accounting), never on `dev`, which other suites share.
 *
 * - a Temporal dev server with a SQLite file that can be SIGKILLed and started again on
 *   the same port (its state survives);
 * - worker processes (test/fixtures/chaos-worker.ts) that SIGKILL themselves at a planned
 *   activity, kept alive by a supervisor that starts the next one when one dies;
 * - sshd cut (every connection dropped, listener down for a while), slurmctld stopped and
 *   started, a node lost (slurmd and the job processes under it SIGKILLed, as when the
 *   machine goes: Slurm marks it DOWN after SlurmdTimeout);
 * - a ledger of every Slurm job of the run, from squeue snapshots (ended jobs stay
 *   MinJobAge = 300 s) cross-checked against slurmctld's log of accepted submissions.
 *
 * Slurm commands run locally with dev2's SLURM_CONF (one host), so they work while sshd is down.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { loadConfig } from '../../src/config.js';
import { CryoStage } from '../../src/search-attributes.js';
import type { RunRecord } from '../../src/model/campaign-status.js';
import { parseCampaign } from '../../src/campaign/load.js';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import { EMBEDDED_CAMPAIGN, EMBEDDED_PYTHON, MAKE_DATASET } from '../../src/embedded.js';
import { refineProgress, type RefineProgress } from '../../src/tools/refine-iterations.js';
import { DEV2, dev2Cluster } from './chaos-cluster.js';
import { type LedgerJob, duplicateSubmissions } from './chaos-ledger.js';
import { TemporalDevServer, type ChaosServer } from './chaos-temporal.js';
import { writeDev2Config, type DiePlan, type WorkerLife, WorkerSupervisor } from './chaos-workers.js';

export {
  DEV2,
  dev2Cluster,
  slurm2,
  daemonPid,
  type SshCut,
  cutSsh,
  stopSlurmctld,
  startSlurmctld,
  CHAOS_JOB_PREFIXES,
  cancelLeftovers,
  clearLeakedGres,
  type NodeLoss,
  loseNode,
  restoreNode,
  resetDev2,
  healDev2,
  holdCpus,
} from './chaos-cluster.js';
export { type LedgerJob, SlurmLedger, duplicateSubmissions } from './chaos-ledger.js';
export { TemporalDevServer, type ChaosServer } from './chaos-temporal.js';
export {
  type Dev2ConfigOptions,
  writeDev2Config,
  type DiePlan,
  spawnChaosWorker,
  type WorkerLife,
  WorkerSupervisor,
} from './chaos-workers.js';

// ---- campaign on the file system -------------------------------------------------------------

/** The refine's progress from its files (same host): works while worker and server are down. */
export function refineOnDisk(campaignDir: string): RefineProgress {
  const dir = join(campaignDir, 'Refine3D');
  return refineProgress(existsSync(dir) ? readdirSync(dir) : [], 'run');
}

/** The fast dataset (science.md: 128×128×48, 8 particles a tomogram) on dev2's side; made once, cached. */
export function makeFastDataset(): string {
  const dir = join(DEV2.dir, 'data', FAST_DATASET);
  execFileSync(EMBEDDED_PYTHON, [MAKE_DATASET, '--out', dir, '--size', '128,128,48', '--particles', '8'], {
    stdio: 'ignore',
    timeout: 300_000,
  });
  return dir;
}

export const FAST_DATASET = 'synthetic-10164-fast';

/** The embedded campaign on the fast dataset, every tilt series required, as campaign.test.ts runs it. */
export function fastCampaignSpec(): CampaignSpec {
  const parsed = parseCampaign(readFileSync(EMBEDDED_CAMPAIGN, 'utf8'), 'embedded');
  if (!parsed.ok) throw new Error(`campaigns/embedded-10164.yaml: ${JSON.stringify(parsed.issues)}`);
  const base = parsed.spec;
  return {
    ...base,
    dataDir: FAST_DATASET,
    reconstruction: { ...base.reconstruction, volZ: 48 },
    refine: { ...base.refine, autoLocalHealpixOrder: 2 },
    limits: { maxParallelTiltSeries: 5, minTiltSeries: 5 },
  };
}

// ---- a chaos run -----------------------------------------------------------------------------

/** A Temporal server of our own (SQLite, restartable, unless another is given) and a client on it. */
export interface ChaosEnv<S extends ChaosServer = TemporalDevServer> {
  readonly runDir: string;
  readonly server: S;
  readonly connection: Connection;
  readonly client: Client;
  close(): Promise<void>;
}

export async function startChaosEnv(runDir: string): Promise<ChaosEnv>;
export async function startChaosEnv<S extends ChaosServer>(runDir: string, server: S): Promise<ChaosEnv<S>>;
export async function startChaosEnv(runDir: string, given?: ChaosServer): Promise<ChaosEnv<ChaosServer>> {
  const server = given ?? (await TemporalDevServer.create(runDir));
  await server.start();
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  return {
    runDir,
    server,
    connection,
    client,
    async close() {
      await connection.close().catch(() => undefined);
      await server.stop();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/** A task queue of its own, its temporal.yaml, and a supervisor keeping a worker on it (not started). */
export async function chaosWorkers(
  env: ChaosEnv<ChaosServer>,
  name: string,
  plans: DiePlan[],
  onDeath?: (life: WorkerLife) => Promise<void>,
  work?: string,
  aretomo2?: string,
) {
  const configFile = writeDev2Config({
    port: env.server.port,
    taskQueue: `${name}-${env.server.port}`,
    dir: join(env.runDir, name),
    ...(work ? { work } : {}),
    ...(aretomo2 ? { aretomo2 } : {}),
  });
  const config = await loadConfig(configFile);
  return { configFile, config, supervisor: new WorkerSupervisor(configFile, plans, onDeath) };
}

/** The campaign's result, waiting through Temporal server outages; a failed campaign throws. */
export async function resultThroughOutages(handle: WorkflowHandle, limitMs: number): Promise<RunRecord> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return (await handle.result()) as RunRecord;
    } catch (err) {
      if (err instanceof WorkflowFailedError || Date.now() > deadline) throw err;
      await sleep(1000); // server down or restarting: the long poll failed, not the campaign
    }
  }
}

/** The campaign's CryoStage search attribute (from the server: no worker needed), or undefined. */
export async function stageOf(handle: WorkflowHandle): Promise<string | undefined> {
  return handle.describe().then(
    (d) => d.typedSearchAttributes.get(CryoStage),
    () => undefined,
  );
}

/** What can go wrong with a campaign's outcome; every list empty is the goal. */
export interface CampaignCheck {
  /** Job names (one attempt each) with more than one job id: submitted twice. */
  readonly duplicates: { name: string; ids: string[] }[];
  /** Steps (job name less the attempt) with more than one COMPLETED job: a finished step run again. */
  readonly rerunSteps: string[];
  /** Outputs whose file's sha256 is not the one the run record gives. */
  readonly checksumMismatches: string[];
  /** run-record.json on the cluster is not the workflow's result. */
  readonly recordMismatch: boolean;
}

/** Checks a completed campaign against Slurm's records (its jobs in the ledger) and its files. */
export function checkCampaign(record: RunRecord, jobs: readonly LedgerJob[]): CampaignCheck {
  const completed = new Map<string, number>();
  for (const j of jobs) {
    if (j.lastState !== 'COMPLETED') continue;
    // `<step>-again` is the same step run again after its queued job never ran.
    const step = j.name.replace(/-\d+$/, '').replace(/-again(?=\.)/, '');
    completed.set(step, (completed.get(step) ?? 0) + 1);
  }
  const checksumMismatches = record.outputs
    .filter(
      (out) =>
        !existsSync(out.path) || createHash('sha256').update(readFileSync(out.path)).digest('hex') !== out.sha256,
    )
    .map((out) => out.path);
  let recordMismatch = true;
  try {
    recordMismatch = JSON.stringify(JSON.parse(readFileSync(record.recordPath, 'utf8'))) !== JSON.stringify(record);
  } catch {
    // missing or unreadable: a mismatch
  }
  return {
    duplicates: duplicateSubmissions(jobs),
    rerunSteps: [...completed.entries()].filter(([, n]) => n > 1).map(([step]) => step),
    checksumMismatches,
    recordMismatch,
  };
}

/** The innermost message of a workflow failure: what actually went wrong. */
export { innermostMessage } from '../../src/errors.js';

/** Starts dev2 unless it runs; true when this call started it (then stop it when done). */
export function ensureDev2(): boolean {
  let running = false;
  try {
    dev2Cluster('status');
    running = true;
  } catch {
    running = false; // status exits 3 when a daemon is stopped
  }
  dev2Cluster('start');
  return !running;
}
