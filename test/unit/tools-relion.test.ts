/**
 * RELION command lines: the seed study's production lines, MPI ranks and rung placeholders.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import { optimiserPath } from '../../src/tools/refine-iterations.js';
import {
  CONTINUE_FROM,
  MPI_RANKS,
  mpiRanksFor,
  postprocessCommand,
  refineCommand,
  refineContinueCommand,
  relionBinary,
  subtomoCommand,
} from '../../src/tools/relion.js';
import { commandForRung, continueFrom, GPUS } from '../../src/tools/rung-command.js';
import { alignmentImport, extractStep, postprocessStep, refineCommands, refineStep } from '../../src/tools/toolset.js';
import {
  PRODUCTION,
  SEED_REFINE,
  GPU_RUNTIME,
  CPU_RUNTIME,
  PRODUCTION_TOOLS,
  PRODUCTION_LAYOUT,
  rung,
  scriptLines,
} from '../helpers/tool-commands.js';

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
