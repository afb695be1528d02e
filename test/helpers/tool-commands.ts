/**
 * What the command-line tests share: the three campaigns parsed, the seed study's lines, the
 * runtimes, toolsets and layouts of each profile, and small helpers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseCampaign } from '../../src/campaign/load.js';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import type { PlacementRung } from '../../src/slurm/placement.js';
import type { RelionRuntime } from '../../src/tools/relion.js';
import type { CampaignLayout, Toolset } from '../../src/tools/toolset.js';

export const ROOT = new URL('../../', import.meta.url);

function loadSpec(file: string, profile: 'production' | 'relion5' | 'embedded'): CampaignSpec {
  const result = parseCampaign(readFileSync(new URL(file, ROOT), 'utf8'), profile);
  if (!result.ok) assert.fail(`${file} does not parse: ${JSON.stringify(result.issues)}`);
  return result.spec;
}

export const PRODUCTION = loadSpec('campaigns/empiar-10164.yaml', 'production');
export const EMBEDDED = loadSpec('campaigns/embedded-10164.yaml', 'embedded');
export const RELION5 = loadSpec('campaigns/relion5-10164.yaml', 'relion5');

/**
 * The seed study's command lines, copied from /work/shared/seed/000_d73e982e3a05a24f.txt
 * ("The front half" and "The back half" sections, continuation backslashes joined).
 */
export const SEED_ARETOMO =
  'AreTomo2 -InMrc TS_01.mrc -OutMrc TS_01_aretomo.mrc -AngFile TS_01.rawtlt -VolZ 2000 -OutBin 6 -Patch 0 0 ' +
  '-Gpu 0 -Wbp 1 -PixSize 1.35 -FlipVol 1 -OutImod 1';
/** "launched as mpirun -n 5" + the verbatim relion_refine_mpi block of the seed. */
export const SEED_REFINE =
  'mpirun -n 5 relion_refine_mpi --auto_refine --split_random_halves --ios optimisation_set.star --ref half1.mrc ' +
  '--solvent_mask mask_align.mrc --particle_diameter 230 --sym C6 --ini_high 5.5 --healpix_order 4 ' +
  '--ctf --solvent_correct_fsc --pad 2 --gpu';

export const GPU_RUNTIME: RelionRuntime = { mpirun: ['mpirun'], gpu: true, threads: 1 };
export const CPU_RUNTIME: RelionRuntime = {
  mpirun: ['mpirun', '--allow-run-as-root', '--oversubscribe'],
  gpu: false,
  threads: 2,
};

export const PRODUCTION_TOOLS: Toolset = {
  profile: 'production',
  // What stageBinary returns: <stageDir>/<basename of tools.aretomo2>.
  aretomo2: '/shared/work/bin/AreTomo2_1.1.2_Cuda121',
  relion: GPU_RUNTIME,
};
export const EMBEDDED_TOOLS: Toolset = {
  profile: 'embedded',
  aretomo2: '/work/bin/aretomo2_standin.py',
  relion: CPU_RUNTIME,
};

export const PRODUCTION_LAYOUT: CampaignLayout = { dir: '/shared/work/empiar-10164', dataDir: '/shared/empiar-10164' };
export const EMBEDDED_LAYOUT: CampaignLayout = { dir: '/work/embedded-10164', dataDir: '/data/synthetic-10164' };

export const rung = (gres: string): PlacementRung => ({ cluster: 'aws', partition: 'gpu', gres, timeScale: 1 });

/** The `bash -c` script of a commandsIn argv, as lines. */
export function scriptLines(argv: readonly string[]): string[] {
  assert.equal(argv.length, 3);
  assert.equal(argv[0], 'bash');
  assert.equal(argv[1], '-c');
  return argv[2]!.split('\n');
}

/** Runs argv (no shell of ours in between) and returns its exit status and output. */
export function run(argv: readonly string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', ...(cwd === undefined ? {} : { cwd }) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
