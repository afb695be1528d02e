/**
 * What a campaign workflow gets: the validated campaign file plus everything it needs from
 * temporal.yaml (resolved by the client when the campaign starts, so a running campaign
 * keeps the settings it started with). Names and paths only: no keys, no passwords.
 */
import type { CryoConfig, StageName } from '../config/schema.js';
import type { Placement } from '../slurm/placement.js';
import type { RelionRuntime } from '../tools/relion.js';
import type { CampaignLayout, ToolProfileName } from '../tools/toolset.js';
import type { CampaignSpec } from '../model/campaign-spec.js';
import { CryoError, ErrorType } from '../errors.js';
import { ARETOMO2_STANDIN } from '../embedded.js';

/** A campaign id: also the workflow id and the campaign folder's name. */
export const CAMPAIGN_ID = /^[A-Za-z0-9_-]{1,63}(\/[A-Za-z0-9_-]{1,63}){0,3}$/;

export interface CampaignTools {
  readonly profile: ToolProfileName;
  /** AreTomo2 (or the stand-in) on the worker's machine, staged to `stageDir` on the cluster. */
  readonly aretomo2Local: string;
  readonly stageDir: string;
  readonly probeArgs: readonly string[];
  readonly relion: RelionRuntime;
}

export interface CampaignInput {
  /** The campaign id (also the workflow id). */
  readonly id: string;
  readonly spec: CampaignSpec;
  /** The cluster holding the campaign's files (the first cluster in temporal.yaml). */
  readonly cluster: string;
  readonly layout: CampaignLayout;
  readonly tools: CampaignTools;
  readonly placements: Readonly<Record<StageName, Placement>>;
  readonly gpuPrices: Readonly<Record<string, number>>;
  /** How often the refine's iteration files are read for progress. */
  readonly progressEveryMs: number;
}

/** The campaign's data folder on the cluster: its dataDir, under paths.data unless absolute. */
export function campaignDataDir(config: CryoConfig, spec: CampaignSpec): string {
  return spec.dataDir.startsWith('/') ? spec.dataDir : `${config.paths.data}/${spec.dataDir}`;
}

/** The ladder-independent placement rules: TIMEOUT resubmission and black-hole nodes. */
export function placementRules(
  config: CryoConfig,
): Pick<Placement, 'timeoutResubmits' | 'timeoutScale' | 'excludeNodesForMs'> {
  const p = config.placement;
  return {
    timeoutResubmits: p.onTimeout.resubmit,
    timeoutScale: p.onTimeout.timeScale,
    excludeNodesForMs: p.excludeFailedNodes ? p.excludeFailedNodesFor : 0,
  };
}

/** A step's placement: its own ladder / hangAfter / onExhausted where set, else the top-level one. */
export function placementFor(config: CryoConfig, stage: StageName): Placement {
  const own = config.placement.stages[stage];
  return {
    ladder: own?.ladder ?? config.placement.ladder,
    hangAfterMs: own?.hangAfter ?? config.placement.hangAfter,
    onExhausted: own?.onExhausted ?? config.placement.onExhausted,
    ...placementRules(config),
  };
}

/** The workflow input for `spec` under `config`, as campaign `id`. */
export function campaignInput(config: CryoConfig, spec: CampaignSpec, id: string): CampaignInput {
  if (!CAMPAIGN_ID.test(id)) {
    throw new CryoError(
      ErrorType.NameInvalid,
      `campaign id ${JSON.stringify(id)}: expected '/'-separated parts of letters, digits, '_' or '-'`,
    );
  }
  if (config.tools.profile === 'production' && config.tools.aretomo2 === undefined) {
    throw new CryoError(
      ErrorType.ConfigInvalid,
      'temporal.yaml tools.aretomo2: missing: the production profile stages the AreTomo2 binary from this path',
    );
  }
  const defaultAretomo2 = ARETOMO2_STANDIN;
  const cluster = Object.keys(config.clusters)[0]!;
  const dataDir = campaignDataDir(config, spec);
  const t = config.tools;
  const stages = ['probe', 'reconstruct', 'extract', 'refine', 'postprocess'] as const;
  return {
    id,
    spec,
    cluster,
    layout: { dir: `${config.paths.work}/${id}`, dataDir },
    tools: {
      profile: t.profile,
      aretomo2Local: t.aretomo2 ?? defaultAretomo2,
      stageDir: t.stageDir ?? `${config.paths.work}/bin`,
      probeArgs: t.probeArgs,
      relion: relionRuntime(t),
    },
    placements: Object.fromEntries(stages.map((s) => [s, placementFor(config, s)])) as Record<StageName, Placement>,
    gpuPrices: config.gpuPrices,
    progressEveryMs: config.polling.maxInterval,
  };
}

/** The RELION folder of the configured profile: the one folder, or the profile's entry. */
export function relionBinDirFor(t: CryoConfig['tools']): string | undefined {
  return typeof t.relionBinDir === 'string' ? t.relionBinDir : t.relionBinDir?.[t.profile];
}

/** How RELION runs, from temporal.yaml `tools`: the MPI launcher (with the preload), GPUs or threads. */
export function relionRuntime(t: CryoConfig['tools']): RelionRuntime {
  const mpirun = t.mpiPreload === undefined ? t.mpirun : [...t.mpirun, '-x', `LD_PRELOAD=${t.mpiPreload}`];
  const binDir = relionBinDirFor(t);
  return { ...(binDir === undefined ? {} : { binDir }), mpirun, gpu: t.profile === 'production', threads: t.threads };
}
