/**
 * The three ways of running the pipeline, each behind one small interface: start the
 * driver, restart it after a SIGKILL, stop it, and tell which Slurm jobs were its own and
 * for which step.
 *
 * - `ours`: a `cryoet worker` process (the driver) and our real `campaign` workflow,
 *   started through the Temporal client as `cryoet start` does.
 * - `snakemake`: Snakemake 9 with snakemake-executor-plugin-slurm and a Snakefile whose
 *   rules run the campaign's own command lines (the refine's mpirun with OpenMPI told to
 *   stay off Slurm inside Snakemake's job step: see the Snakefile's comment).
 * - `chain`: a bash script that submits one sbatch per step chained with
 *   `--dependency=afterok`, then polls the last job every 5 s: the seed study's way.
 *
 * Every driver runs with the counting shim first on its PATH (ours through temporal.yaml
 * `clusters.dev.environment`, which the worker exports before every remote command).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { loadConfig, type CryoConfig } from '../../src/config.js';
import { campaignInput } from '../../src/campaign/input.js';
import { startCampaign } from '../../src/client.js';
import { shellJoin } from '../../src/shell/quote.js';
import type { Placement } from '../../src/slurm/placement.js';
import { repoRoot, uniqueId, waitUntil, writeTestConfig } from '../../test/helpers/env.js';
import { SLURM_CONF, type SacctRow } from './host.js';
import type { PipelineVariant, StepCommands } from './pipeline.js';

export type WayName = 'ours' | 'snakemake' | 'chain';
export type Scenario = 'clean' | 'hang' | 'node-lost' | 'driver-killed';

/** One run of one way in one scenario. */
export interface RunSpec {
  /** Unique; also the campaign id and part of every job name. */
  readonly id: string;
  readonly way: WayName;
  readonly scenario: Scenario;
  readonly variant: PipelineVariant;
  /** The campaign folder: every step cds here. */
  readonly dir: string;
  /** Where the driver's own files go (Snakefile, chain scripts, .snakemake). */
  readonly driverDir: string;
  readonly refinePinned: boolean;
  /** Snakemake only: `--slurm-requeue`, the plugin's own advice after a NODE_FAIL. */
  readonly snakemakeRequeue?: boolean;
  readonly commands: StepCommands;
  readonly shimDir: string;
  readonly callsLog: string;
}

/** A running driver. */
export interface Driver {
  readonly pid: number;
  /** true when the pipeline completed; false when the driver ended without completing. */
  readonly done: Promise<boolean>;
  readonly child: ChildProcess;
  output(): string;
}

export interface Way {
  readonly name: WayName;
  /** Starts the driver; `t0` is when the pipeline was started (makespan origin). */
  start(run: RunSpec): Promise<{ driver: Driver; t0: number }>;
  /** A new driver after the previous one was SIGKILLed (what an operator would do). */
  restart(run: RunSpec): Promise<Driver>;
  /** Stops whatever is left of the driver. */
  stop(run: RunSpec): Promise<void>;
  /** The step of one of this run's jobs, or undefined when the job is not this run's. */
  jobKey(run: RunSpec, row: SacctRow): string | undefined;
}

/** PATH for a driver: the counting shim first. */
export const shimmedPath = (
  shimDir: string,
  rest = process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
) => `${shimDir}:${rest}`;

/** Spawns a driver process; `done` is true on exit 0 and `completed()` true. */
function spawnDriver(argv: string[], cwd: string, env: NodeJS.ProcessEnv, completed: () => boolean): Driver {
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const done = new Promise<boolean>((resolve) => child.once('exit', (code) => resolve(code === 0 && completed())));
  return { pid: child.pid!, done, child, output: () => out };
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

const SLURM_DEFAULT_MINUTES = { reconstruct: 60, extract: 120, postprocess: 60 } as const;

function writeExtractFiles(run: RunSpec): void {
  for (const f of run.commands.extractFiles) {
    mkdirSync(f.path.slice(0, f.path.lastIndexOf('/')), { recursive: true });
    writeFileSync(f.path, f.text);
  }
}

const refineGres = (run: RunSpec) => (run.refinePinned ? 'gpu:a10g:4' : 'gpu:4');

// ---------------------------------------------------------------------------------------
// ours

/** Our way: a worker process per run and the campaign workflow. */
export function oursWay(
  client: Client,
  temporalPort: number,
): Way & { handle(run: RunSpec): WorkflowHandle | undefined; config(run: RunSpec): CryoConfig | undefined } {
  const workers = new Map<string, ChildProcess>();
  const handles = new Map<string, WorkflowHandle>();
  const configs = new Map<string, { file: string; config: CryoConfig; done: Promise<boolean> }>();

  /** temporal.yaml of the project (its polling and placement), pointed at this run's server, tools and shim. */
  function writeConfig(run: RunSpec, taskQueue: string): string {
    const file = writeTestConfig(temporalPort, taskQueue, '30s', false);
    const doc = parseDocument(readFileSync(file, 'utf8'));
    const v = run.variant.tools;
    doc.setIn(['clusters', 'dev', 'environment'], {
      PATH: shimmedPath(run.shimDir, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'),
      BENCH_CALLS_LOG: run.callsLog,
      BENCH_RUN: run.id,
    });
    doc.setIn(['paths', 'work'], run.dir.slice(0, run.dir.lastIndexOf('/')));
    doc.setIn(['tools', 'aretomo2'], v.aretomo2);
    doc.setIn(['tools', 'stageDir'], v.stageDir);
    doc.setIn(['tools', 'mpirun'], [...v.mpirun]);
    // The peers run the same refine line (stepCommands): without the preload, as they do.
    doc.deleteIn(['tools', 'mpiPreload']);
    if (v.relionBinDir) doc.setIn(['tools', 'relionBinDir'], v.relionBinDir);
    writeFileSync(file, doc.toString());
    return file;
  }

  async function spawnWorker(run: RunSpec, file: string): Promise<ChildProcess> {
    // The command as users run it: bin/cryoet, which sets MALLOC_ARENA_MAX.
    const child = spawn(join(repoRoot, 'bin/cryoet'), ['worker', '--config', file], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-50_000)));
    child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-50_000)));
    await waitUntil(
      'the cryoet worker to start',
      () => {
        if (child.exitCode !== null) throw new Error(`cryoet worker exited ${child.exitCode}: ${out}`);
        return out.includes('task queue') ? true : undefined;
      },
      180_000,
      100,
    );
    workers.set(run.id, child);
    return child;
  }

  const driverOf = (run: RunSpec, child: ChildProcess): Driver => ({
    pid: child.pid!,
    done: configs.get(run.id)!.done,
    child,
    output: () => '',
  });

  return {
    name: 'ours',
    handle: (run) => handles.get(run.id),
    config: (run) => configs.get(run.id)?.config,
    async start(run) {
      const taskQueue = uniqueId('bench-peers');
      const file = writeConfig(run, taskQueue);
      const config = await loadConfig(file);
      const child = await spawnWorker(run, file);
      const built = campaignInput(config, run.variant.spec, run.id);
      const refine: Placement = {
        ...built.placements.refine,
        ladder: (run.refinePinned ? ['gpu:a10g:4', 'gpu:4'] : ['gpu:4']).map((gres) => ({
          cluster: 'dev',
          partition: 'gpu',
          gres,
          timeScale: 1,
        })),
      };
      const input = { ...built, placements: { ...built.placements, refine } };
      const t0 = Date.now();
      const handle = await startCampaign(client, { ...config, temporal: { ...config.temporal, taskQueue } }, input);
      handles.set(run.id, handle);
      const done = handle.result().then(
        () => true,
        (err: Error) => {
          // Why the campaign failed, down its causes, for the run's log.
          const causes: string[] = [];
          for (
            let e: unknown = err;
            e instanceof Error && causes.length < 6;
            e = (e as Error & { cause?: unknown }).cause
          )
            causes.push(e.message);
          console.log(`  campaign ${run.id} failed: ${causes.join(' <- ')}`);
          return false;
        },
      );
      configs.set(run.id, { file, config, done });
      return { driver: driverOf(run, child), t0 };
    },
    async restart(run) {
      return driverOf(run, await spawnWorker(run, configs.get(run.id)!.file));
    },
    async stop(run) {
      const handle = handles.get(run.id);
      if (handle) {
        const d = await handle.describe().catch(() => undefined);
        if (d?.status.name === 'RUNNING') await handle.terminate('bench: run bound reached').catch(() => undefined);
      }
      await stopChild(workers.get(run.id));
    },
    jobKey(run, row) {
      const prefix = `cryoet.${run.id}.`;
      if (!row.name.startsWith(prefix)) return undefined;
      const segments = row.name.slice(prefix.length).split('.');
      const step = segments.at(-1)!.replace(/-\d+$/, '');
      return step === 'reconstruct' ? `reconstruct:${segments[0]}` : step;
    },
  };
}

// ---------------------------------------------------------------------------------------
// Snakemake

const py = (s: string) => JSON.stringify(s);

/** The Snakefile: one rule per step, each running the campaign's own command line. */
export function snakefileText(run: RunSpec): string {
  const c = run.commands;
  const d = run.dir;
  const resources = (gres: string, minutes: number, extra = '') =>
    `    resources: slurm_partition="gpu", gres=${py(gres)}, runtime=${minutes}, mem_mb=500, cpus_per_task=1${extra}`;
  return `# Generated by bench/peers/ways.ts: the campaign's pipeline as a Snakefile. Every rule
# runs the command line our campaign runs for that step (src/tools/toolset.ts), with the
# same GPU request, time limit and CPU count.
localrules: all

RECONSTRUCT = {
${[...c.reconstruct].map(([ts, argv]) => `    ${py(ts)}: ${py(shellJoin(argv))},`).join('\n')}
}

rule all:
    input: ${py(`${d}/PostProcess/postprocess.star`)}

rule reconstruct:
    output: ${py(`${d}/tomograms/`)} + "{ts}.mrc"
    params: cmd=lambda wildcards: RECONSTRUCT[wildcards.ts]
${resources('gpu:1', SLURM_DEFAULT_MINUTES.reconstruct)}
    shell: "{params.cmd}"

rule extract:
    input: expand(${py(`${d}/tomograms/`)} + "{ts}.mrc", ts=list(RECONSTRUCT))
    output: ${py(`${d}/Extract/particles.star`)}
    params: cmd=${py(shellJoin(c.extract))}
${resources('gpu:1', SLURM_DEFAULT_MINUTES.extract)}
    shell: "{params.cmd}"

# mpirun in a Snakemake Slurm job needs OpenMPI kept off Slurm: as a plain rule the job
# step runs the command under srun and mpirun's daemons never start there (measured: RELION
# had not started after 14 min); as an MPI rule (mpi="mpirun") the job step strips the
# SLURM_* variables and OpenMPI's Slurm allocator aborts. With ras/plm set to local, the
# same mpirun line runs as in our batch script and the chain's.
rule refine:
    input: ${py(`${d}/Extract/particles.star`)}
    output: ${py(`${d}/Refine3D/run_half1_class001_unfil.mrc`)}, ${py(`${d}/Refine3D/run_model.star`)}
    params: cmd=${py(shellJoin(c.refine))}
${resources(refineGres(run), run.variant.spec.refine.timeLimitMinutes)}
    shell: "OMPI_MCA_ras=^slurm OMPI_MCA_plm=isolated {params.cmd}"

rule postprocess:
    input: ${py(`${d}/Refine3D/run_half1_class001_unfil.mrc`)}
    output: ${py(`${d}/PostProcess/postprocess.star`)}
    params: cmd=${py(shellJoin(c.postprocess))}
${resources('gpu:1', SLURM_DEFAULT_MINUTES.postprocess)}
    shell: "{params.cmd}"
`;
}

/** The Snakemake command line (peers.md's, with the init delay at its 1 s floor as there). */
export function snakemakeArgs(run: RunSpec, venv: string, extra: string[] = []): string[] {
  return [
    join(venv, 'bin/snakemake'),
    '--snakefile',
    join(run.driverDir, 'Snakefile'),
    '--directory',
    run.driverDir,
    '--executor',
    'slurm',
    '--jobs',
    '100',
    '--default-resources',
    'slurm_partition=gpu',
    'runtime=60',
    'mem_mb=500',
    '--slurm-init-seconds-before-status-checks',
    '1',
    '--slurm-keep-successful-logs',
    ...(run.snakemakeRequeue ? ['--slurm-requeue'] : []),
    ...extra,
  ];
}

export function snakemakeWay(venv: string): Way {
  const children = new Map<string, ChildProcess>();
  const env = (run: RunSpec): NodeJS.ProcessEnv => ({
    ...process.env,
    PATH: shimmedPath(run.shimDir, `${join(venv, 'bin')}:${process.env.PATH ?? ''}`),
    SLURM_CONF,
    BENCH_CALLS_LOG: run.callsLog,
    BENCH_RUN: run.id,
  });
  const finished = (run: RunSpec) => () => existsSync(`${run.dir}/PostProcess/postprocess.star`);
  const launch = (run: RunSpec, extra: string[] = []) => {
    const driver = spawnDriver(snakemakeArgs(run, venv, extra), run.driverDir, env(run), finished(run));
    children.set(run.id, driver.child);
    return driver;
  };
  return {
    name: 'snakemake',
    async start(run) {
      mkdirSync(run.driverDir, { recursive: true });
      writeFileSync(join(run.driverDir, 'Snakefile'), snakefileText(run));
      writeExtractFiles(run);
      const t0 = Date.now();
      return { driver: launch(run), t0 };
    },
    async restart(run) {
      // After a SIGKILL the directory stays locked: --unlock first, then the same command.
      // --rerun-incomplete: outputs of jobs the killed run had started are marked incomplete.
      const unlock = spawnDriver([...snakemakeArgs(run, venv), '--unlock'], run.driverDir, env(run), () => true);
      await unlock.done;
      return launch(run, ['--rerun-incomplete']);
    },
    async stop(run) {
      await stopChild(children.get(run.id), 'SIGKILL');
    },
    jobKey(run, row) {
      return snakemakeJobKeys(run.driverDir).get(row.jobId);
    },
  };
}

/**
 * Job id → step, from Snakemake's own logs: every submission is logged as `Job 3 has been
 * submitted with SLURM jobid 5510 (log: …/slurm_logs/rule_<rule>/[<ts>/]5510.log)` (the
 * Slurm log itself only appears once the job starts).
 */
export function snakemakeJobKeys(driverDir: string): Map<string, string> {
  const keys = new Map<string, string>();
  const logDir = join(driverDir, '.snakemake/log');
  if (!existsSync(logDir)) return keys;
  for (const name of readdirSync(logDir)) {
    const text = readFileSync(join(logDir, name), 'utf8');
    for (const m of text.matchAll(
      /SLURM jobid (\d+) \(log: \S*\/slurm_logs\/rule_([^/\s]+)\/(?:([^/\s]+)\/)?\d+\.log\)/g,
    )) {
      keys.set(m[1]!, m[2] === 'reconstruct' ? `reconstruct:${m[3]}` : m[2]!);
    }
  }
  return keys;
}

// ---------------------------------------------------------------------------------------
// sbatch chain

/** The chain script: every step submitted up front with afterok dependencies, then poll the last. */
export function chainScript(run: RunSpec): string {
  const c = run.commands;
  const jobDir = join(run.driverDir, 'jobs');
  const submit = (name: string, gres: string, minutes: number, after: string) => {
    const dependency = after ? ` --dependency=afterok:${after}` : '';
    return (
      `sbatch --parsable --job-name=bench.${run.id}.${name} --partition=gpu --gres=${gres} --cpus-per-task=1 ` +
      `--time=${minutes} --output=${jobDir}/%x-%j.out${dependency} ${jobDir}/${name}.sh`
    );
  };
  const recon = [...c.reconstruct.keys()];
  const submitRecon = recon
    .map((ts, i) => `r${i}=$(${submit(`reconstruct.${ts}`, 'gpu:1', SLURM_DEFAULT_MINUTES.reconstruct, '')})`)
    .join('\n');
  const failedStates = 'FAILED | CANCELLED* | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE';
  return `#!/bin/bash
# Generated by bench/peers/ways.ts: the pipeline as a plain sbatch --dependency=afterok chain,
# the way the seed study ran it; then poll the last job every 5 s until it ends.
set -euo pipefail
${submitRecon}
extract=$(${submit('extract', 'gpu:1', SLURM_DEFAULT_MINUTES.extract, recon.map((_, i) => `\${r${i}%%;*}`).join(':'))})
refine=$(${submit('refine', refineGres(run), run.variant.spec.refine.timeLimitMinutes, '${extract%%;*}')})
post=$(${submit('postprocess', 'gpu:1', SLURM_DEFAULT_MINUTES.postprocess, '${refine%%;*}')})
echo "chain: submitted; following postprocess job $post"
while :; do
  state=$(squeue -h -t all -j "\${post%%;*}" -o %T 2>/dev/null || true)
  case $state in
    COMPLETED) echo "chain: done"; exit 0 ;;
    ${failedStates}) echo "chain: postprocess ended $state"; exit 1 ;;
  esac
  sleep 5
done
`;
}

export function chainWay(): Way {
  const children = new Map<string, ChildProcess>();
  const launch = (run: RunSpec) => {
    const env = {
      ...process.env,
      PATH: shimmedPath(run.shimDir),
      SLURM_CONF,
      BENCH_CALLS_LOG: run.callsLog,
      BENCH_RUN: run.id,
    };
    const driver = spawnDriver(['bash', join(run.driverDir, 'chain.sh')], run.driverDir, env, () =>
      existsSync(`${run.dir}/PostProcess/postprocess.star`),
    );
    children.set(run.id, driver.child);
    return driver;
  };
  return {
    name: 'chain',
    async start(run) {
      const jobDir = join(run.driverDir, 'jobs');
      mkdirSync(jobDir, { recursive: true });
      const c = run.commands;
      const steps: [string, readonly string[]][] = [
        ...[...c.reconstruct].map(([ts, argv]) => [`reconstruct.${ts}`, argv] as [string, readonly string[]]),
        ['extract', c.extract],
        ['refine', c.refine],
        ['postprocess', c.postprocess],
      ];
      for (const [name, argv] of steps) writeFileSync(join(jobDir, `${name}.sh`), `#!/bin/bash\n${shellJoin(argv)}\n`);
      writeFileSync(join(run.driverDir, 'chain.sh'), chainScript(run));
      writeExtractFiles(run);
      const t0 = Date.now();
      return { driver: launch(run), t0 };
    },
    // The shell keeps nothing: a restart runs the same script again.
    async restart(run) {
      return launch(run);
    },
    async stop(run) {
      await stopChild(children.get(run.id), 'SIGKILL');
    },
    jobKey(run, row) {
      const prefix = `bench.${run.id}.`;
      if (!row.name.startsWith(prefix)) return undefined;
      const rest = row.name.slice(prefix.length);
      return rest.startsWith('reconstruct.') ? `reconstruct:${rest.slice('reconstruct.'.length)}` : rest;
    },
  };
}
