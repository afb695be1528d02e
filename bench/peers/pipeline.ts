/**
 * The one pipeline the three ways run: a campaign spec (tilt series, extraction, refine,
 * postprocess) plus a tool set, and the exact command line of every step, taken from our
 * own builders (src/tools/toolset.ts) so that Snakemake and the sbatch chain run what the
 * campaign runs, byte for byte. Two variants:
 *
 * - `sleep`: the SLEEP tool set (bench/peers/sleep-tools.ts) on a tiny dataset; the core of
 *   every scenario and of the scale runs;
 * - `embedded`: the embedded CPU tools (AreTomo2 stand-in, RELION 3.1) on the fast
 *   synthetic dataset that test/workflow/campaign.test.ts uses.
 */
import { readFileSync } from 'node:fs';
import type { CryoConfig } from '../../src/config.js';
import type { CampaignSpec, TiltSeriesSpec } from '../../src/model/campaign-spec.js';
import { parseCampaign } from '../../src/campaign/load.js';
import { EMBEDDED_CAMPAIGN } from '../../src/embedded.js';
import {
  extractStep,
  postprocessStep,
  reconstructCommand,
  refineCommands,
  type CampaignLayout,
  type StepFile,
  type Toolset,
} from '../../src/tools/toolset.js';
import { commandForRung } from '../../src/tools/rung-command.js';
import type { PlacementRung } from '../../src/slurm/placement.js';

/** A pipeline's inputs and tools, as temporal.yaml and the campaign file give them. */
export interface PipelineVariant {
  readonly name: 'sleep' | 'embedded';
  readonly spec: CampaignSpec;
  /** temporal.yaml `tools` for this variant (absolute paths). */
  readonly tools: {
    readonly aretomo2: string;
    readonly relionBinDir?: string;
    readonly mpirun: readonly string[];
    readonly stageDir: string;
  };
}

/** The embedded demo campaign file, parsed. */
export function embeddedBaseSpec(): CampaignSpec {
  const parsed = parseCampaign(readFileSync(EMBEDDED_CAMPAIGN, 'utf8'), 'embedded');
  if (!parsed.ok) throw new Error(`campaigns/embedded-10164.yaml: ${JSON.stringify(parsed.issues)}`);
  return parsed.spec;
}

/** The sleep campaign: `count` tilt series TS_001…, all on the one tiny stack. */
export function sleepSpec(
  count: number,
  data: { dir: string; stack: string; angles: string; picks: string; reference: string },
): CampaignSpec {
  // SLEEP jobs make no map: nothing to hold against the demo's truth particle.
  const { truth: _truth, ...base } = embeddedBaseSpec();
  const width = Math.max(2, String(count).length);
  const series: TiltSeriesSpec[] = Array.from({ length: count }, (_, i) => ({
    ...base.tiltSeries[0]!,
    name: `TS_${String(i + 1).padStart(width, '0')}`,
    stack: data.stack,
    angles: data.angles,
    picks: data.picks,
  }));
  return {
    ...base,
    name: 'bench-sleep',
    dataset: 'SLEEP jobs (cryoet-temporal bench)',
    dataDir: data.dir,
    reference: data.reference,
    tiltSeries: series,
    limits: { maxParallelTiltSeries: count, minTiltSeries: count },
  };
}

/** The fast embedded campaign of test/workflow/campaign.test.ts (five series, 128×128×48). */
export function embeddedFastSpec(dataDir: string): CampaignSpec {
  const base = embeddedBaseSpec();
  return {
    ...base,
    dataDir,
    reconstruction: { ...base.reconstruction, volZ: 48 },
    refine: { ...base.refine, autoLocalHealpixOrder: 2 },
    limits: { maxParallelTiltSeries: 5, minTiltSeries: 5 },
  };
}

/** Every step's command line for a campaign folder, as our campaign builds them. */
export interface StepCommands {
  readonly reconstruct: ReadonlyMap<string, readonly string[]>;
  readonly extract: readonly string[];
  /** Written before extraction (the tomogram list RELION 3.1 reads). */
  readonly extractFiles: readonly StepFile[];
  readonly refine: readonly string[];
  readonly postprocess: readonly string[];
}

/**
 * The commands of `variant` in campaign folder `dir`, with the staged AreTomo2 at
 * `<stageDir>/<basename>` (where the campaign stages it) and `{{mpi_ranks}}` filled in for
 * `refineRung`.
 */
export function stepCommands(
  variant: PipelineVariant,
  config: CryoConfig,
  dir: string,
  refineRung: PlacementRung,
): StepCommands {
  const spec = variant.spec;
  const layout: CampaignLayout = {
    dir,
    dataDir: spec.dataDir.startsWith('/') ? spec.dataDir : `${config.paths.data}/${spec.dataDir}`,
  };
  const staged = `${variant.tools.stageDir}/${variant.tools.aretomo2.split('/').at(-1)}`;
  const tools: Toolset = {
    profile: 'embedded',
    aretomo2: staged,
    relion: {
      ...(variant.tools.relionBinDir === undefined ? {} : { binDir: variant.tools.relionBinDir }),
      mpirun: variant.tools.mpirun,
      gpu: false,
      threads: config.tools.threads,
    },
  };
  const extract = extractStep(tools, layout, spec, spec.tiltSeries);
  const refine = refineCommands(tools, layout, spec, extract.particles);
  return {
    reconstruct: new Map(spec.tiltSeries.map((ts) => [ts.name, reconstructCommand(tools, layout, spec, ts)])),
    extract: extract.command,
    extractFiles: extract.files,
    refine: commandForRung(refine.command, refineRung),
    postprocess: postprocessStep(tools, layout, spec),
  };
}
