import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseCampaign } from '../../src/campaign/load.js';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import { CryoError, ErrorType } from '../../src/errors.js';
import type { PlacementRung } from '../../src/slurm/placement.js';
import { aretomoCommand } from '../../src/tools/aretomo.js';
import { commandsIn } from '../../src/tools/job-script.js';
import { optimiserPath } from '../../src/tools/refine-iterations.js';
import {
  CONTINUE_FROM,
  maskCreateCommand,
  MPI_RANKS,
  mpiRanksFor,
  parseRelionVersion,
  postprocessCommand,
  preprocessExtractCommand,
  refineCommand,
  refineContinueCommand,
  relionBinary,
  subtomoCommand,
  type RelionRuntime,
} from '../../src/tools/relion.js';
import { commandForRung, continueFrom, GPUS } from '../../src/tools/rung-command.js';
import {
  alignmentImport,
  dataPath,
  extractStep,
  particlePixelSize,
  postprocessStep,
  reconstructCommand,
  refineCommands,
  refineStep,
  tomogramFile,
  tomogramPixelSize,
  type CampaignLayout,
  type Toolset,
} from '../../src/tools/toolset.js';

const ROOT = new URL('../../', import.meta.url);

function loadSpec(file: string, profile: 'production' | 'relion5' | 'embedded'): CampaignSpec {
  const result = parseCampaign(readFileSync(new URL(file, ROOT), 'utf8'), profile);
  if (!result.ok) assert.fail(`${file} does not parse: ${JSON.stringify(result.issues)}`);
  return result.spec;
}

const PRODUCTION = loadSpec('campaigns/empiar-10164.yaml', 'production');
const EMBEDDED = loadSpec('campaigns/embedded-10164.yaml', 'embedded');
const RELION5 = loadSpec('campaigns/relion5-10164.yaml', 'relion5');

/**
 * The seed study's command lines, copied from /work/shared/seed/000_d73e982e3a05a24f.txt
 * ("The front half" and "The back half" sections, continuation backslashes joined).
 */
const SEED_ARETOMO =
  'AreTomo2 -InMrc TS_01.mrc -OutMrc TS_01_aretomo.mrc -AngFile TS_01.rawtlt -VolZ 2000 -OutBin 6 -Patch 0 0 ' +
  '-Gpu 0 -Wbp 1 -PixSize 1.35 -FlipVol 1 -OutImod 1';
/** "launched as mpirun -n 5" + the verbatim relion_refine_mpi block of the seed. */
const SEED_REFINE =
  'mpirun -n 5 relion_refine_mpi --auto_refine --split_random_halves --ios optimisation_set.star --ref half1.mrc ' +
  '--solvent_mask mask_align.mrc --particle_diameter 230 --sym C6 --ini_high 5.5 --healpix_order 4 ' +
  '--ctf --solvent_correct_fsc --pad 2 --gpu';

const GPU_RUNTIME: RelionRuntime = { mpirun: ['mpirun'], gpu: true, threads: 1 };
const CPU_RUNTIME: RelionRuntime = {
  mpirun: ['mpirun', '--allow-run-as-root', '--oversubscribe'],
  gpu: false,
  threads: 2,
};

const PRODUCTION_TOOLS: Toolset = {
  profile: 'production',
  // What stageBinary returns: <stageDir>/<basename of tools.aretomo2>.
  aretomo2: '/shared/work/bin/AreTomo2_1.1.2_Cuda121',
  relion: GPU_RUNTIME,
};
const EMBEDDED_TOOLS: Toolset = { profile: 'embedded', aretomo2: '/work/bin/aretomo2_standin.py', relion: CPU_RUNTIME };

const PRODUCTION_LAYOUT: CampaignLayout = { dir: '/shared/work/empiar-10164', dataDir: '/shared/empiar-10164' };
const EMBEDDED_LAYOUT: CampaignLayout = { dir: '/work/embedded-10164', dataDir: '/data/synthetic-10164' };

const rung = (gres: string): PlacementRung => ({ cluster: 'aws', partition: 'gpu', gres, timeScale: 1 });

/** The `bash -c` script of a commandsIn argv, as lines. */
function scriptLines(argv: readonly string[]): string[] {
  assert.equal(argv.length, 3);
  assert.equal(argv[0], 'bash');
  assert.equal(argv[1], '-c');
  return argv[2]!.split('\n');
}

/** Runs argv (no shell of ours in between) and returns its exit status and output. */
function run(argv: readonly string[], cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', ...(cwd === undefined ? {} : { cwd }) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('campaign parameters (campaigns/empiar-10164.yaml)', () => {
  it('are the seed study parameters', () => {
    assert.deepEqual(PRODUCTION.reconstruction, {
      volZ: 2000,
      outBin: 6,
      patch: [0, 0],
      refineTiltAxis: true,
      wbp: true,
      flipVol: true,
      outImod: true,
    });
    assert.deepEqual(PRODUCTION.extraction, { box: 512, crop: 192, bin: 1, maxDose: 50, float16: true, stack2d: true });
    assert.equal(PRODUCTION.tiltSeries[0]!.name, 'TS_01');
    assert.equal(PRODUCTION.tiltSeries[0]!.pixelSize, 1.35);
  });
});

describe('aretomoCommand', () => {
  it('builds exactly the seed study AreTomo2 line from the production campaign', () => {
    const ts = PRODUCTION.tiltSeries[0]!;
    const argv = aretomoCommand(
      'AreTomo2',
      { inMrc: 'TS_01.mrc', outMrc: 'TS_01_aretomo.mrc', angFile: 'TS_01.rawtlt' },
      PRODUCTION.reconstruction,
      ts.pixelSize,
    );
    assert.equal(argv.join(' '), SEED_ARETOMO);
    assert.deepEqual(argv, SEED_ARETOMO.split(' '));
  });

  it('writes booleans as 0/1 and the patch as two numbers', () => {
    const argv = aretomoCommand(
      'A',
      { inMrc: 'i.mrc', outMrc: 'o.mrc', angFile: 'a.rawtlt' },
      { volZ: 64, outBin: 1, patch: [5, 4], wbp: false, flipVol: false, outImod: true, refineTiltAxis: true },
      10,
    );
    assert.deepEqual(argv, [
      'A',
      '-InMrc',
      'i.mrc',
      '-OutMrc',
      'o.mrc',
      '-AngFile',
      'a.rawtlt',
      '-VolZ',
      '64',
      '-OutBin',
      '1',
      '-Patch',
      '5',
      '4',
      '-Gpu',
      '0',
      '-Wbp',
      '0',
      '-PixSize',
      '10',
      '-FlipVol',
      '0',
      '-OutImod',
      '1',
    ]);
  });

  it('passes the nominal tilt axis as -TiltAxis, with -1 when it is not to be refined', () => {
    const files = { inMrc: 'i.mrc', outMrc: 'o.mrc', angFile: 'a.rawtlt' };
    const params = {
      volZ: 64,
      outBin: 1,
      patch: [0, 0] as [number, number],
      wbp: true,
      flipVol: true,
      outImod: true,
      tiltAxis: 85.3,
      refineTiltAxis: true,
    };
    assert.deepEqual(aretomoCommand('A', files, params, 10).slice(-2), ['-TiltAxis', '85.3']);
    assert.deepEqual(aretomoCommand('A', files, { ...params, refineTiltAxis: false }, 10).slice(-3), [
      '-TiltAxis',
      '85.3',
      '-1',
    ]);
  });

  it('reconstructCommand: the seed line with the staged binary and paths under the data/campaign folders', () => {
    const argv = reconstructCommand(PRODUCTION_TOOLS, PRODUCTION_LAYOUT, PRODUCTION, PRODUCTION.tiltSeries[0]!);
    const expectedAretomo =
      '/shared/work/bin/AreTomo2_1.1.2_Cuda121 -InMrc /shared/empiar-10164/tilt_series/TS_01.mrc ' +
      '-OutMrc tomograms/TS_01.mrc -AngFile /shared/empiar-10164/tilt_series/TS_01.rawtlt ' +
      '-VolZ 2000 -OutBin 6 -Patch 0 0 -Gpu 0 -Wbp 1 -PixSize 1.35 -FlipVol 1 -OutImod 1';
    assert.deepEqual(scriptLines(argv), [
      'set -euo pipefail',
      'mkdir -p -- /shared/work/empiar-10164',
      'cd -- /shared/work/empiar-10164',
      'mkdir -p tomograms',
      expectedAretomo,
    ]);
    // The builder runs the staged binary by its full path, reads the stack and angles from
    // dataDir and writes tomograms/<name>.mrc (the seed ran `AreTomo2` from PATH inside the
    // data folder and called its output TS_01_aretomo.mrc). Mapping those three differences
    // back gives the seed's tokens exactly.
    const seedNames: Record<string, string> = {
      '/shared/work/bin/AreTomo2_1.1.2_Cuda121': 'AreTomo2',
      '/shared/empiar-10164/tilt_series/TS_01.mrc': 'TS_01.mrc',
      '/shared/empiar-10164/tilt_series/TS_01.rawtlt': 'TS_01.rawtlt',
      'tomograms/TS_01.mrc': 'TS_01_aretomo.mrc',
    };
    assert.deepEqual(
      expectedAretomo.split(' ').map((t) => seedNames[t] ?? t),
      SEED_ARETOMO.split(' '),
    );
  });

  it('tomogram file and pixel sizes', () => {
    assert.equal(tomogramFile('TS_43'), 'tomograms/TS_43.mrc');
    assert.equal(tomogramPixelSize(PRODUCTION, PRODUCTION.tiltSeries[0]!), 1.35 * 6);
    assert.equal(tomogramPixelSize(EMBEDDED, EMBEDDED.tiltSeries[0]!), 10);
    assert.equal(particlePixelSize(PRODUCTION_TOOLS, PRODUCTION), 1.35);
    assert.equal(particlePixelSize(EMBEDDED_TOOLS, EMBEDDED), (10 * 32) / 24);
  });

  it('dataPath: relative under dataDir, absolute as given', () => {
    assert.equal(dataPath(PRODUCTION_LAYOUT, 'masks/mask_fsc.mrc'), '/shared/empiar-10164/masks/mask_fsc.mrc');
    assert.equal(dataPath(PRODUCTION_LAYOUT, '/elsewhere/ref.mrc'), '/elsewhere/ref.mrc');
  });
});

describe('relion: production commands (seed study)', () => {
  it('relionBinary: PATH or binDir (trailing slashes dropped)', () => {
    assert.equal(relionBinary(GPU_RUNTIME, 'relion_refine_mpi'), 'relion_refine_mpi');
    assert.equal(
      relionBinary({ ...GPU_RUNTIME, binDir: '/opt/relion/bin//' }, 'relion_refine_mpi'),
      '/opt/relion/bin/relion_refine_mpi',
    );
  });

  it('subtomoCommand: box 512 / crop 192 / bin 1 / max dose 50 / --float16 --stack2d', () => {
    const argv = subtomoCommand(
      GPU_RUNTIME,
      { particles: 'particles.star', tomograms: 'tomograms.star', outDir: 'Extract' },
      PRODUCTION.extraction,
    );
    assert.equal(
      argv.join(' '),
      'relion_tomo_subtomo --p particles.star --t tomograms.star --o Extract/ ' +
        '--b 512 --crop 192 --bin 1 --max_dose 50 --float16 --stack2d --j 1',
    );
  });

  it('subtomoCommand: optional flags left out', () => {
    const argv = subtomoCommand(
      CPU_RUNTIME,
      { particles: 'p.star', tomograms: 't.star', outDir: 'Out/' },
      { box: 64, crop: 64, bin: 2, float16: false, stack2d: false },
    );
    assert.deepEqual(argv, [
      'relion_tomo_subtomo',
      '--p',
      'p.star',
      '--t',
      't.star',
      '--o',
      'Out/',
      '--b',
      '64',
      '--crop',
      '64',
      '--bin',
      '2',
      '--j',
      '2',
    ]);
  });

  it(
    "extractStep (production): relion_tomo_subtomo on the campaign's own imported alignment, " +
      'in the campaign folder',
    () => {
      const step = extractStep(PRODUCTION_TOOLS, PRODUCTION_LAYOUT, PRODUCTION, PRODUCTION.tiltSeries);
      assert.deepEqual(step.files, []);
      assert.equal(step.particles, 'Extract/optimisation_set.star');
      assert.deepEqual(scriptLines(step.command), [
        'set -euo pipefail',
        'mkdir -p -- /shared/work/empiar-10164',
        'cd -- /shared/work/empiar-10164',
        'mkdir -p Extract',
        'relion_tomo_subtomo --p /shared/work/empiar-10164/Alignment/particles.star ' +
          '--t /shared/work/empiar-10164/Alignment/tomograms.star ' +
          '--o Extract/ --b 512 --crop 192 --bin 1 --max_dose 50 --float16 --stack2d --j 1',
      ]);
    },
  );

  it('extractStep (production, alignment: published): the published tables as they are', () => {
    const published = {
      ...PRODUCTION,
      alignment: 'published' as const,
      relion5: { particles: 'relion5/particles.star', tomograms: 'relion5/tomograms.star' },
    };
    const step = extractStep(PRODUCTION_TOOLS, PRODUCTION_LAYOUT, published, PRODUCTION.tiltSeries);
    assert.match(
      scriptLines(step.command).at(-1)!,
      new RegExp(
        '^relion_tomo_subtomo --p \\/shared\\/empiar-10164\\/relion5\\/particles.star ' +
          '--t \\/shared\\/empiar-10164\\/relion5\\/tomograms.star ',
      ),
    );
  });

  it('extractStep (production) without relion5 inputs throws', () => {
    const { relion5: _dropped, ...rest } = PRODUCTION;
    assert.throws(
      () => extractStep(PRODUCTION_TOOLS, PRODUCTION_LAYOUT, rest, PRODUCTION.tiltSeries),
      /needs relion5\.tomograms/,
    );
  });

  it('alignmentImport: the .aln AreTomo2 writes beside each tomogram, the picks, and where the STAR files go', () => {
    const plan = alignmentImport(
      PRODUCTION_LAYOUT,
      PRODUCTION,
      PRODUCTION.tiltSeries.slice(0, 1),
      [{ name: 'TS_01', nx: 4096, ny: 4096 }],
      'aws',
    );
    assert.equal(plan.tomograms, '/shared/empiar-10164/relion5/ctf/tilt_series_ctf.star');
    assert.deepEqual(plan.series[0], {
      name: 'TS_01',
      aln: '/shared/work/empiar-10164/tomograms/TS_01.aln',
      picks: '/shared/empiar-10164/picks/TS_01.star',
      star: '/shared/work/empiar-10164/Alignment/tilt_series/TS_01.star',
      pixelSize: 1.35,
      size: [4096, 4096, 2000],
      binned: [682, 682, 333],
      voxelSize: 1.35 * 6,
    });
    assert.deepEqual(plan.out, {
      tomograms: '/shared/work/empiar-10164/Alignment/tomograms.star',
      particles: '/shared/work/empiar-10164/Alignment/particles.star',
    });
  });

  it('refineCommand: the seed refine line, token for token, plus the output root', () => {
    // The seed's refine: healpix order 4 alone (local searches around published angles).
    const { autoLocalHealpixOrder: _local, ...seedRefine } = { ...PRODUCTION.refine, healpixOrder: 4 };
    const argv = refineCommand(
      GPU_RUNTIME,
      {
        input: { kind: 'ios', path: 'optimisation_set.star' },
        reference: 'half1.mrc',
        solventMask: 'mask_align.mrc',
        outRoot: 'Refine3D/run',
      },
      seedRefine,
      String(mpiRanksFor(4)),
    );
    // The seed quotes the refine without its --o; the builder always names the output root.
    assert.deepEqual(argv.slice(3, 6), ['relion_refine_mpi', '--o', 'Refine3D/run']);
    assert.equal([...argv.slice(0, 4), ...argv.slice(6)].join(' '), SEED_REFINE);
  });

  it('refineStep (production): mpi ranks and seed flags, filled in per rung', () => {
    const { command, resume } = refineStep(PRODUCTION_TOOLS, PRODUCTION, 'Extract/optimisation_set.star');
    assert.deepEqual(command.slice(0, 3), ['mpirun', '-n', MPI_RANKS]);
    assert.equal(
      commandForRung(command, rung('gpu:t4:4')).join(' '),
      'mpirun -n 5 relion_refine_mpi --o Refine3D/run --auto_refine --split_random_halves ' +
        '--ios Extract/optimisation_set.star --ref reference/half1.mrc --solvent_mask masks/mask_align.mrc ' +
        '--particle_diameter 230 --sym C6 --ini_high 5.5 --healpix_order 2 ' +
        '--ctf --solvent_correct_fsc --pad 2 --auto_local_healpix_order 4 --gpu',
    );
    assert.deepEqual(resume, [
      'mpirun',
      '-n',
      MPI_RANKS,
      'relion_refine_mpi',
      '--continue',
      CONTINUE_FROM,
      '--o',
      'Refine3D/run',
      '--gpu',
    ]);
  });

  it('refineCommands (production): a script in the campaign folder with absolute data paths, ranks per rung', () => {
    const { command, resume } = refineCommands(
      PRODUCTION_TOOLS,
      PRODUCTION_LAYOUT,
      PRODUCTION,
      'Extract/optimisation_set.star',
    );
    const refineLine = (ranks: string) =>
      `mpirun -n ${ranks} relion_refine_mpi --o Refine3D/run --auto_refine --split_random_halves ` +
      '--ios Extract/optimisation_set.star --ref /shared/empiar-10164/reference/half1.mrc ' +
      '--solvent_mask /shared/empiar-10164/masks/mask_align.mrc --particle_diameter 230 ' +
      '--sym C6 --ini_high 5.5 --healpix_order 2 ' +
      '--ctf --solvent_correct_fsc --pad 2 --auto_local_healpix_order 4 --gpu';
    const head = ['set -euo pipefail', 'mkdir -p -- /shared/work/empiar-10164', 'cd -- /shared/work/empiar-10164'];
    // The placeholder is not a safe shell word, so the script carries it quoted; filled in, it stays quoted.
    assert.deepEqual(scriptLines(command), [...head, 'mkdir -p Refine3D', refineLine("'{{mpi_ranks}}'")]);
    assert.deepEqual(scriptLines(commandForRung(command, rung('gpu:a10g:4'))), [
      ...head,
      'mkdir -p Refine3D',
      refineLine("'5'"),
    ]);
    assert.deepEqual(scriptLines(commandForRung(command, rung('gpu:1'))), [
      ...head,
      'mkdir -p Refine3D',
      refineLine("'3'"),
    ]);
    // Resume, as clusterJob builds it: continue from iteration 7 on a 4-GPU rung.
    const resumed = commandForRung(continueFrom(resume, optimiserPath('Refine3D/run', 7)), rung('gpu:4'));
    assert.deepEqual(scriptLines(resumed), [
      ...head,
      "mpirun -n '5' relion_refine_mpi --continue 'Refine3D/run_it007_optimiser.star' --o Refine3D/run --gpu",
    ]);
  });

  it('postprocessCommand: --auto_bfac, optional --autob_lowres', () => {
    const argv = postprocessCommand(
      GPU_RUNTIME,
      { half1: 'Refine3D/run_half1_class001_unfil.mrc', mask: 'mask_fsc.mrc', outRoot: 'PostProcess/postprocess' },
      PRODUCTION.postprocess,
      1.35,
    );
    assert.equal(
      argv.join(' '),
      'relion_postprocess --i Refine3D/run_half1_class001_unfil.mrc --mask mask_fsc.mrc ' +
        '--angpix 1.35 --auto_bfac --o PostProcess/postprocess',
    );
    const lowres = postprocessCommand(
      GPU_RUNTIME,
      { half1: 'h1.mrc', mask: 'm.mrc', outRoot: 'P/p' },
      { autobLowres: 60 },
      2,
    );
    assert.deepEqual(lowres, [
      'relion_postprocess',
      '--i',
      'h1.mrc',
      '--mask',
      'm.mrc',
      '--angpix',
      '2',
      '--auto_bfac',
      '--autob_lowres',
      '60',
      '--o',
      'P/p',
    ]);
  });

  it('postprocessStep (production): the FSC mask from the campaign, at the particle pixel size', () => {
    // The seed write-up says `--auto_bfac true`; RELION's --auto_bfac is a switch, so the
    // builder passes it bare.
    assert.deepEqual(scriptLines(postprocessStep(PRODUCTION_TOOLS, PRODUCTION_LAYOUT, PRODUCTION)), [
      'set -euo pipefail',
      'mkdir -p -- /shared/work/empiar-10164',
      'cd -- /shared/work/empiar-10164',
      'mkdir -p PostProcess',
      'relion_postprocess --i Refine3D/run_half1_class001_unfil.mrc --mask /shared/empiar-10164/masks/mask_fsc.mrc ' +
        '--angpix 1.35 --auto_bfac --o PostProcess/postprocess',
    ]);
  });

  it('postprocessStep without any mask throws', () => {
    const spec: CampaignSpec = { ...PRODUCTION, masks: {}, postprocess: {} };
    assert.throws(
      () => postprocessStep(PRODUCTION_TOOLS, PRODUCTION_LAYOUT, spec),
      /masks\.fsc or postprocess\.denovoMask/,
    );
  });
});

describe('relion: MPI ranks and rung placeholders', () => {
  it('mpiRanksFor: GPUs + 1, never fewer than 3', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 8].map(mpiRanksFor), [3, 3, 3, 4, 5, 9]);
  });

  it('commandForRung replaces {{mpi_ranks}} and {{gpus}}, also inside arguments', () => {
    const argv = ['mpirun', '-n', MPI_RANKS, 'tool', `--gpus=${GPUS}`, `x${MPI_RANKS}y${MPI_RANKS}`, 'plain'];
    assert.deepEqual(commandForRung(argv, rung('gpu:a10g:4')), [
      'mpirun',
      '-n',
      '5',
      'tool',
      '--gpus=4',
      'x5y5',
      'plain',
    ]);
    assert.deepEqual(commandForRung(argv, rung('gpu:1')), ['mpirun', '-n', '3', 'tool', '--gpus=1', 'x3y3', 'plain']);
    assert.deepEqual(commandForRung(argv, rung('gpu:t4:8')), [
      'mpirun',
      '-n',
      '9',
      'tool',
      '--gpus=8',
      'x9y9',
      'plain',
    ]);
    // The input is not changed.
    assert.equal(argv[2], '{{mpi_ranks}}');
  });

  it('continueFrom replaces {{continue_from}} only', () => {
    assert.deepEqual(continueFrom(['a', CONTINUE_FROM, MPI_RANKS], 'R/run_it003_optimiser.star'), [
      'a',
      'R/run_it003_optimiser.star',
      '{{mpi_ranks}}',
    ]);
  });

  it('refineContinueCommand: --continue <root>_it00N_optimiser.star, GPU or CPU tail', () => {
    assert.deepEqual(refineContinueCommand(GPU_RUNTIME, 'Refine3D/run', optimiserPath('Refine3D/run', 6), '5'), [
      'mpirun',
      '-n',
      '5',
      'relion_refine_mpi',
      '--continue',
      'Refine3D/run_it006_optimiser.star',
      '--o',
      'Refine3D/run',
      '--gpu',
    ]);
    assert.deepEqual(
      refineContinueCommand(
        { ...CPU_RUNTIME, binDir: '/usr/bin' },
        'Refine3D/run',
        optimiserPath('Refine3D/run', 12),
        '3',
      ),
      [
        'mpirun',
        '--allow-run-as-root',
        '--oversubscribe',
        '-n',
        '3',
        '/usr/bin/relion_refine_mpi',
        '--continue',
        'Refine3D/run_it012_optimiser.star',
        '--o',
        'Refine3D/run',
        '--j',
        '2',
      ],
    );
  });
});

describe('relion: the relion5 profile is the production lines with the runtime swapped', () => {
  const RELION5_TOOLS: Toolset = {
    profile: 'relion5',
    aretomo2: '/work/bin/aretomo2_standin.py',
    relion: { ...CPU_RUNTIME, binDir: '/opt/relion5/bin', threads: 1 },
  };
  const LAYOUT: CampaignLayout = { dir: '/work/relion5-10164', dataDir: '/data/synthetic-10164-relion5' };
  /** The production toolset on the same binaries: only the runtime differs. */
  const AS_PRODUCTION: Toolset = {
    ...RELION5_TOOLS,
    profile: 'production',
    relion: { ...RELION5_TOOLS.relion, mpirun: ['mpirun'], gpu: true },
  };
  const swapRuntime = (line: string) =>
    line
      .replace(/^mpirun -n '?\{\{mpi_ranks\}\}'?/, 'mpirun --allow-run-as-root --oversubscribe -n 3')
      .replace(/ --gpu$/, ' --j 1');

  it('extract: the same relion_tomo_subtomo line, seed flags, counted from Extract/particles.star', () => {
    const cpu = extractStep(RELION5_TOOLS, LAYOUT, RELION5, RELION5.tiltSeries);
    const gpu = extractStep(AS_PRODUCTION, LAYOUT, RELION5, RELION5.tiltSeries);
    assert.deepEqual(cpu, gpu);
    assert.equal(cpu.particles, 'Extract/optimisation_set.star');
    assert.equal(cpu.particlesTable, 'Extract/particles.star');
    assert.equal(
      scriptLines(cpu.command).at(-1),
      '/opt/relion5/bin/relion_tomo_subtomo --p /work/relion5-10164/Alignment/particles.star ' +
        '--t /work/relion5-10164/Alignment/tomograms.star --o Extract/ ' +
        '--b 48 --crop 32 --bin 1 --max_dose 60 --float16 --stack2d --j 1',
    );
  });

  it('refine: --ios, 3 ranks (a leader and one per half-set), --j instead of --gpu; nothing else differs', () => {
    const cpu = refineCommands(RELION5_TOOLS, LAYOUT, RELION5, 'Extract/optimisation_set.star');
    const gpu = refineCommands(AS_PRODUCTION, LAYOUT, RELION5, 'Extract/optimisation_set.star');
    const last = (argv: readonly string[]) => scriptLines(argv).at(-1)!;
    assert.equal(swapRuntime(last(gpu.command)), last(cpu.command));
    assert.match(
      last(cpu.command),
      new RegExp(
        '-n 3 \\/opt\\/relion5\\/bin\\/relion_refine_mpi --o Refine3D\\/run --auto_refine --split_random_halves ' +
          '--ios Extract\\/optimisation_set.star ',
      ),
    );
    assert.match(last(cpu.command), / --sym C6 --ini_high 60 --healpix_order 2 --ctf --solvent_correct_fsc --pad 2 /);
    assert.equal(swapRuntime(last(gpu.resume)), last(cpu.resume));
    assert.equal(particlePixelSize(RELION5_TOOLS, RELION5), 6);
  });

  it('postprocess: the FSC mask, --auto_bfac, at the tilt-series pixel size x bin', () => {
    assert.deepEqual(postprocessStep(RELION5_TOOLS, LAYOUT, RELION5), postprocessStep(AS_PRODUCTION, LAYOUT, RELION5));
    assert.equal(
      scriptLines(postprocessStep(RELION5_TOOLS, LAYOUT, RELION5)).at(-1),
      '/opt/relion5/bin/relion_postprocess --i Refine3D/run_half1_class001_unfil.mrc ' +
        '--mask /data/synthetic-10164-relion5/masks/mask_fsc.mrc ' +
        '--angpix 6 --auto_bfac --autob_lowres 30 --o PostProcess/postprocess',
    );
  });

  it('the relion5 campaign file without relion5 inputs is refused, naming the field', () => {
    const text = readFileSync(new URL('campaigns/relion5-10164.yaml', ROOT), 'utf8').replace(/^relion5:.*$/m, '');
    const result = parseCampaign(text, 'relion5');
    assert.ok(!result.ok);
    assert.match(
      JSON.stringify(result.issues),
      /relion5.*missing: the relion5 profile extracts with relion_tomo_subtomo/,
    );
  });

  it('parseRelionVersion: what relion_refine_mpi --version prints (3.1 and 5 alike)', () => {
    assert.deepEqual(
      parseRelionVersion('RELION version: 5.0.1 \nPrecision: BASE=double\n\n', '/opt/relion5/bin/relion_refine_mpi'),
      { version: '5.0.1', precision: 'BASE=double', program: '/opt/relion5/bin/relion_refine_mpi' },
    );
    assert.deepEqual(parseRelionVersion('RELION version: 3.1.3 \n', 'relion_refine_mpi'), {
      version: '3.1.3',
      program: 'relion_refine_mpi',
    });
    assert.deepEqual(parseRelionVersion('bash: relion_refine_mpi: command not found', 'relion_refine_mpi'), {
      version: 'unknown',
      program: 'relion_refine_mpi',
    });
  });
});

describe('relion: embedded profile variants', () => {
  it('refineStep (embedded): 3 ranks, --i particles, CPU threads instead of --gpu, tuning flags', () => {
    const { command, resume } = refineStep(EMBEDDED_TOOLS, EMBEDDED, 'Extract/particles.star');
    assert.deepEqual(command, [
      'mpirun',
      '--allow-run-as-root',
      '--oversubscribe',
      '-n',
      '3',
      'relion_refine_mpi',
      '--o',
      'Refine3D/run',
      '--auto_refine',
      '--split_random_halves',
      '--i',
      'Extract/particles.star',
      '--ref',
      'reference.mrc',
      '--particle_diameter',
      '260',
      '--sym',
      'C6',
      '--ini_high',
      '60',
      '--healpix_order',
      '1',
      '--pad',
      '2',
      '--auto_local_healpix_order',
      '2',
      '--offset_range',
      '3',
      '--offset_step',
      '1.5',
      '--low_resol_join_halves',
      '40',
      '--flatten_solvent',
      '--zero_mask',
      '--norm',
      '--scale',
      '--random_seed',
      '10164',
      '--j',
      '2',
    ]);
    assert.ok(!command.includes('--gpu'));
    // No placeholder: the rung does not change the embedded line.
    assert.deepEqual(commandForRung(command, rung('gpu:4')), command);
    assert.deepEqual(resume, [
      'mpirun',
      '--allow-run-as-root',
      '--oversubscribe',
      '-n',
      '3',
      'relion_refine_mpi',
      '--continue',
      CONTINUE_FROM,
      '--o',
      'Refine3D/run',
      '--j',
      '2',
    ]);
  });

  it('refineCommand: --solvent_correct_fsc needs a solvent mask', () => {
    const files = { input: { kind: 'ios' as const, path: 'o.star' }, reference: 'r.mrc', outRoot: 'R/run' };
    const argv = refineCommand(GPU_RUNTIME, files, PRODUCTION.refine, '3');
    assert.ok(!argv.includes('--solvent_correct_fsc'));
    assert.ok(!argv.includes('--solvent_mask'));
    assert.ok(argv.includes('--ctf'));
  });

  it('extractStep (embedded): relion_preprocess, coordinate copies and a micrographs STAR', () => {
    const series = EMBEDDED.tiltSeries.slice(0, 2);
    const step = extractStep(EMBEDDED_TOOLS, EMBEDDED_LAYOUT, EMBEDDED, series);
    assert.equal(step.particles, 'Extract/particles.star');
    assert.deepEqual(scriptLines(step.command), [
      'set -euo pipefail',
      'mkdir -p -- /work/embedded-10164',
      'cd -- /work/embedded-10164',
      'mkdir -p Extract/coords/tomograms',
      'cp -- /data/synthetic-10164/TS_01_picks.star Extract/coords/tomograms/TS_01_coords.star',
      'cp -- /data/synthetic-10164/TS_03_picks.star Extract/coords/tomograms/TS_03_coords.star',
      'relion_preprocess --i Extract/tomograms.star --coord_dir Extract/coords/ --coord_suffix _coords.star ' +
        '--part_star Extract/particles.star ' +
        '--part_dir Extract/ --extract --extract_size 32 --scale 24 --norm --bg_radius 9',
    ]);
    assert.equal(step.files.length, 1);
    assert.equal(step.files[0]!.path, '/work/embedded-10164/Extract/tomograms.star');
    assert.match(step.files[0]!.text, /tomograms\/TS_01\.mrc\s+1\s*\n/);
    assert.match(step.files[0]!.text, /tomograms\/TS_03\.mrc\s+1\s*\n/);
    assert.doesNotMatch(step.files[0]!.text, /TS_43/);
  });

  it('preprocessExtractCommand: no --scale when crop equals box', () => {
    const argv = preprocessExtractCommand(
      CPU_RUNTIME,
      { micrographs: 'm.star', coordDir: 'c/', coordSuffix: '_c.star', particles: 'p.star', partDir: 'P/' },
      { box: 40, crop: 40, bin: 1, float16: true, stack2d: true },
    );
    assert.deepEqual(argv.slice(-5), ['--extract_size', '40', '--norm', '--bg_radius', '16']);
  });

  it('postprocessStep (embedded): a de-novo mask at the rescaled pixel size, then postprocess', () => {
    const angpix = String((10 * 32) / 24);
    assert.deepEqual(scriptLines(postprocessStep(EMBEDDED_TOOLS, EMBEDDED_LAYOUT, EMBEDDED)), [
      'set -euo pipefail',
      'mkdir -p -- /work/embedded-10164',
      'cd -- /work/embedded-10164',
      'mkdir -p PostProcess',
      'relion_mask_create --denovo --box_size 24 --outer_radius 10 --width_soft_edge 2 ' +
        `--angpix ${angpix} --o PostProcess/mask.mrc`,
      'relion_postprocess --i Refine3D/run_half1_class001_unfil.mrc --mask PostProcess/mask.mrc ' +
        `--angpix ${angpix} --auto_bfac --autob_lowres 60 --o PostProcess/postprocess`,
    ]);
  });

  it('maskCreateCommand', () => {
    assert.deepEqual(
      maskCreateCommand(
        { ...CPU_RUNTIME, binDir: '/r' },
        { box: 24, pixelSize: 13.5, outerRadiusPx: 10, softEdgePx: 2, out: 'm.mrc' },
      ),
      [
        '/r/relion_mask_create',
        '--denovo',
        '--box_size',
        '24',
        '--outer_radius',
        '10',
        '--width_soft_edge',
        '2',
        '--angpix',
        '13.5',
        '--o',
        'm.mrc',
      ],
    );
  });

  it('reconstructCommand (embedded): the stand-in takes the same flags', () => {
    const lines = scriptLines(reconstructCommand(EMBEDDED_TOOLS, EMBEDDED_LAYOUT, EMBEDDED, EMBEDDED.tiltSeries[2]!));
    assert.equal(
      lines.at(-1),
      '/work/bin/aretomo2_standin.py -InMrc /data/synthetic-10164/TS_43.mrc -OutMrc tomograms/TS_43.mrc ' +
        '-AngFile /data/synthetic-10164/TS_43.rawtlt ' +
        '-VolZ 64 -OutBin 1 -Patch 0 0 -Gpu 0 -Wbp 1 -PixSize 10 -FlipVol 1 -OutImod 1',
    );
  });
});

describe('commandsIn (job script)', () => {
  it('a bash -c script: set -euo pipefail, mkdir and cd into the folder, one line per command', () => {
    assert.deepEqual(
      commandsIn('/w/c1', [
        ['echo', 'a'],
        ['ls', '-l'],
      ]),
      ['bash', '-c', 'set -euo pipefail\nmkdir -p -- /w/c1\ncd -- /w/c1\necho a\nls -l'],
    );
  });

  it('quotes folder names and arguments with spaces and quotes', () => {
    assert.deepEqual(scriptLines(commandsIn("/w/it's a dir", [['echo', 'a b', 'say "hi"', "it's", '']])), [
      'set -euo pipefail',
      `mkdir -p -- '/w/it'\\''s a dir'`,
      `cd -- '/w/it'\\''s a dir'`,
      `echo 'a b' 'say "hi"' 'it'\\''s' ''`,
    ]);
  });

  it('no commands, or a NUL byte, throws', () => {
    assert.throws(() => commandsIn('/w', []), /commandsIn: no commands/);
    assert.throws(
      () => commandsIn('/w', [['echo', 'a\0b']]),
      (err: unknown) => err instanceof CryoError && err.type === ErrorType.NameInvalid,
    );
  });

  it('bash parses the script (bash -n) and reads every argument back byte for byte', () => {
    const base = mkdtempSync(join(tmpdir(), 'cryoet-cmds-'));
    try {
      const dir = join(base, `a dir with 'quotes' "and" $HOME \`x\` spaces`);
      const odd = [
        'a b',
        "it's",
        'say "hi"',
        '$HOME',
        '`whoami`',
        '$(echo no)',
        '',
        '*',
        'line1\nline2',
        'semi;colon',
        'back\\slash',
        'if',
      ];
      const argv = commandsIn(dir, [['printf', '[%s]\\n', ...odd], ['pwd']]);
      const syntax = run(['bash', '-n', '-c', argv[2]!]);
      assert.equal(syntax.status, 0, syntax.stderr);
      const result = run(argv, base);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, odd.map((a) => `[${a}]\n`).join('') + `${dir}\n`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('the first failing command fails the script; later ones do not run', () => {
    const base = mkdtempSync(join(tmpdir(), 'cryoet-cmds-'));
    try {
      const result = run(commandsIn(join(base, 'x'), [['echo', 'before'], ['false'], ['echo', 'after']]));
      assert.equal(result.status, 1);
      assert.equal(result.stdout, 'before\n');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a production refine script filled in for its rung is valid bash', () => {
    const { command, resume } = refineCommands(
      PRODUCTION_TOOLS,
      PRODUCTION_LAYOUT,
      PRODUCTION,
      'Extract/optimisation_set.star',
    );
    for (const argv of [
      commandForRung(command, rung('gpu:a10g:4')),
      commandForRung(continueFrom(resume, optimiserPath('Refine3D/run', 3)), rung('gpu:1')),
    ]) {
      const r = run(['bash', '-n', '-c', argv[2]!]);
      assert.equal(r.status, 0, r.stderr);
    }
  });
});
