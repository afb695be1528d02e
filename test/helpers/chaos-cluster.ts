/**
 * Faults on the second dev cluster dev2: its daemons, sshd cut, slurmctld stopped and
 * started, a node lost and restored, CPUs held; and the processes a chaos run started, killed
 * if the test process is stopped first. Slurm commands run locally with dev2's SLURM_CONF.
 */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createConnection } from 'node:net';
import { repoRoot } from './env.js';

export const run = promisify(execFile);

/**
 * Processes this file started (Temporal servers, workers): killed if the test process is
 * stopped before its `after` hooks run (a file-level timeout sends SIGTERM), so nothing
 * of a chaos run outlives it.
 */
export const children = new Set<ChildProcess>();
export function track(child: ChildProcess): void {
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

export function alive(pid: number): boolean {
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

export async function waitFor(
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
