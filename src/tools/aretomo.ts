/**
 * AreTomo2 command lines, built from typed parameters. The embedded profile's CPU stand-in
 * (embedded/aretomo2_standin.py) takes the same flags, so both profiles build the line here.
 * GPU ids: `-Gpu 0` is the first GPU Slurm granted (Slurm sets CUDA_VISIBLE_DEVICES).
 */
import type { ReconstructionParams } from '../model/campaign-spec.js';

export interface AreTomoFiles {
  /** MRC tilt stack, `.rawtlt` angles and the output tomogram; paths as the job sees them. */
  readonly inMrc: string;
  readonly angFile: string;
  readonly outMrc: string;
}

const flag = (on: boolean): string => (on ? '1' : '0');

/**
 * `AreTomo2 -InMrc TS_01.mrc -OutMrc TS_01_aretomo.mrc -AngFile TS_01.rawtlt -VolZ 2000
 * -OutBin 6 -Patch 0 0 -Gpu 0 -Wbp 1 -PixSize 1.35 -FlipVol 1 -OutImod 1 [-TiltAxis 85 [-1]]`, as
 * argv (`-1`: keep the given axis, do not refine it).
 */
export function aretomoCommand(
  binary: string,
  files: AreTomoFiles,
  params: ReconstructionParams,
  pixelSize: number,
): string[] {
  return [
    binary,
    '-InMrc',
    files.inMrc,
    '-OutMrc',
    files.outMrc,
    '-AngFile',
    files.angFile,
    '-VolZ',
    String(params.volZ),
    '-OutBin',
    String(params.outBin),
    '-Patch',
    String(params.patch[0]),
    String(params.patch[1]),
    '-Gpu',
    '0',
    '-Wbp',
    flag(params.wbp),
    '-PixSize',
    String(pixelSize),
    '-FlipVol',
    flag(params.flipVol),
    '-OutImod',
    flag(params.outImod),
    ...(params.tiltAxis === undefined
      ? []
      : ['-TiltAxis', String(params.tiltAxis), ...(params.refineTiltAxis ? [] : ['-1'])]),
  ];
}
