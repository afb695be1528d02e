/**
 * The peers benchmark's side of the machine: the counting shim put first on each driver's
 * PATH, the harness's own Slurm commands (straight to the dev cluster, never through the
 * shim), sacct rows of a run, and the peak-RSS sampler of a driver's process tree.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../test/helpers/env.js';

const run = promisify(execFile);

/** The dev cluster's slurm.conf (scripts/dev-cluster.sh). */
export const SLURM_CONF = join(repoRoot, '.dev/cluster/etc/slurm.conf');

/** Slurm client commands the shim counts. */
export const SHIMMED = [
  'sbatch',
  'squeue',
  'sacct',
  'scancel',
  'scontrol',
  'sinfo',
  'sacctmgr',
  'sshare',
  'srun',
  'sprio',
  'sstat',
] as const;

/**
 * Writes `<dir>/<command>` for each Slurm client: appends `<ms> <command> <job id|-> <run>
 * <first 200 chars of args>` to $BENCH_CALLS_LOG (one short O_APPEND write per call), then
 * execs the real /usr/bin/<command>. `BENCH_RUN` tags the run.
 */
export function writeCountingShim(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const name of SHIMMED) {
    const file = join(dir, name);
    const printfCall =
      `printf '%s %s %s %s %s\\n' "\${t:0:13}" ${name} ` + `"\${SLURM_JOB_ID:--}" "\${BENCH_RUN:--}" "\${a:0:200}"`;
    writeFileSync(
      file,
      `#!/bin/bash
# cryoet-temporal bench: counts one call of ${name}, then runs the real one.
if [[ -n \${BENCH_CALLS_LOG:-} ]]; then
  t=\${EPOCHREALTIME/./}; a="$*"
  ${printfCall} >>"$BENCH_CALLS_LOG"
fi
exec /usr/bin/${name} "$@"
`,
    );
    chmodSync(file, 0o755);
  }
  return dir;
}

/** Runs a Slurm command on the dev cluster for the harness (not counted). */
export async function slurm(argv: string[], timeoutMs = 30_000): Promise<string> {
  const { stdout } = await run(argv[0]!, argv.slice(1), {
    env: { ...process.env, SLURM_CONF },
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

/** Sets a node DOWN (a FAKE spot reclaim) or back. */
export async function setNode(node: string, state: 'DOWN' | 'RESUME'): Promise<void> {
  await slurm([
    'scontrol',
    'update',
    `NodeName=${node}`,
    `State=${state}`,
    ...(state === 'DOWN' ? ['Reason=bench-spot-reclaim'] : []),
  ]);
}

/** One sacct row (all incarnations of requeued jobs with -D). */
export interface SacctRow {
  readonly jobId: string;
  readonly name: string;
  readonly workDir: string;
  readonly state: string;
  readonly submitMs: number;
  readonly startMs?: number;
  readonly endMs?: number;
  readonly nodes: string;
}

const sacctTime = (t: string | undefined): number | undefined =>
  t && /^\d{4}-/.test(t) ? new Date(t).getTime() : undefined;

/** Jobs submitted since `sinceMs` (sacct -X -D: every incarnation of a requeued job). */
export async function sacctSince(sinceMs: number): Promise<SacctRow[]> {
  const since = new Date(sinceMs - 60_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = `${since.getFullYear()}-${pad(since.getMonth() + 1)}-${pad(since.getDate())}`;
  const start = `${day}T${pad(since.getHours())}:${pad(since.getMinutes())}:${pad(since.getSeconds())}`;
  const out = await slurm([
    'sacct',
    '-X',
    '-D',
    '-n',
    '-P',
    '-S',
    start,
    '-E',
    'now',
    '-o',
    'JobIDRaw,JobName,WorkDir,State,Submit,Start,End,NodeList',
  ]);
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [jobId, name, workDir, state, submit, start, end, nodes] = line.split('|');
      const startMs = sacctTime(start);
      const endMs = sacctTime(end);
      return {
        jobId: jobId!,
        name: name!,
        workDir: workDir!,
        state: state!.split(' ')[0]!,
        submitMs: sacctTime(submit) ?? 0,
        ...(startMs === undefined ? {} : { startMs }),
        ...(endMs === undefined ? {} : { endMs }),
        nodes: nodes ?? '',
      };
    });
}

/** Cancels jobs (harness clean-up after a bounded run; not counted). */
export async function cancelJobs(ids: readonly string[]): Promise<void> {
  if (ids.length > 0) await slurm(['scancel', ...ids]).catch(() => undefined);
}

/** Peak memory of a process tree, sampled. */
export interface RssPeak {
  /** Highest VmHWM of the root process seen (kB → MB). */
  rootHwmMb: number;
  /** Highest sum of VmRSS over the root and its descendants at one sample. */
  treeMb: number;
}

function children(): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      map.set(ppid, [...(map.get(ppid) ?? []), Number(name)]);
    } catch {
      // gone
    }
  }
  return map;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Samples `pid`'s tree every `everyMs` until stop(); `add` follows a restarted driver too. */
export function sampleRss(everyMs = 500): { add(pid: number): void; stop(): RssPeak; peak: RssPeak } {
  const roots = new Set<number>();
  const peak: RssPeak = { rootHwmMb: 0, treeMb: 0 };
  const sample = () => {
    if (roots.size === 0) return;
    const kids = children();
    for (const root of roots) {
      const hwm = statusKb(root, 'VmHWM') / 1024;
      if (hwm > peak.rootHwmMb) peak.rootHwmMb = hwm;
      let tree = 0;
      const stack = [root];
      while (stack.length > 0) {
        const pid = stack.pop()!;
        tree += statusKb(pid, 'VmRSS');
        stack.push(...(kids.get(pid) ?? []));
      }
      if (tree / 1024 > peak.treeMb) peak.treeMb = tree / 1024;
    }
  };
  const timer = setInterval(sample, everyMs);
  return {
    add(pid) {
      roots.add(pid);
      sample();
    },
    stop() {
      sample();
      clearInterval(timer);
      return peak;
    },
    peak,
  };
}

/** Bytes of `file` from `offset` on (the tool and call logs grow while a run goes on). */
export function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
