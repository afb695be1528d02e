/**
 * RELION command lines, built from typed parameters: RELION 5 (`relion_tomo_subtomo`,
 * `relion_refine_mpi --ios`, `relion_postprocess`; on GPUs in production, on CPU in the
 * relion5 profile) and, for the embedded CPU profile, RELION 3.1's `relion_preprocess` (3D subtomogram extraction; 3.1
 * has no relion_tomo_* tools). Refine and postprocess lines are the same for both; only
 * the runtime (MPI launcher, `--gpu` or `--j`) differs.
 */
import type { ExtractionParams, PostprocessParams, RefineParams } from '../model/campaign-spec.js';
import type { RelionVersion } from '../model/results.js';

/** How RELION runs on the cluster. */
export interface RelionRuntime {
  /** Folder of the RELION binaries on the cluster; unset: the remote PATH. */
  readonly binDir?: string;
  /** MPI launcher and its options, e.g. `['mpirun']` or `['mpirun', '--allow-run-as-root', '--oversubscribe']`. */
  readonly mpirun: readonly string[];
  /** `--gpu` (GPU ids: the devices Slurm granted, via CUDA_VISIBLE_DEVICES) or CPU threads. */
  readonly gpu: boolean;
  /** `--j` threads per rank, on CPU. */
  readonly threads: number;
}

/** Per-rung placeholder for the MPI rank count: GPUs on the granted rung + 1, at least 3. */
export const MPI_RANKS = '{{mpi_ranks}}';
/** Placeholder in a resume command for the newest complete iteration's optimiser.star. */
export const CONTINUE_FROM = '{{continue_from}}';

export function relionBinary(rt: RelionRuntime, name: string): string {
  return rt.binDir === undefined ? name : `${rt.binDir.replace(/\/+$/, '')}/${name}`;
}

const num = (value: number): string => String(value);

/**
 * `--o <dir>/ --b <box> --crop <crop> --bin <bin>`: the output folder (with its slash) and the
 * box, as relion_tomo_subtomo and relion_tomo_reconstruct_particle both take them.
 */
function outputBox(outDir: string, p: ExtractionParams): string[] {
  const dir = outDir.endsWith('/') ? outDir : `${outDir}/`;
  return ['--o', dir, '--b', num(p.box), '--crop', num(p.crop), '--bin', num(p.bin)];
}

/**
 * `relion_tomo_subtomo --p … --t … --o Extract/ --b 512 --crop 192 --bin 1 --max_dose 50
 * --float16 --stack2d --j N`.
 */
export function subtomoCommand(
  rt: RelionRuntime,
  files: { particles: string; tomograms: string; outDir: string },
  p: ExtractionParams,
): string[] {
  return [
    relionBinary(rt, 'relion_tomo_subtomo'),
    '--p',
    files.particles,
    '--t',
    files.tomograms,
    ...outputBox(files.outDir, p),
    ...(p.maxDose === undefined ? [] : ['--max_dose', num(p.maxDose)]),
    ...(p.float16 ? ['--float16'] : []),
    ...(p.stack2d ? ['--stack2d'] : []),
    '--j',
    num(rt.threads),
  ];
}

/**
 * RELION 3.1 extraction of 3D subtomograms from tomograms (embedded profile): boxes of
 * `box` voxels rescaled to `crop` (RELION 5 crops instead; 3.1 cannot), normalised with a
 * background radius of 40% of the output box.
 */
export function preprocessExtractCommand(
  rt: RelionRuntime,
  files: { micrographs: string; coordDir: string; coordSuffix: string; particles: string; partDir: string },
  p: ExtractionParams,
): string[] {
  return [
    relionBinary(rt, 'relion_preprocess'),
    '--i',
    files.micrographs,
    '--coord_dir',
    files.coordDir,
    '--coord_suffix',
    files.coordSuffix,
    '--part_star',
    files.particles,
    '--part_dir',
    files.partDir,
    '--extract',
    '--extract_size',
    num(p.box),
    ...(p.crop === p.box ? [] : ['--scale', num(p.crop)]),
    '--norm',
    '--bg_radius',
    num(Math.floor(p.crop * 0.4)),
  ];
}

/** What the refine reads and writes. */
export interface RefineFiles {
  /** `--ios` optimisation set (RELION 5) or `--i` particles STAR (RELION 3.1). */
  readonly input: { readonly kind: 'ios' | 'i'; readonly path: string };
  readonly reference: string;
  readonly solventMask?: string;
  /** Output root, e.g. `Refine3D/run`. */
  readonly outRoot: string;
}

/**
 * The one flag RELION on CPU cannot take is `--gpu`: a build without CUDA warns "you do NOT
 * have support for GPUs" and drops it, or stops with "GPU usage requested, but RELION was
 * compiled without CUDA" (src/ml_optimiser.cpp), and it would leave `--j` at 1. CPU runs get
 * `--j N` threads per rank instead. Everything else is the same line.
 */
function runtimeTail(rt: RelionRuntime): string[] {
  return rt.gpu ? ['--gpu'] : ['--j', num(rt.threads)];
}

/**
 * `mpirun -n 5 relion_refine_mpi --o Refine3D/run --auto_refine --split_random_halves --ios …
 * --ref … --solvent_mask … --particle_diameter 230 --sym C6 --ini_high 5.5 --healpix_order 4
 * --ctf --solvent_correct_fsc --pad 2 --gpu`. `ranks` is a number or {@link MPI_RANKS}.
 */
export function refineCommand(rt: RelionRuntime, files: RefineFiles, p: RefineParams, ranks: string): string[] {
  const optional = (cond: boolean, ...args: string[]): string[] => (cond ? args : []);
  return [
    ...rt.mpirun,
    '-n',
    ranks,
    relionBinary(rt, 'relion_refine_mpi'),
    '--o',
    files.outRoot,
    '--auto_refine',
    '--split_random_halves',
    `--${files.input.kind}`,
    files.input.path,
    '--ref',
    files.reference,
    ...optional(files.solventMask !== undefined, '--solvent_mask', files.solventMask ?? ''),
    '--particle_diameter',
    num(p.particleDiameter),
    '--sym',
    p.symmetry,
    '--ini_high',
    num(p.iniHigh),
    '--healpix_order',
    num(p.healpixOrder),
    ...optional(p.ctf, '--ctf'),
    ...optional(p.solventCorrectFsc && files.solventMask !== undefined, '--solvent_correct_fsc'),
    '--pad',
    num(p.pad),
    ...optional(p.autoLocalHealpixOrder !== undefined, '--auto_local_healpix_order', num(p.autoLocalHealpixOrder ?? 0)),
    ...optional(p.offsetRange !== undefined, '--offset_range', num(p.offsetRange ?? 0)),
    ...optional(p.offsetStep !== undefined, '--offset_step', num(p.offsetStep ?? 0)),
    ...optional(p.lowResolJoinHalves !== undefined, '--low_resol_join_halves', num(p.lowResolJoinHalves ?? 0)),
    ...optional(p.flattenSolvent, '--flatten_solvent'),
    ...optional(p.zeroMask, '--zero_mask'),
    ...optional(p.normCorrection, '--norm'),
    ...optional(p.scaleCorrection, '--scale'),
    ...optional(p.randomSeed !== undefined, '--random_seed', num(p.randomSeed ?? 0)),
    ...runtimeTail(rt),
  ];
}

/**
 * The refine's resume line: continue from an iteration's optimiser.star (RELION reads every
 * other setting from it). `optimiser` is a path or {@link CONTINUE_FROM}.
 */
export function refineContinueCommand(rt: RelionRuntime, outRoot: string, optimiser: string, ranks: string): string[] {
  return [
    ...rt.mpirun,
    '-n',
    ranks,
    relionBinary(rt, 'relion_refine_mpi'),
    '--continue',
    optimiser,
    '--o',
    outRoot,
    ...runtimeTail(rt),
  ];
}

/**
 * `relion_tomo_reconstruct_particle --i <optimisation set> --o <dir>/ --b --crop --bin --j`:
 * a map from the particles at their rlnAngle* orientations, straight from the tilt series
 * (contrast inverted, like relion_tomo_subtomo); it writes `<dir>/merged.mrc`.
 */
export function reconstructParticleCommand(
  rt: RelionRuntime,
  files: { optimisationSet: string; outDir: string },
  p: ExtractionParams,
): string[] {
  return [
    relionBinary(rt, 'relion_tomo_reconstruct_particle'),
    '--i',
    files.optimisationSet,
    ...outputBox(files.outDir, p),
    '--j',
    num(rt.threads),
  ];
}

/** `relion_image_handler --i in.mrc --o out.mrc --lowpass Å`. */
export function lowpassCommand(
  rt: RelionRuntime,
  files: { input: string; output: string },
  angstrom: number,
): string[] {
  return [
    relionBinary(rt, 'relion_image_handler'),
    '--i',
    files.input,
    '--o',
    files.output,
    '--lowpass',
    num(angstrom),
  ];
}

/** `relion_mask_create --denovo`: a soft spherical mask for postprocess. */
export function maskCreateCommand(
  rt: RelionRuntime,
  m: { box: number; pixelSize: number; outerRadiusPx: number; softEdgePx: number; out: string },
): string[] {
  return [
    relionBinary(rt, 'relion_mask_create'),
    '--denovo',
    '--box_size',
    num(m.box),
    '--outer_radius',
    num(m.outerRadiusPx),
    '--width_soft_edge',
    num(m.softEdgePx),
    '--angpix',
    num(m.pixelSize),
    '--o',
    m.out,
  ];
}

/**
 * `relion_postprocess --i run_half1_class001_unfil.mrc --mask … --angpix … --auto_bfac
 * [--autob_lowres N] --o PostProcess/postprocess`.
 */
export function postprocessCommand(
  rt: RelionRuntime,
  files: { half1: string; mask: string; outRoot: string },
  p: PostprocessParams,
  pixelSize: number,
): string[] {
  return [
    relionBinary(rt, 'relion_postprocess'),
    '--i',
    files.half1,
    '--mask',
    files.mask,
    '--angpix',
    num(pixelSize),
    '--auto_bfac',
    ...(p.autobLowres === undefined ? [] : ['--autob_lowres', num(p.autobLowres)]),
    '--o',
    files.outRoot,
  ];
}

/** MPI ranks for a rung with `gpus` GPUs: one leader plus one rank per GPU, never fewer than 3. */
export function mpiRanksFor(gpus: number): number {
  return Math.max(3, gpus + 1);
}

/** What `relion_refine_mpi --version` says: the RELION that ran, for the run record. */

/** Parses `RELION version: 5.0.1 \nPrecision: BASE=double` (RELION 3.1 and 5 print the same). */
export function parseRelionVersion(text: string, program: string): RelionVersion {
  const version = /RELION version:\s*(\S+)/.exec(text)?.[1] ?? 'unknown';
  const precision = /Precision:\s*(\S+)/.exec(text)?.[1];
  return { version, ...(precision === undefined ? {} : { precision }), program };
}
