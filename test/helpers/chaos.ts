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
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'node:net';
import { createHash } from 'node:crypto';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { loadConfig } from '../../src/config.js';
import { CryoStage, cryoSearchAttributes } from '../../src/search-attributes.js';
import type { RunRecord } from '../../src/model/campaign-status.js';
import { parseCampaign } from '../../src/campaign/load.js';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import { EMBEDDED_CAMPAIGN, EMBEDDED_PYTHON, MAKE_DATASET } from '../../src/embedded.js';
import { JOB_NAME_PREFIX } from '../../src/slurm/job-key.js';
import { refineProgress, type RefineProgress } from '../../src/tools/refine-iterations.js';
import { freePort, repoRoot } from './env.js';
import { spawnWorkerProcess, type WorkerProcess } from './worker-process.js';
import { failedWorkflowTaskLines } from './worker.js';

const run = promisify(execFile);

/**
 * Processes this file started (Temporal servers, workers): killed if the test process is
 * stopped before its `after` hooks run (a file-level timeout sends SIGTERM), so nothing
 * of a chaos run outlives it.
 */
const children = new Set<ChildProcess>();
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
  });
}

// ---- dev2 ------------------------------------------------------------------------------------

/** dev2's state folder, config and ports (scripts/dev-cluster.sh). */
export const DEV2 = {
  dir: join(repoRoot, '.dev', 'cluster-dev2'),
  get slurmConf() {
    return join(this.dir, 'etc', 'slurm.conf');
  },
  sshPort: 2223,
  nodes: ['m1', 'm2'] as const,
};

const slurmEnv = () => ({ ...process.env, SLURM_CONF: DEV2.slurmConf });

/** `scripts/dev-cluster.sh <command>` for dev2. */
export function dev2Cluster(command: 'start' | 'stop' | 'status'): string {
  return execFileSync('bash', [join(repoRoot, 'scripts/dev-cluster.sh'), command], {
    env: { ...process.env, CRYOET_CLUSTER: 'dev2' },
    encoding: 'utf8',
    timeout: 90_000,
  });
}

/** A Slurm command on dev2 (locally, with its SLURM_CONF); throws on a non-zero exit. */
export async function slurm2(argv: string[], timeoutMs = 20_000): Promise<string> {
  const { stdout } = await run(argv[0]!, argv.slice(1), { env: slurmEnv(), timeout: timeoutMs, encoding: 'utf8' });
  return stdout;
}

/** The pid in a dev2 daemon's pid file, when that process is alive (not a zombie). */
export function daemonPid(name: string): number | undefined {
  const file = join(DEV2.dir, 'run', `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return alive(pid) ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly cmdline: string;
}

/** Every live process: pid, parent, command name and line. */
function processTable(): Proc[] {
  const procs: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      if (fields[0] === 'Z') continue;
      procs.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        comm: stat.slice(stat.indexOf('(') + 1, close),
        cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim(),
      });
    } catch {
      // gone meanwhile
    }
  }
  return procs;
}

/** `roots` and all their descendants. */
function withDescendants(table: Proc[], roots: number[]): Proc[] {
  const out = new Map<number, Proc>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    for (const p of table) {
      if ((p.pid === pid || p.ppid === pid) && !out.has(p.pid)) {
        out.set(p.pid, p);
        if (p.pid !== pid) queue.push(p.pid);
      }
    }
  }
  return [...out.values()];
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`chaos: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** What an sshd cut found and did. */
export interface SshCut {
  /** Client connections dropped (per-connection sshd processes killed). */
  readonly connections: number;
  /** Remote commands that were running at the cut (an exec in flight), by name. */
  readonly execsInFlight: string[];
  readonly downMs: number;
}

/**
 * Cuts SSH to dev2: SIGKILLs every per-connection sshd (the worker's link drops mid-exec if
 * one is running) and stops the listener, so reconnects are refused for `downMs`; then
 * starts sshd again the way scripts/dev-cluster.sh does.
 */
export async function cutSsh(downMs: number, options: { waitForExecMs?: number } = {}): Promise<SshCut> {
  const listener = daemonPid('sshd');
  if (listener === undefined) throw new Error('chaos: dev2 sshd is not running');
  const running = (t: Proc[]) =>
    withDescendants(t, [listener]).filter((p) => p.comm !== 'sshd' && p.comm !== 'sshd-session');
  let table = processTable();
  // "During an exec": wait (bounded) until a remote command is running under sshd.
  for (
    const deadline = Date.now() + (options.waitForExecMs ?? 0);
    running(table).length === 0 && Date.now() < deadline;
    table = processTable()
  )
    await sleep(50);
  const tree = withDescendants(table, [listener]);
  const connections = tree.filter((p) => p.ppid === listener);
  const execsInFlight = running(table).map((p) => p.comm);
  // Every sshd process of the tree (listener, per-connection monitor and session): the sockets close.
  for (const p of tree) if (p.comm === 'sshd' || p.comm === 'sshd-session') killQuietly(p.pid, 'SIGKILL');
  const stoppedAt = Date.now();
  await waitFor('sshd to stop listening', async () => !(await portOpen(DEV2.sshPort)), 10_000);
  await sleep(Math.max(0, downMs - (Date.now() - stoppedAt)));
  mkdirSync('/run/sshd', { recursive: true });
  execFileSync(
    '/usr/sbin/sshd',
    ['-f', join(DEV2.dir, 'etc', 'sshd_config'), '-E', join(DEV2.dir, 'log', 'sshd.log')],
    { timeout: 10_000 },
  );
  await waitFor('sshd to listen again', () => portOpen(DEV2.sshPort), 10_000);
  return { connections: connections.length, execsInFlight, downMs: Date.now() - stoppedAt };
}

/** Stops dev2's slurmctld (SIGTERM, as an operator or a crash-restart would) and waits until it is gone. */
export async function stopSlurmctld(): Promise<void> {
  const pid = daemonPid('slurmctld');
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  await waitFor('slurmctld to exit', () => !alive(pid), 30_000);
}

/**
 * Starts dev2's slurmctld again (state from StateSaveLocation) and waits until it answers
 * and every node whose slurmd runs has registered. Slurm 22.05 allocates pending jobs as soon
 * as it is up; a job allocated before its node registered leaves its GPUs counted as used
 * (GresUsed) after it ends, until the next restart — measured here, see RELIABILITY.md.
 */
export async function startSlurmctld(): Promise<void> {
  execFileSync('slurmctld', [], { env: slurmEnv(), timeout: 20_000 });
  await waitFor(
    'slurmctld to answer',
    async () => (await slurm2(['scontrol', 'ping']).catch(() => '')).includes('UP'),
    20_000,
    200,
  );
  const live = DEV2.nodes.filter((n) => daemonPid(`slurmd-${n}`) !== undefined);
  await waitFor(
    `nodes ${live.join(',')} to register`,
    async () => {
      const out = await slurm2(['sinfo', '-h', '-N', '-n', live.join(','), '-o', '%N %T']).catch(() => '');
      const states = out
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[1] ?? '');
      return states.length > 0 && states.every((st) => st !== 'unknown' && !st.endsWith('*'));
    },
    30_000,
    200,
  );
}

/** Name prefixes of the jobs chaos runs submit on dev2 (campaign ids `chaos-*`, `out-*`, `soak-*`, and blockers). */
export const CHAOS_JOB_PREFIXES = ['cryoet.chaos-', 'cryoet.out-', 'cryoet.soak-', 'chaos-blocker'];

/** Cancels jobs an interrupted chaos run left on dev2 (its campaign went with its Temporal server). */
export async function cancelLeftovers(prefixes = CHAOS_JOB_PREFIXES): Promise<string[]> {
  const out = await slurm2(['squeue', '-h', '-t', 'PENDING,RUNNING,CONFIGURING,SUSPENDED', '-o', '%i|%j']).catch(
    () => '',
  );
  const ids = out
    .split('\n')
    .map((l) => l.trim().split('|'))
    .filter(([id, name]) => id && name && prefixes.some((p) => name.startsWith(p)))
    .map(([id]) => id!);
  if (ids.length > 0) await slurm2(['scancel', ...ids]);
  return ids;
}

/** GPUs counted as used on a node that runs no job (the leak above); true when a restart cleared some. */
export async function clearLeakedGres(): Promise<boolean> {
  const used = await slurm2(['sinfo', '-h', '-N', '-n', DEV2.nodes.join(','), '-O', 'NodeList:20,GresUsed:60']);
  const leaking: string[] = [];
  for (const line of new Set(used.trim().split('\n'))) {
    // `m1  gpu:t4:3(IDX:0-2)`: the count is the last field before the index list.
    const [node, gres] = line.trim().split(/\s+/);
    const count = Number((gres ?? '').split('(')[0]!.split(':').at(-1));
    if (!node || !(count > 0)) continue;
    const jobs = (
      await slurm2(['squeue', '-h', '-t', 'RUNNING,COMPLETING,CONFIGURING', '-w', node, '-o', '%i'])
    ).trim();
    if (jobs === '') leaking.push(node);
  }
  if (leaking.length === 0) return false;
  await stopSlurmctld();
  await startSlurmctld();
  return true;
}

/** What a node loss killed. */
export interface NodeLoss {
  readonly node: string;
  readonly jobs: string[];
  /** slurmd, its job steps and every process under them. */
  readonly killed: number;
}

/**
 * Loses a node the way a machine dies: SIGKILL its slurmd, then the step daemons of the
 * jobs on it and every process under them (killing slurmd alone leaves the job running on
 * one host). Nothing tells slurmctld; it marks the node DOWN after SlurmdTimeout (10 s,
 * seen after ~30 s) and the jobs end NODE_FAIL.
 */
export async function loseNode(node: string): Promise<NodeLoss> {
  const slurmd = daemonPid(`slurmd-${node}`);
  if (slurmd === undefined) throw new Error(`chaos: slurmd of ${node} is not running`);
  const jobs = (await slurm2(['squeue', '-h', '-w', node, '-t', 'RUNNING,COMPLETING', '-o', '%i']))
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const table = processTable();
  const steps = table.filter((p) => {
    const m = /slurmstepd: \[(\d+)\./.exec(p.cmdline);
    if (!m || !jobs.includes(m[1]!)) return false;
    try {
      return readFileSync(`/proc/${p.pid}/environ`, 'utf8').split('\0').includes(`SLURM_CONF=${DEV2.slurmConf}`);
    } catch {
      return false;
    }
  });
  const victims = withDescendants(
    table,
    steps.map((p) => p.pid),
  );
  killQuietly(slurmd, 'SIGKILL');
  for (const p of victims) killQuietly(p.pid, 'SIGKILL');
  return { node, jobs, killed: 1 + victims.length };
}

/** Brings a lost node back: slurmd again, and RESUME should it still be DOWN. */
export async function restoreNode(node: string): Promise<void> {
  if (daemonPid(`slurmd-${node}`) === undefined)
    execFileSync('slurmd', ['-N', node], { env: slurmEnv(), timeout: 20_000 });
  await waitFor(
    `${node} to register`,
    async () => {
      const state = (await slurm2(['sinfo', '-h', '-N', '-n', node, '-o', '%T']).catch(() => '')).trim();
      if (/down|drain|fail/i.test(state))
        await slurm2(['scontrol', 'update', `NodeName=${node}`, 'State=RESUME']).catch(() => '');
      return /^(idle|mixed|allocated)/.test(state);
    },
    60_000,
    500,
  );
}

/** Before a chaos run: dev2 healed, and the jobs an interrupted earlier run left cancelled. */
export async function resetDev2(): Promise<void> {
  await healDev2();
  await cancelLeftovers();
}

/** Puts dev2 back as scripts/dev-cluster.sh leaves it: every daemon up, every node in service (jobs untouched). */
export async function healDev2(): Promise<void> {
  if (daemonPid('slurmctld') === undefined) await startSlurmctld();
  for (const node of DEV2.nodes) await restoreNode(node);
  await clearLeakedGres();
  if (!(await portOpen(DEV2.sshPort))) {
    execFileSync(
      '/usr/sbin/sshd',
      ['-f', join(DEV2.dir, 'etc', 'sshd_config'), '-E', join(DEV2.dir, 'log', 'sshd.log')],
      { timeout: 10_000 },
    );
  }
}

/**
 * Holds `cpus` CPUs of `node` with a job outside any campaign, so the campaign's jobs queue
 * behind it (PENDING, Resources); returns its id. CPUs, not GPUs: a GPU blocker cancelled
 * right after a slurmctld restart once left its GPUs counted as used on the node (GresUsed)
 * until the next restart (Slurm 22.05, slurm.conf changed under running slurmd).
 */
export async function holdCpus(node: string, cpus: number, name = 'chaos-blocker'): Promise<string> {
  const out = await slurm2([
    'sbatch',
    '--parsable',
    '-p',
    'gpu',
    '-c',
    String(cpus),
    '-w',
    node,
    '-J',
    name,
    '-o',
    '/dev/null',
    '--wrap',
    'sleep 900',
  ]);
  return out.trim().split(';')[0]!;
}

// ---- Slurm's records -------------------------------------------------------------------------

/** One Slurm job as squeue showed it. */
export interface LedgerJob {
  readonly id: string;
  readonly name: string;
  readonly states: Set<string>;
  nodes: string;
  lastState: string;
}

/**
 * Every job dev2 knew during a run: squeue -t all snapshots every `everyMs` (finished jobs
 * stay MinJobAge = 300 s, far longer than between snapshots, so none is missed while the
 * controller is up; nothing is submitted while it is down), and slurmctld's own log of
 * each submission it accepted, from where the log stood at start().
 */
export class SlurmLedger {
  readonly jobs = new Map<string, LedgerJob>();
  #timer: NodeJS.Timeout | undefined;
  #logOffset = 0;
  #polling: Promise<void> | undefined;
  snapshots = 0;

  start(everyMs = 1000): void {
    const log = join(DEV2.dir, 'log', 'slurmctld.log');
    this.#logOffset = existsSync(log) ? statSync(log).size : 0;
    const tick = () => {
      this.#polling = this.poll().finally(() => {
        if (this.#timer !== undefined) this.#timer = setTimeout(tick, everyMs);
      });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#polling;
    await this.poll();
  }

  async poll(): Promise<void> {
    let out: string;
    try {
      out = await slurm2(['squeue', '-h', '-t', 'all', '-o', '%i|%j|%T|%N'], 15_000);
    } catch {
      return; // controller down: nothing can be submitted either
    }
    this.snapshots += 1;
    for (const line of out.split('\n')) {
      const [id, name, state, nodes] = line.trim().split('|');
      if (!id || !name || !state) continue;
      let job = this.jobs.get(id);
      if (!job) {
        job = { id, name, states: new Set(), nodes: nodes ?? '', lastState: state };
        this.jobs.set(id, job);
      }
      job.states.add(state);
      job.lastState = state;
      if (nodes) job.nodes = nodes;
    }
  }

  /** Jobs whose name carries `workflowIdPrefix` (a campaign id: all its steps). */
  of(workflowIdPrefix: string): LedgerJob[] {
    const prefix = `${JOB_NAME_PREFIX}${workflowIdPrefix.replaceAll('/', '.')}.`;
    return [...this.jobs.values()].filter((j) => j.name.startsWith(prefix)).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** Job ids slurmctld logged as accepted submissions since start(). */
  submittedIds(): string[] {
    const log = readFileSync(join(DEV2.dir, 'log', 'slurmctld.log'));
    return [
      ...log
        .subarray(this.#logOffset)
        .toString('utf8')
        .matchAll(/_slurm_rpc_submit_batch_job: JobId=(\d+)/g),
    ].map((m) => m[1]!);
  }
}

/** Job names with more than one job id: each is an attempt submitted twice. */
export function duplicateSubmissions(jobs: readonly LedgerJob[]): { name: string; ids: string[] }[] {
  const byName = new Map<string, string[]>();
  for (const j of jobs) byName.set(j.name, [...(byName.get(j.name) ?? []), j.id]);
  return [...byName.entries()].filter(([, ids]) => ids.length > 1).map(([name, ids]) => ({ name, ids }));
}

// ---- Temporal --------------------------------------------------------------------------------

/** The CLI's names for search attribute types (as scripts/temporal-dev.ts, which runs on import). */
const SA_TYPE: Record<string, string> = {
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  TEXT: 'Text',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};
const searchAttributeFlags = () =>
  cryoSearchAttributes.flatMap((k) => ['--search-attribute', `${k.name}=${SA_TYPE[k.type]}`]);

/**
 * `temporal server start-dev` with a SQLite file, on a fixed port, that a test can SIGKILL
 * and start again: workflows, histories and search attributes live in the file.
 */
export class TemporalDevServer implements ChaosServer {
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  starts = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly httpPort: number,
    readonly metricsPort: number,
  ) {}

  static async create(dir: string): Promise<TemporalDevServer> {
    mkdirSync(dir, { recursive: true });
    return new TemporalDevServer(dir, await freePort(), await freePort(), await freePort());
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get dbFile(): string {
    return join(this.dir, 'temporal.db');
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    const binary = join(repoRoot, '.venv', 'bin', 'temporal');
    const log = openSync(join(this.dir, 'server.log'), 'a');
    const child = spawn(
      binary,
      [
        'server',
        'start-dev',
        '--headless',
        '--ip',
        '127.0.0.1',
        '--port',
        String(this.port),
        '--http-port',
        String(this.httpPort),
        '--metrics-port',
        String(this.metricsPort),
        '--db-filename',
        this.dbFile,
        '--namespace',
        'default',
        '--log-level',
        'error',
        ...searchAttributeFlags(),
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    track(child);
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void this.#exited.then(() => (gone = true));
    this.starts += 1;
    await waitFor(
      'the Temporal dev server to serve',
      async () => {
        if (gone) throw new Error(`temporal server exited at start; see ${join(this.dir, 'server.log')}`);
        const r = await run(binary, ['operator', 'cluster', 'health', '--address', this.address], {
          timeout: 5000,
        }).catch(() => ({ stdout: '' }));
        return r.stdout.includes('SERVING');
      },
      60_000,
      200,
    );
  }

  /** SIGKILL: no shutdown, whatever was in flight is lost; the SQLite file stays. */
  async kill9(): Promise<void> {
    if (!this.#child) return;
    this.#child.kill('SIGKILL');
    await this.#exited;
    this.#child = undefined;
  }

  async stop(): Promise<void> {
    if (!this.#child) return;
    this.#child.kill('SIGINT');
    const stopped = await Promise.race([this.#exited!.then(() => true), sleep(15_000).then(() => false)]);
    if (!stopped) await this.kill9();
    this.#child = undefined;
  }
}

// ---- config and workers ----------------------------------------------------------------------

export interface Dev2ConfigOptions {
  readonly port: number;
  readonly taskQueue: string;
  /** paths.work (campaign folders); default dev2's work/campaigns. */
  readonly work?: string;
  /** Where the file goes. */
  readonly dir: string;
  /** tools.aretomo2; default the CPU stand-in. */
  readonly aretomo2?: string;
}

/**
 * A temporal.yaml whose only cluster is dev2: the refine on any 2 GPUs then 1 (three MPI
 * ranks either way: two cores here), every other step on 1 GPU, hangs only after 10 min
 * (chaos here is not capacity), fast polling.
 */
export function writeDev2Config(o: Dev2ConfigOptions): string {
  const d = DEV2.dir;
  const ssh =
    `{ host: 127.0.0.1, port: ${DEV2.sshPort}, user: root, keyFile: "${d}/ssh/id_ed25519", ` +
    `knownHostsFile: "${d}/ssh/known_hosts", connectTimeout: 10s, commandTimeout: 60s }`;
  const text = `# Written by test/helpers/chaos.ts: campaigns on the second dev cluster only.
temporal: { address: "127.0.0.1:${o.port}", namespace: default, taskQueue: "${o.taskQueue}" }
clusters:
  dev2:
    ssh: ${ssh}
    partitions: [gpu]
    workDir: "${d}/work"
    maxStatusCallsPerMinute: 120
placement:
  hangAfter: 10m
  ladder:
    - { partition: gpu, gres: "gpu:2" }
    - { partition: gpu, gres: "gpu:1", timeScale: 2 }
  stages:
    probe:       { ladder: [{ partition: gpu, gres: "gpu:1" }] }
    reconstruct: { ladder: [{ partition: gpu, gres: "gpu:1" }] }
    extract:     { ladder: [{ partition: gpu, gres: "gpu:1" }] }
    postprocess: { ladder: [{ partition: gpu, gres: "gpu:1" }] }
gpuPrices: { t4: 0.3375, default: 0.4 }
tools:
  profile: embedded
  aretomo2: "${o.aretomo2 ?? `${repoRoot}/embedded/aretomo2_standin.py`}"
  probeArgs: [--version]
  mpirun: [mpirun, --allow-run-as-root, --oversubscribe]
  threads: 1
paths: { data: "${d}/data", work: "${o.work ?? `${d}/work/campaigns`}" }
polling: { interval: 300ms, maxInterval: 2s }
timeouts: { workerShutdownGrace: 2s }
`;
  mkdirSync(o.dir, { recursive: true });
  const file = join(o.dir, 'temporal.yaml');
  writeFileSync(file, text);
  return file;
}

/** Where a chaos worker kills itself: at the start or the end of the first matching activity. */
export interface DiePlan {
  readonly label: string;
  readonly when: 'start' | 'end';
  readonly activity: string;
  /** A substring the activity's JSON arguments must contain (e.g. a job key). */
  readonly match?: string;
}

/** A worker process (test/fixtures/chaos-worker.ts) that dies as planned, if given a plan. */
export async function spawnChaosWorker(configFile: string, plan?: DiePlan): Promise<WorkerProcess> {
  const env: Record<string, string> = plan ? { CRYOET_CHAOS_DIE: JSON.stringify(plan) } : {};
  return spawnWorkerProcess(
    ['--import', 'tsx', join(repoRoot, 'test/fixtures/chaos-worker.ts'), configFile],
    'chaos-worker: polling',
    env,
  );
}

/** One worker's life under the supervisor. */
export interface WorkerLife {
  readonly plan?: DiePlan;
  /** The campaign's stage when it died (set by the supervisor's onDeath). */
  stage?: string;
  readonly startedAt: number;
  endedAt?: number;
  /** 'plan' (died at its planned activity), 'killed' (by the test), 'exit' (on its own), 'stopped'. */
  end?: 'plan' | 'killed' | 'exit' | 'stopped';
  output: string;
}

/**
 * Keeps one chaos worker running: when it dies, starts the next, with the first plan not
 * yet carried out. `killCurrent()` SIGKILLs the running one from outside (mid-job).
 */
export class WorkerSupervisor {
  readonly lives: WorkerLife[] = [];
  #current: { worker: WorkerProcess; life: WorkerLife } | undefined;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #externalKill = false;

  constructor(
    readonly configFile: string,
    readonly plans: DiePlan[],
    /** Called after a worker died, before the next starts (e.g. to read the campaign's stage). */
    readonly onDeath: (life: WorkerLife) => Promise<void> = async () => {},
  ) {}

  /** Plans carried out so far, by label. */
  get done(): string[] {
    return this.lives.filter((l) => l.end === 'plan').map((l) => l.plan!.label);
  }

  start(): void {
    this.#loop = this.#run();
    this.#loop.catch(() => undefined);
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const plan = this.plans.find((p) => !this.done.includes(p.label));
      const life: WorkerLife = { ...(plan ? { plan } : {}), startedAt: Date.now(), output: '' };
      this.lives.push(life);
      let worker: WorkerProcess;
      try {
        worker = await spawnChaosWorker(this.configFile, plan);
        track(worker.child);
      } catch (err) {
        // E.g. the Temporal server is down right now: try again shortly.
        life.endedAt = Date.now();
        life.end = 'exit';
        life.output = (err as Error).message;
        await sleep(1000);
        continue;
      }
      this.#current = { worker, life };
      const { signal } = await worker.exited;
      life.endedAt = Date.now();
      life.output = worker.output();
      life.end = this.#externalKill
        ? 'killed'
        : this.#stopped
          ? 'stopped'
          : signal === 'SIGKILL' && plan && worker.output().includes('chaos-worker: SIGKILL')
            ? 'plan'
            : 'exit';
      this.#externalKill = false;
      this.#current = undefined;
      if (!this.#stopped) await this.onDeath(life).catch(() => undefined);
    }
  }

  /** Waits until a worker is up and SIGKILLs it; the supervisor starts the next. */
  async killCurrent(): Promise<void> {
    await waitFor('a worker to kill', () => this.#current !== undefined, 180_000);
    this.#externalKill = true;
    this.#current!.worker.child.kill('SIGKILL');
    await this.#current?.worker.exited;
  }

  /** The pid of the running worker, if one runs. */
  get pid(): number | undefined {
    return this.#current?.worker.child.pid;
  }

  /** SIGKILLs the running worker and starts no other: the worker is gone for good. */
  async killForGood(): Promise<void> {
    this.#stopped = true;
    const current = this.#current;
    if (current) {
      this.#externalKill = true;
      current.worker.child.kill('SIGKILL');
      await current.worker.exited;
    }
    await this.#loop;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const current = this.#current;
    if (current) {
      current.worker.child.kill('SIGTERM');
      const done = await Promise.race([current.worker.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) current.worker.child.kill('SIGKILL');
    }
    await this.#loop;
  }

  /**
   * Throws if any worker of this run failed a workflow task (an unhandled rejection,
   * nondeterminism: the SDK core logs it to the worker's stderr). Last in `after`.
   */
  assertNoFailedWorkflowTasks(): void {
    const lines = this.lives.flatMap((l) => failedWorkflowTaskLines(l.output));
    if (lines.length > 0)
      throw new Error(`a worker of this run failed ${lines.length} workflow task(s):\n${lines.slice(0, 5).join('\n')}`);
  }
}

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

/** A Temporal server a chaos run may kill and start again (the dev server, or temporal-pg's). */
export interface ChaosServer {
  readonly address: string;
  readonly port: number;
  /** How many times it was started. */
  readonly starts: number;
  start(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

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
