/**
 * One campaign, three tool sets, one code path: the commands of every cluster step for the
 * `production` profile (AreTomo2 + RELION 5 on GPUs), the `relion5` profile (the same
 * RELION 5 lines with the runtime swapped: `--j N` ranks on CPU instead of `--gpu`) and the
 * `embedded` profile (RELION 3.1 on CPU, which has no relion_tomo_* tools, so it extracts 3D
 * subtomograms with relion_preprocess), chosen by temporal.yaml `tools.profile`. The two
 * CPU profiles run the CPU AreTomo2 STAND-IN. Same steps, same folder layout. Pure.
 */
import type { CampaignSpec, TiltSeriesSpec } from '../model/campaign-spec.js';
import { aretomoCommand } from './aretomo.js';
import type { ImportAlignmentsInput } from './aretomo-alignment.js';
import { commandsIn } from './job-script.js';
import {
  CONTINUE_FROM,
  lowpassCommand,
  maskCreateCommand,
  MPI_RANKS,
  postprocessCommand,
  preprocessExtractCommand,
  refineCommand,
  refineContinueCommand,
  reconstructParticleCommand,
  subtomoCommand,
  type RelionRuntime,
} from './relion.js';
import type { RelionGeneration } from './refine-iterations.js';
import { formatStarLoop } from './star.js';

export type ToolProfileName = 'production' | 'relion5' | 'embedded';

/** Profiles whose extract, refine and postprocess are RELION 5's (relion_tomo_subtomo, --ios). */
export function runsRelion5(profile: ToolProfileName): boolean {
  return profile !== 'embedded';
}

/** The RELION whose refine folder a profile writes (its iteration files differ). */
export function relionGeneration(profile: ToolProfileName): RelionGeneration {
  return runsRelion5(profile) ? '5' : '3.1';
}

/** The tools as one campaign uses them (resolved from temporal.yaml by the client). */
export interface Toolset {
  readonly profile: ToolProfileName;
  /** The staged AreTomo2 (or stand-in) on the cluster's shared filesystem. */
  readonly aretomo2: string;
  readonly relion: RelionRuntime;
}

/** Where a campaign's files live on the cluster: everything under one folder. */
export interface CampaignLayout {
  readonly dir: string;
  /** The campaign's data folder (dataDir resolved). */
  readonly dataDir: string;
}

/** A path under dataDir, or as given when absolute. */
export function dataPath(layout: CampaignLayout, file: string): string {
  return file.startsWith('/') ? file : `${layout.dataDir}/${file}`;
}

export const REFINE_ROOT = 'Refine3D/run';
export const POSTPROCESS_ROOT = 'PostProcess/postprocess';

/** Where the staged AreTomo2 lands on the cluster: `<stageDir>/<the local file's name>`. */
export function stagedPath(stageDir: string, localPath: string): string {
  return `${stageDir.replace(/\/+$/, '')}/${localPath.slice(localPath.lastIndexOf('/') + 1)}`;
}

/** The tomogram of one tilt series, relative to the campaign folder. */
export function tomogramFile(name: string): string {
  return `tomograms/${name}.mrc`;
}

/** Å per pixel of the tomogram AreTomo2 writes. */
export function tomogramPixelSize(spec: CampaignSpec, ts: TiltSeriesSpec): number {
  return ts.pixelSize * spec.reconstruction.outBin;
}

/**
 * Å per pixel of the extracted particles, which refine and postprocess work at. RELION 5
 * extracts from the tilt images at `bin`; the embedded RELION 3.1 extracts `box` voxels
 * from the tomogram and rescales them to `crop`.
 */
export function particlePixelSize(tools: Toolset, spec: CampaignSpec): number {
  const ts = spec.tiltSeries[0]!;
  if (runsRelion5(tools.profile)) return ts.pixelSize * spec.extraction.bin;
  return (tomogramPixelSize(spec, ts) * spec.extraction.box) / spec.extraction.crop;
}

/** Step: align + reconstruct one tilt series (AreTomo2 or its stand-in; one GPU). */
export function reconstructCommand(
  tools: Toolset,
  layout: CampaignLayout,
  spec: CampaignSpec,
  ts: TiltSeriesSpec,
): string[] {
  const line = aretomoCommand(
    tools.aretomo2,
    { inMrc: dataPath(layout, ts.stack), angFile: dataPath(layout, ts.angles), outMrc: tomogramFile(ts.name) },
    spec.reconstruction,
    ts.pixelSize,
  );
  return commandsIn(layout.dir, [['mkdir', '-p', 'tomograms'], line]);
}

/**
 * AreTomo2's alignment of one tilt series: `<OutMrc folder>/<InMrc name>.aln`, the .mrc in the
 * name replaced (MrcUtil/CSaveAlnFile.cpp), relative to the campaign folder.
 */
export function alnFile(ts: TiltSeriesSpec): string {
  const name = ts.stack.slice(ts.stack.lastIndexOf('/') + 1);
  const at = name.indexOf('.mrc');
  return `tomograms/${at < 0 ? `${name}.aln` : `${name.slice(0, at)}.aln`}`;
}

/** What the campaign writes from its own alignment, relative to the campaign folder. */
export const ALIGNED = {
  tomograms: 'Alignment/tomograms.star',
  particles: 'Alignment/particles.star',
  tiltSeries: (name: string) => `Alignment/tilt_series/${name}.star`,
} as const;

/** Whether this campaign's extraction reads the campaign's own AreTomo2 alignment. */
export function importsAlignment(tools: Pick<Toolset, 'profile'>, spec: CampaignSpec): boolean {
  return runsRelion5(tools.profile) && spec.alignment === 'aretomo2';
}

/** What the alignment import reads and writes for these tilt series (absolute paths). */
export function alignmentImport(
  layout: CampaignLayout,
  spec: CampaignSpec,
  series: readonly TiltSeriesSpec[],
  stacks: readonly { readonly name: string; readonly nx: number; readonly ny: number }[],
  cluster: string,
): ImportAlignmentsInput {
  if (!spec.relion5) throw new Error('importing the alignment needs relion5.tomograms (the tables before alignment)');
  const bin = spec.reconstruction.outBin;
  const at = (file: string) => `${layout.dir}/${file}`;
  return {
    cluster,
    tomograms: dataPath(layout, spec.relion5.tomograms),
    project: layout.dataDir,
    series: series.map((ts) => {
      const stack = stacks.find((s) => s.name === ts.name);
      if (!stack) throw new Error(`no stack facts for ${ts.name}`);
      const size = [stack.nx, stack.ny, spec.reconstruction.volZ] as const;
      return {
        name: ts.name,
        aln: at(alnFile(ts)),
        picks: dataPath(layout, ts.picks),
        star: at(ALIGNED.tiltSeries(ts.name)),
        pixelSize: ts.pixelSize,
        size,
        binned: [Math.floor(size[0] / bin), Math.floor(size[1] / bin), Math.floor(size[2] / bin)] as const,
        voxelSize: tomogramPixelSize(spec, ts),
      };
    }),
    out: { tomograms: at(ALIGNED.tomograms), particles: at(ALIGNED.particles) },
    ...(spec.refine.startFrom === 'featureless' ? { randomAngles: spec.refine.randomSeed ?? 1 } : {}),
  };
}

/** A file the campaign writes on the cluster before a step runs. */
export interface StepFile {
  readonly path: string;
  readonly text: string;
}

/** Step: subtomogram extraction from the reconstructed tilt series. */
export function extractStep(
  tools: Toolset,
  layout: CampaignLayout,
  spec: CampaignSpec,
  series: readonly TiltSeriesSpec[],
): { command: string[]; files: StepFile[]; particles: string; particlesTable: string } {
  if (runsRelion5(tools.profile)) {
    if (!spec.relion5) throw new Error(`the ${tools.profile} profile needs relion5.tomograms in the campaign file`);
    const own = importsAlignment(tools, spec);
    if (!own && spec.relion5.particles === undefined)
      throw new Error('alignment: published needs relion5.particles in the campaign file');
    const files = own
      ? {
          particles: `${layout.dir}/${ALIGNED.particles}`,
          tomograms: `${layout.dir}/${ALIGNED.tomograms}`,
          outDir: 'Extract',
        }
      : {
          particles: dataPath(layout, spec.relion5.particles!),
          tomograms: dataPath(layout, spec.relion5.tomograms),
          outDir: 'Extract',
        };
    const command = subtomoCommand(tools.relion, files, spec.extraction);
    return {
      command: commandsIn(layout.dir, [['mkdir', '-p', 'Extract'], command]),
      files: [],
      particles: 'Extract/optimisation_set.star',
      particlesTable: 'Extract/particles.star',
    };
  }
  const micrographs = `${layout.dir}/Extract/tomograms.star`;
  const optics = formatStarLoop(
    'optics',
    [
      'rlnOpticsGroupName',
      'rlnOpticsGroup',
      'rlnMicrographPixelSize',
      'rlnVoltage',
      'rlnSphericalAberration',
      'rlnAmplitudeContrast',
    ],
    [['opticsGroup1', 1, tomogramPixelSize(spec, series[0]!), 300, 2.7, 0.1]],
  );
  const list = formatStarLoop(
    'micrographs',
    ['rlnMicrographName', 'rlnOpticsGroup'],
    series.map((ts) => [tomogramFile(ts.name), 1]),
  );
  const copies = series.map((ts) => [
    'cp',
    '--',
    dataPath(layout, ts.picks),
    `Extract/coords/tomograms/${ts.name}_coords.star`,
  ]);
  const extract = preprocessExtractCommand(
    tools.relion,
    {
      micrographs: 'Extract/tomograms.star',
      coordDir: 'Extract/coords/',
      coordSuffix: '_coords.star',
      particles: 'Extract/particles.star',
      partDir: 'Extract/',
    },
    spec.extraction,
  );
  return {
    command: commandsIn(layout.dir, [['mkdir', '-p', 'Extract/coords/tomograms'], ...copies, extract]),
    files: [{ path: micrographs, text: optics + list }],
    particles: 'Extract/particles.star',
    particlesTable: 'Extract/particles.star',
  };
}

/** The featureless start (refine.startFrom: featureless), made in the refine job. */
export const FEATURELESS_REFERENCE = 'Refine3D/featureless_start.mrc';

/** The refine's starting map: the campaign's reference, or the featureless average (random orientations). */
function startingReference(spec: CampaignSpec): string {
  if (spec.refine.startFrom === 'featureless') return FEATURELESS_REFERENCE;
  if (spec.reference === undefined) throw new Error('the refine needs a reference, or refine.startFrom: featureless');
  return spec.reference;
}

/**
 * The featureless start, made in the refine job from the data alone: every particle at a random
 * orientation (the import gives them random rlnAngle*), averaged by RELION 5 straight from the
 * tilt series, low-passed to `iniHigh`. A sphere would not do: its every orientation fits a
 * particle equally, so the refine's first average is a sphere again (measured: 38.4 Å for 22
 * iterations); the random average is as uninformed but not symmetric, so the refine can start.
 */
export function featurelessCommands(tools: Toolset, spec: CampaignSpec): string[][] {
  const dir = 'Refine3D/featureless_start';
  return [
    reconstructParticleCommand(
      tools.relion,
      { optimisationSet: 'Extract/optimisation_set.star', outDir: dir },
      spec.extraction,
    ),
    lowpassCommand(tools.relion, { input: `${dir}/merged.mrc`, output: FEATURELESS_REFERENCE }, spec.refine.iniHigh),
  ];
}

/** Step: gold-standard auto-refine, and the line that resumes it from an iteration. */
export function refineStep(
  tools: Toolset,
  spec: CampaignSpec,
  particles: string,
): { command: string[]; resume: string[] } {
  // Production: one rank per granted GPU plus the leader (filled in per rung). On CPU: the
  // minimum, a leader and one rank per half-set.
  const ranks = tools.profile === 'production' ? MPI_RANKS : '3';
  const files = {
    input: { kind: runsRelion5(tools.profile) ? ('ios' as const) : ('i' as const), path: particles },
    reference: startingReference(spec),
    ...(spec.masks.solvent === undefined ? {} : { solventMask: spec.masks.solvent }),
    outRoot: REFINE_ROOT,
  };
  return {
    command: refineCommand(tools.relion, files, spec.refine, ranks),
    resume: refineContinueCommand(tools.relion, REFINE_ROOT, CONTINUE_FROM, ranks),
  };
}

/** Wraps refine lines to run in the campaign folder with absolute data paths. */
export function refineCommands(
  tools: Toolset,
  layout: CampaignLayout,
  spec: CampaignSpec,
  particles: string,
): { command: string[]; resume: string[] } {
  const withData: CampaignSpec = {
    ...spec,
    ...(spec.reference === undefined ? {} : { reference: dataPath(layout, spec.reference) }),
    masks: {
      ...(spec.masks.solvent === undefined ? {} : { solvent: dataPath(layout, spec.masks.solvent) }),
      ...(spec.masks.fsc === undefined ? {} : { fsc: dataPath(layout, spec.masks.fsc) }),
    },
  };
  const { command, resume } = refineStep(tools, withData, particles);
  const start = spec.refine.startFrom === 'featureless' ? featurelessCommands(tools, spec) : [];
  return {
    command: commandsIn(layout.dir, [['mkdir', '-p', 'Refine3D'], ...start, command]),
    resume: commandsIn(layout.dir, [resume]),
  };
}

/** Step: postprocess (with a de-novo mask when the campaign gives no FSC mask). */
export function postprocessStep(tools: Toolset, layout: CampaignLayout, spec: CampaignSpec): string[] {
  const pixelSize = particlePixelSize(tools, spec);
  const commands: string[][] = [['mkdir', '-p', 'PostProcess']];
  let mask: string;
  if (spec.masks.fsc !== undefined) {
    mask = dataPath(layout, spec.masks.fsc);
  } else if (spec.postprocess.denovoMask !== undefined) {
    mask = 'PostProcess/mask.mrc';
    commands.push(
      maskCreateCommand(tools.relion, {
        box: spec.extraction.crop,
        pixelSize,
        ...spec.postprocess.denovoMask,
        out: mask,
      }),
    );
  } else {
    throw new Error('postprocess needs masks.fsc or postprocess.denovoMask in the campaign file');
  }
  commands.push(
    postprocessCommand(
      tools.relion,
      { half1: `${REFINE_ROOT}_half1_class001_unfil.mrc`, mask, outRoot: POSTPROCESS_ROOT },
      spec.postprocess,
      pixelSize,
    ),
  );
  return commandsIn(layout.dir, commands);
}
