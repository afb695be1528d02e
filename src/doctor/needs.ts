/**
 * What a configuration (and a campaign, when given) needs of each cluster: the programs its
 * steps run, the folders it writes and reads, and every placement rung it may submit to.
 * Pure: the doctor's I/O checks these.
 */
import { STAGES, type CryoConfig, type PlacementRung } from '../config/schema.js';
import { placementFor, relionRuntime } from '../campaign/input.js';
import type { CampaignSpec } from '../model/campaign-spec.js';
import { relionBinary } from '../tools/relion.js';
import { runsRelion5 } from '../tools/toolset.js';

/** A rung as submitted, with the steps and positions that use it. */
export interface RungUse {
  readonly rung: PlacementRung;
  /** `refine#1`, `probe#1`: step and rung number. */
  readonly usedBy: readonly string[];
  /** The shortest hangAfter among the steps using it. */
  readonly hangAfterMs: number;
}

/** Every distinct (cluster, partition, gres) of every step's ladder, in ladder order. */
export function rungUses(config: CryoConfig): RungUse[] {
  const uses = new Map<string, RungUse & { usedBy: string[]; hangAfterMs: number }>();
  for (const stage of STAGES) {
    const placement = placementFor(config, stage);
    placement.ladder.forEach((rung, i) => {
      const key = `${rung.cluster}|${rung.partition}|${rung.gres}`;
      const use = uses.get(key) ?? { rung, usedBy: [] as string[], hangAfterMs: placement.hangAfterMs };
      use.usedBy.push(`${stage}#${i + 1}`);
      use.hangAfterMs = Math.min(use.hangAfterMs, placement.hangAfterMs);
      uses.set(key, use);
    });
  }
  return [...uses.values()];
}

/** The rung a compute-node probe runs on: the probe step's first on this cluster, else any. */
export function probeRung(config: CryoConfig, cluster: string): PlacementRung | undefined {
  const first = placementFor(config, 'probe').ladder.find((r) => r.cluster === cluster);
  return first ?? rungUses(config).find((u) => u.rung.cluster === cluster)?.rung;
}

/** The RELION programs a profile's steps run (with the campaign: only those it needs). */
export function relionPrograms(profile: CryoConfig['tools']['profile'], spec?: CampaignSpec): string[] {
  const featureless = spec === undefined || spec.refine.startFrom === 'featureless';
  const denovo = spec === undefined || (spec.masks.fsc === undefined && spec.postprocess.denovoMask !== undefined);
  if (!runsRelion5(profile)) {
    return ['relion_preprocess', 'relion_refine_mpi', 'relion_postprocess', ...(denovo ? ['relion_mask_create'] : [])];
  }
  return [
    'relion_tomo_subtomo',
    ...(featureless ? ['relion_tomo_reconstruct_particle', 'relion_image_handler'] : []),
    'relion_refine_mpi',
    'relion_postprocess',
    ...(denovo ? ['relion_mask_create'] : []),
  ];
}

/** Every program the cluster's nodes must find: RELION's (in relionBinDir when set) and the MPI launcher. */
export function programsNeeded(config: CryoConfig, spec?: CampaignSpec): string[] {
  const runtime = relionRuntime(config.tools);
  const relion = relionPrograms(config.tools.profile, spec).map((p) => relionBinary(runtime, p));
  // The CPU profiles' AreTomo2 stand-in runs as `#!/usr/bin/python3` (embedded/aretomo2_standin.py).
  const standIn = config.tools.profile === 'production' ? [] : ['/usr/bin/python3'];
  return [...new Set([runtime.mpirun[0]!, ...relion, ...standIn])];
}

/** The program whose `--version` names the RELION a campaign runs. */
export function versionProgram(config: CryoConfig): string {
  return relionBinary(relionRuntime(config.tools), 'relion_refine_mpi');
}

/** Folders on a cluster: written by jobs (must be writable from a compute node) and read. */
export function foldersNeeded(config: CryoConfig, cluster: string): { writable: string[]; readable: string[] } {
  const c = config.clusters[cluster]!;
  const first = Object.keys(config.clusters)[0] === cluster;
  if (!first) return { writable: [c.workDir], readable: [] };
  const stageDir = config.tools.stageDir ?? `${config.paths.work}/bin`;
  return { writable: [...new Set([c.workDir, config.paths.work, stageDir])], readable: [config.paths.data] };
}

/** The RELION major version a profile expects. */
export function expectedRelionMajor(profile: CryoConfig['tools']['profile']): string {
  return runsRelion5(profile) ? '5' : '3';
}
