/**
 * Where a RELION auto-refine stands, from the names of the files in its output folder.
 *
 * Each iteration N writes `<root>_itNNN_{optimiser,data,sampling}.star`,
 * `<root>_itNNN_half{1,2}_model.star` and `<root>_itNNN_half{1,2}_class001.mrc`. The ranks
 * write them concurrently and optimiser.star comes first, so an iteration is complete only
 * when optimiser, data, both models and both half maps are all there; a refine killed
 * mid-iteration leaves a partial one. The finished refine has `<root>_model.star` and
 * `<root>_half1_class001_unfil.mrc`.
 */

export interface RefineProgress {
  /** Iterations with at least one file, ascending. */
  readonly started: readonly number[];
  /** The highest iteration with all six files; `--continue` can start from it. */
  readonly newestComplete?: number;
  /** Started iterations above the newest complete one (redone by a resume). */
  readonly partial: readonly number[];
  /** The auto-refine wrote its final model and unfiltered half map. */
  readonly finished: boolean;
}

const PARTS = ['optimiser.star', 'data.star', 'half1_model.star', 'half2_model.star', 'half1_class001.mrc', 'half2_class001.mrc'];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Progress of the refine whose output root's basename is `root` (e.g. `run`), from file names. */
export function refineProgress(fileNames: readonly string[], root: string): RefineProgress {
  const pattern = new RegExp(`^${escapeRegExp(root)}_it(\\d{3,})_(.+)$`);
  const parts = new Map<number, Set<string>>();
  for (const name of fileNames) {
    const match = pattern.exec(name);
    if (!match) continue;
    const iteration = Number(match[1]);
    if (!parts.has(iteration)) parts.set(iteration, new Set());
    parts.get(iteration)!.add(match[2]!);
  }
  const started = [...parts.keys()].sort((a, b) => a - b);
  const complete = started.filter((it) => PARTS.every((part) => parts.get(it)!.has(part)));
  const newestComplete = complete.at(-1);
  const names = new Set(fileNames);
  return {
    started,
    ...(newestComplete === undefined ? {} : { newestComplete }),
    partial: started.filter((it) => newestComplete === undefined || it > newestComplete),
    finished: names.has(`${root}_model.star`) && names.has(`${root}_half1_class001_unfil.mrc`),
  };
}

/** `Refine3D/run` + 6 → `Refine3D/run_it006_optimiser.star`. */
export function optimiserPath(outRoot: string, iteration: number): string {
  return `${outRoot}_it${String(iteration).padStart(3, '0')}_optimiser.star`;
}

/** `Refine3D/run` + 6 → `Refine3D/run_it006_half1_model.star` (holds _rlnCurrentResolution). */
export function half1ModelPath(outRoot: string, iteration: number): string {
  return `${outRoot}_it${String(iteration).padStart(3, '0')}_half1_model.star`;
}
