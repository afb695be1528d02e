/**
 * Where the demo refine's CPU goes, each change measured side by side in one run:
 *   npm run bench -- bench/refine-cpu.bench.ts
 * The demo's dataset, tomograms and particles are made once, with the campaign's own command
 * lines (src/tools/toolset.ts), on this machine (the dev cluster is single-host). Then the
 * demo's refine runs once per variant, one after another, outside Slurm so nothing else
 * shares the cores: the leader rank spinning or napping (embedded/mpi_nap, tools.mpiPreload),
 * local searches from healpix order 3 or 2, one or two threads per rank. Per variant: wall
 * time, CPU seconds of all ranks and the leader's share, iterations, and the map against the
 * ground truth (cc, hand margin, FSC 0.5), which must not move.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { relionRuntime } from '../src/campaign/input.js';
import type { CampaignSpec } from '../src/model/campaign-spec.js';
import { defaultConfigPath, loadConfig } from '../src/config.js';
import { ARETOMO2_STANDIN, CHECK_TRUTH, EMBEDDED_PYTHON, MAKE_DATASET } from '../src/embedded.js';
import {
  extractStep,
  reconstructCommand,
  refineCommands,
  type CampaignLayout,
  type Toolset,
} from '../src/tools/toolset.js';
import { embeddedBaseSpec } from './peers/pipeline.js';

interface Variant {
  readonly name: string;
  readonly preload: boolean;
  readonly healpix: number;
  readonly threads: number;
}

const VARIANTS: readonly Variant[] = [
  { name: 'before: leader spins, local from healpix 3', preload: false, healpix: 3, threads: 1 },
  { name: 'leader naps (mpi_nap)', preload: true, healpix: 3, threads: 1 },
  { name: 'naps + local from healpix 2 (the demo now)', preload: true, healpix: 2, threads: 1 },
  { name: 'naps + healpix 2 + --j 2', preload: true, healpix: 2, threads: 2 },
];

const TICKS = 100; // USER_HZ

/** utime + stime of a process, in seconds; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return undefined;
  }
}

/** The MPI rank of a relion_refine_mpi process, from its environment; undefined otherwise. */
function rankOf(pid: number): number | undefined {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('relion_refine_mpi')) return undefined;
    const rank = /(?:^|\0)OMPI_COMM_WORLD_RANK=(\d+)/.exec(readFileSync(`/proc/${pid}/environ`, 'utf8'));
    return rank ? Number(rank[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `command`, sampling every rank's CPU time each second until it exits. */
async function measured(
  command: readonly string[],
): Promise<{ wallS: number; cpuS: number; leaderS: number; exit: number | null }> {
  const seen = new Map<number, { rank: number; cpu: number }>();
  const sample = () => {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      const known = seen.get(pid);
      const rank = known?.rank ?? rankOf(pid);
      const cpu = rank === undefined ? undefined : cpuSeconds(pid);
      if (rank !== undefined && cpu !== undefined) seen.set(pid, { rank, cpu });
    }
  };
  const started = process.hrtime.bigint();
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  const timer = setInterval(sample, 1000);
  const exit = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  clearInterval(timer);
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const ranks = [...seen.values()];
  return {
    wallS,
    cpuS: ranks.reduce((a, r) => a + r.cpu, 0),
    leaderS: ranks.filter((r) => r.rank === 0).reduce((a, r) => a + r.cpu, 0),
    exit,
  };
}

async function main(): Promise<void> {
  const config = await loadConfig(defaultConfigPath());
  const base = embeddedBaseSpec();
  const dataDir = `${config.paths.data}/synthetic-10164`;
  const work = `${config.paths.work}/bench-refine-cpu`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(`${work}/bin`, { recursive: true });
  const t0 = Date.now();
  execFileSync(EMBEDDED_PYTHON, [MAKE_DATASET, '--out', dataDir], { stdio: 'ignore' });
  // Staged as the campaign stages it: a copy, executable.
  const standin = `${work}/bin/aretomo2_standin.py`;
  copyFileSync(ARETOMO2_STANDIN, standin);
  chmodSync(standin, 0o755);
  const layout: CampaignLayout = { dir: work, dataDir };
  const tools = (v?: Variant): Toolset => {
    const t = { ...config.tools, ...(v?.preload === false ? { mpiPreload: undefined } : {}), threads: v?.threads ?? 1 };
    return { profile: 'embedded', aretomo2: standin, relion: relionRuntime(t) };
  };
  for (const ts of base.tiltSeries) {
    const [program, ...args] = reconstructCommand(tools(), layout, base, ts);
    execFileSync(program!, args, { stdio: 'ignore' });
  }
  const extract = extractStep(tools(), layout, base, base.tiltSeries);
  for (const f of extract.files) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.text);
  }
  execFileSync(extract.command[0]!, extract.command.slice(1), { stdio: 'ignore' });
  const preparedS = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(`prepared ${base.tiltSeries.length} tomograms and their particles in ${preparedS} s (${work})`);

  const rows: string[][] = [];
  for (const v of VARIANTS) {
    const dir = `${work}/${v.healpix}-${v.preload ? 'nap' : 'spin'}-j${v.threads}`;
    mkdirSync(dir, { recursive: true });
    symlinkSync('../Extract', join(dir, 'Extract'));
    const spec: CampaignSpec = { ...base, refine: { ...base.refine, autoLocalHealpixOrder: v.healpix } };
    const { command } = refineCommands(tools(v), { dir, dataDir }, spec, extract.particles);
    const m = await measured(command);
    const iterations =
      readdirSync(join(dir, 'Refine3D')).filter((f) => /^run_it\d{3}_optimiser\.star$/.test(f)).length - 1;
    const truth = JSON.parse(
      execFileSync(
        EMBEDDED_PYTHON,
        [
          CHECK_TRUTH,
          'map',
          '--map',
          join(dir, 'Refine3D', 'run_class001.mrc'),
          '--truth',
          join(dataDir, 'truth', 'particle_refine.mrc'),
        ],
        { encoding: 'utf8' },
      ),
    ) as Record<string, number>;
    const row = [
      v.name,
      m.wallS.toFixed(0),
      m.cpuS.toFixed(0),
      `${((100 * m.leaderS) / Math.max(m.cpuS, 1e-9)).toFixed(0)}%`,
      String(iterations),
      truth['ccTruth']!.toFixed(3),
      (truth['handTruth']! - truth['handMirror']!).toFixed(3),
      truth['resolutionAtFsc05']!.toFixed(1),
      m.exit === 0 ? 'ok' : `exit ${m.exit}`,
    ];
    rows.push(row);
    console.log(row.join(' | '));
  }
  const head = [
    'variant',
    'wall (s)',
    'CPU of all ranks (s)',
    'leader share of CPU',
    'iterations',
    'cc with truth',
    'hand margin',
    'truth FSC 0.5 (Å)',
    'exit',
  ];
  const baseline = Number(rows[0]![1]);
  console.log(`\n| ${[...head, 'wall ÷ before'].join(' | ')} |\n|${head.map(() => '---').join('|')}|---|`);
  for (const r of rows) console.log(`| ${[...r, (Number(r[1]) / baseline).toFixed(2)].join(' | ')} |`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exitCode = 1;
});
