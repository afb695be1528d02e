/**
 * Where a RELION auto-refine stands, from the names of the files in its output folder.
 *
 * RELION 3.1: each iteration N writes `<root>_itNNN_{optimiser,data,sampling}.star`,
 * `<root>_itNNN_half{1,2}_model.star` and `<root>_itNNN_half{1,2}_class001.mrc`. The ranks
 * write them concurrently and optimiser.star comes first, so an iteration is complete only
 * when optimiser, data, both models and both half maps are all there; a refine killed
 * mid-iteration leaves a partial one. The finished refine has `<root>_model.star` and
 * `<root>_half1_class001_unfil.mrc`.
 *
 * RELION 5.0.1 (the listing of a real refine, test/fixtures/relion5-refine-listing.txt, checked
 * in test/unit/refine-iterations.test.ts):
 * every iteration also writes `<root>_itNNN_optimisation_set.star` (new in 5: the particles
 * and tomograms the next iteration reads) and `_half{1,2}_class001_angdist.bild`, and from
 * iteration 1 on `_half{1,2}_class001_unfil.mrc`: ten files for iteration 0, twelve after.
 * The unfiltered half maps come first and sampling.star last (the same millisecond stamps
 * tell nothing more). The last pass, where the halves are combined, writes only
 * `_itNNN_half{1,2}_class001_unfil.mrc` under its own number (so it shows as partial), then
 * `<root>_half{1,2}_class001_unfil.mrc`, `<root>_{data,optimisation_set,optimiser,model}.star`,
 * `<root>_class001.mrc` and, last, `<root>_sampling.star`.
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

/** Which RELION wrote the folder: its file set differs (above). */
export type RelionGeneration = '3.1' | '5';

const PARTS_31 = [
  'optimiser.star',
  'data.star',
  'half1_model.star',
  'half2_model.star',
  'half1_class001.mrc',
  'half2_class001.mrc',
];
const PARTS_5 = [
  ...PARTS_31,
  'sampling.star',
  'optimisation_set.star',
  'half1_class001_angdist.bild',
  'half2_class001_angdist.bild',
];
const PARTS_5_AFTER_0 = [...PARTS_5, 'half1_class001_unfil.mrc', 'half2_class001_unfil.mrc'];

/** The files that make iteration `iteration` complete. */
export function iterationParts(relion: RelionGeneration, iteration: number): readonly string[] {
  if (relion === '3.1') return PARTS_31;
  return iteration === 0 ? PARTS_5 : PARTS_5_AFTER_0;
}

/** The files of a finished auto-refine. */
export function finishedParts(relion: RelionGeneration, root: string): readonly string[] {
  const both = [`${root}_model.star`, `${root}_half1_class001_unfil.mrc`];
  return relion === '3.1' ? both : [...both, `${root}_class001.mrc`, `${root}_optimiser.star`, `${root}_sampling.star`];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Progress of the refine whose output root's basename is `root` (e.g. `run`), from file names. */
export function refineProgress(
  fileNames: readonly string[],
  root: string,
  relion: RelionGeneration = '3.1',
): RefineProgress {
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
  const complete = started.filter((it) => iterationParts(relion, it).every((part) => parts.get(it)!.has(part)));
  const newestComplete = complete.at(-1);
  const names = new Set(fileNames);
  return {
    started,
    ...(newestComplete === undefined ? {} : { newestComplete }),
    partial: started.filter((it) => newestComplete === undefined || it > newestComplete),
    finished: finishedParts(relion, root).every((name) => names.has(name)),
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
