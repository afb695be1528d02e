/**
 * Tilt angle files (IMOD .rawtlt / .tlt): one angle in degrees per line, and the check
 * that a tilt stack has one image per angle. Pure; errors are `InputInvalid`.
 */
import { CryoError, ErrorType } from '../errors.js';
import type { MrcHeader } from './mrc.js';

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Angles in file order: the first whitespace-separated token of each non-blank line
 * (LF or CRLF). Throws naming `source:line` on a non-number or an angle outside
 * [-90, 90], and when the file holds no angles.
 */
export function parseRawtlt(text: string, source: string): number[] {
  const angles: number[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const token = line.trim().split(/\s+/)[0] ?? '';
    if (token === '') return;
    const where = `${source}:${index + 1}`;
    const angle = NUMBER.test(token) ? Number(token) : NaN;
    if (!Number.isFinite(angle)) {
      throw new CryoError(ErrorType.InputInvalid, `${where}: tilt angle ${JSON.stringify(token)} is not a number`, {
        source,
      });
    }
    if (angle < -90 || angle > 90) {
      throw new CryoError(ErrorType.InputInvalid, `${where}: tilt angle ${angle} is outside [-90, 90] degrees`, {
        source,
      });
    }
    angles.push(angle);
  });
  if (angles.length === 0) throw new CryoError(ErrorType.InputInvalid, `${source}: no tilt angles`, { source });
  return angles;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Throws unless the stack has exactly one image (z section) per tilt angle. */
export function checkTiltSeries(args: {
  stackSource: string;
  header: Pick<MrcHeader, 'nz'>;
  anglesSource: string;
  angles: readonly number[];
}): void {
  const { stackSource, header, anglesSource, angles } = args;
  if (header.nz !== angles.length) {
    throw new CryoError(
      ErrorType.InputInvalid,
      `${basename(stackSource)} has ${header.nz} tilt images but ${basename(anglesSource)} has ${angles.length} angles`,
      { stackSource, anglesSource, tiltImages: header.nz, angles: angles.length },
    );
  }
}
