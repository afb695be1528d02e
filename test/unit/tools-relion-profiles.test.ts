/**
 * RELION command lines per profile: relion5 (the production lines with a CPU runtime) and the
 * embedded profile's variants.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseCampaign } from '../../src/campaign/load.js';
import {
  CONTINUE_FROM,
  maskCreateCommand,
  parseRelionVersion,
  preprocessExtractCommand,
  refineCommand,
} from '../../src/tools/relion.js';
import { commandForRung } from '../../src/tools/rung-command.js';
import {
  extractStep,
  particlePixelSize,
  postprocessStep,
  reconstructCommand,
  refineCommands,
  refineStep,
  type CampaignLayout,
  type Toolset,
} from '../../src/tools/toolset.js';
import {
  ROOT,
  PRODUCTION,
  EMBEDDED,
  RELION5,
  GPU_RUNTIME,
  CPU_RUNTIME,
  EMBEDDED_TOOLS,
  EMBEDDED_LAYOUT,
  rung,
  scriptLines,
} from '../helpers/tool-commands.js';

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
