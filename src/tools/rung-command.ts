/**
 * Filling a command in for the rung it runs on: `{{gpus}}` becomes the rung's GPU count and
 * `{{mpi_ranks}}` one rank per GPU plus the leader (at least 3), so a refine relaxed from
 * `gpu:4` to `gpu:1` launches `mpirun -n 3`, not 5. Pure and sandbox-safe.
 */
import { gpuCountOf, type PlacementRung } from '../slurm/placement.js';
import { CONTINUE_FROM, MPI_RANKS, mpiRanksFor } from './relion.js';

export const GPUS = '{{gpus}}';

/** argv with the rung's placeholders replaced (inside any argument, e.g. a `bash -c` script). */
export function commandForRung(argv: readonly string[], rung: PlacementRung): string[] {
  const gpus = gpuCountOf(rung.gres);
  return argv.map((arg) => arg.replaceAll(MPI_RANKS, String(mpiRanksFor(gpus))).replaceAll(GPUS, String(gpus)));
}

/** A resume line continuing from `optimiser` (see {@link CONTINUE_FROM}). */
export function continueFrom(argv: readonly string[], optimiser: string): string[] {
  return argv.map((arg) => arg.replaceAll(CONTINUE_FROM, optimiser));
}
