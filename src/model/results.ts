/**
 * What a campaign's steps produce and the run record keeps: the RELION that ran, the imported
 * alignment, the known-answer check, postprocess's figures and the output checksums.
 * Types only; sandbox-safe.
 */

/** The RELION that ran (`relion_refine_mpi --version`). */
export interface RelionVersion {
  /** `5.0.1`, `3.1.3`, …; `unknown` when the output had no version line. */
  readonly version: string;
  /** `BASE=double` (CPU builds) or `BASE=float`, when printed. */
  readonly precision?: string;
  /** The program asked. */
  readonly program: string;
}

/** One tilt series' AreTomo2 alignment as imported for RELION 5. */
export interface ImportedAlignment {
  readonly name: string;
  /** AreTomo2's tilt axis (rlnTomoZRot), degrees. */
  readonly tiltAxis: number;
  readonly maxShiftAngst: number;
  readonly tilts: number;
}

/** A synthetic campaign's map against the particle it was made from (embedded/check_truth.py). */
export interface TruthCheck {
  /** The truth file, as the campaign file names it. */
  readonly truth: string;
  /** Correlation with the truth after an integer-shift search. */
  readonly ccTruth: number;
  /** Best correlation with the truth and with its mirror image (turns about the symmetry axis). */
  readonly handTruth: number;
  readonly handMirror: number;
  /** handTruth − handMirror: above 0 the map has the truth's hand. */
  readonly handMargin: number;
  /** Where the FSC against the truth falls below 0.5 (Å); null if it never reaches 0.5. */
  readonly resolutionAtFsc05: number | null;
}

/** What a run record keeps: the check's figures, or why it could not be made. */
export type TruthResult = TruthCheck | { readonly truth: string; readonly error: string };

/** relion_postprocess's figures. */
export interface PostprocessResult {
  /**
   * `_rlnFinalResolution` (Å); null when RELION found none (it writes `inf`: the masked half
   * maps agree at no shell, so the refine produced no structure).
   */
  readonly finalResolution: number | null;
  readonly bfactor: number;
  readonly fsc: readonly { readonly resolution: number; readonly fsc: number }[];
}

/** One output file, as the run record lists it. */
export interface FileChecksum {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}
