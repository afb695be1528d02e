/** A node left out of submissions (a black hole): the data the campaign and its jobs keep. Types only. */

/** One excluded node, and why. */
export interface ExcludedNode {
  readonly cluster: string;
  readonly node: string;
  /** ISO time the exclusion ends. */
  readonly until: string;
  /** Slurm's word for what happened, e.g. `NODE_FAIL` or `FAILED; node drained (bad gpu)`. */
  readonly reason: string;
  readonly jobId?: string;
  readonly step?: string;
}
