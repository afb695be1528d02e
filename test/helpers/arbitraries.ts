/**
 * What the property-based tests share (fast-check): the seed and run count, the error-type
 * checks (parses or the documented error), and the arbitraries: hostile characters, names,
 * scheduler output lines, file texts and edits of valid YAML trees.
 */
import fc, { type Arbitrary, type IProperty } from 'fast-check';
import { CryoError, type ErrorTypeName } from '../../src/errors.js';
import { jobNameFor } from '../../src/slurm/job-key.js';
import { SLURM_STATES } from '../../src/slurm/state-table.js';

/** One seed for the whole file; each property states its own run count (≤ 200). */
const SEED = 20_260_711;

export function check<T>(property: IProperty<T>, numRuns: number, examples: T[] = []): void {
  fc.assert(property, { seed: SEED, numRuns, examples });
}

/**
 * Runs `fn`; a throw must be a CryoError of `type` (anything else, e.g. a TypeError, fails
 * the property). Returns the value, or undefined when it threw the documented error.
 */
export function parsesOr<T>(type: ErrorTypeName, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CryoError && err.type === type) return undefined;
    const got =
      err instanceof Error ? `${err.constructor.name}(${(err as CryoError).type ?? ''}): ${err.message}` : String(err);
    throw new Error(`expected a value or CryoError(${type}), got ${got}`);
  }
}

/** Throws unless `fn` throws CryoError(type); returns the error. */
export function throwsType(type: ErrorTypeName, fn: () => unknown): CryoError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CryoError && err.type === type) return err;
    throw new Error(`expected CryoError(${type}), got ${String(err)}`);
  }
  throw new Error(`expected CryoError(${type}), got a value`);
}

/** Characters that break shells, Slurm's `|` output and line-based formats. */
const NASTY = [...'|\n\r\t \'"\\$`(){}[]<>;&!*?~#%=,:@+-_./^'];
const nastyChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 3, arbitrary: fc.constantFrom(...'aZ09xNn') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);
/** Text heavy in shell and format metacharacters, plus any printable grapheme. */
export const nasty = (maxLength = 20): Arbitrary<string> => fc.string({ unit: nastyChar, maxLength });
/** Any code points (ASCII control characters included), or nasty text. */
export const anyText = (maxLength = 200): Arbitrary<string> =>
  fc.oneof(fc.string({ unit: 'binary', maxLength }), nasty(maxLength));

/** One edit that real output suffers: cut short, a line lost, doubled or replaced, junk inserted. */
type Damage = 'none' | 'cut' | 'dropLine' | 'dupLine' | 'junkLine' | 'junkChar';

/**
 * Well-formed text, often damaged: `[text, clean]`, `clean` when no damage was done (then
 * the parser must read all of it). Mixed with arbitrary text now and then.
 */
export function damaged(valid: Arbitrary<string>): Arbitrary<[string, boolean]> {
  const edit = fc.tuple(
    valid,
    fc.constantFrom<Damage>('none', 'none', 'none', 'cut', 'dropLine', 'dupLine', 'junkLine', 'junkChar'),
    fc.nat(),
    nasty(8),
  );
  const hurt = edit.map(([text, damage, n, junk]): [string, boolean] => {
    const lines = text.split('\n');
    const i = n % lines.length;
    switch (damage) {
      case 'none':
        return [text, true];
      case 'cut':
        return [text.slice(0, n % (text.length + 1)), false];
      case 'dropLine':
        lines.splice(i, 1);
        break;
      case 'dupLine':
        lines.splice(i, 0, lines[i]!);
        break;
      case 'junkLine':
        lines.splice(i, 1, junk);
        break;
      case 'junkChar':
        return [text.slice(0, n % (text.length + 1)) + junk + text.slice(n % (text.length + 1)), false];
    }
    return [lines.join('\n'), false];
  });
  return fc.oneof(
    { weight: 5, arbitrary: hurt },
    { weight: 1, arbitrary: anyText().map((t): [string, boolean] => [t, false]) },
  );
}

/** Lines joined by LF or CRLF, with a final line break or not. */
export function lines(line: Arbitrary<string>, maxLength = 5): Arbitrary<string> {
  return fc
    .tuple(fc.array(line, { maxLength }), fc.constantFrom('\n', '\r\n'), fc.boolean())
    .map(([l, eol, last]) => l.join(eol) + (last && l.length > 0 ? eol : ''));
}

export const jobId = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[1-9][0-9]{0,6}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[1-9][0-9]{0,3}(_[0-9]{1,2}|_\[[0-9]-[0-9]%2\]|\+[0-9])$/) },
);
export const state = fc.constantFrom(
  ...Object.keys(SLURM_STATES),
  'CANCELLED by 1000',
  'COMPLETED+',
  'running',
  'WEIRD',
);
export const reason = fc.constantFrom(
  'None',
  '(None)',
  'Priority',
  'Resources',
  'ReqNodeNotAvail, UnavailableNodes:c1',
  'weird|reason|with pipes',
  'NonZeroExitCode',
);
export const nodes = fc.constantFrom('', 'n1', 'n[1-2]', 'gpu-a[01-02],gpu-b1', '(null)', 'None assigned');
export const time = fc.constantFrom('N/A', 'Unknown', '2026-11-25T10:08:18');
export const safeName = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/);
const ourName = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/), { minLength: 2, maxLength: 4 })
  .map((k) => jobNameFor(k.join('/')));

export const squeueOut = lines(fc.tuple(jobId, safeName, state, reason, nodes, time, time).map((f) => f.join('|')));
export const sacctOut = lines(
  fc.tuple(fc.stringMatching(/^[1-9][0-9]{0,6}$/), safeName, state, reason, nodes).map((f) => f.join('|')),
);
export const orphanOut = lines(
  fc
    .tuple(
      jobId,
      state,
      time,
      nodes,
      fc.oneof(ourName, fc.constantFrom('bash', 'cryoet.single', 'my job|with|pipes', 'cryoet.a.b.c')),
    )
    .map((f) => f.join('|')),
);
export const sinfoOut = lines(
  fc
    .tuple(
      safeName,
      fc.constantFrom('idle', 'mixed', 'down*', 'drained', 'draining', 'idle~', 'unknown'),
      fc.constantFrom('none', 'bad gpu', 'a|b', ''),
    )
    .map((f) => f.join('|')),
);

/** `base` with 1..3 values replaced (or keys added) at paths that exist in it. */
export function treeEdits(base: Record<string, unknown>): Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]): void => {
    paths.push(path);
    if (Array.isArray(node)) node.forEach((v, i) => walk(v, [...path, i]));
    else if (node !== null && typeof node === 'object')
      for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
  };
  walk(base, []);
  const value = fc.oneof(
    nasty(12),
    fc.string({ unit: 'binary', maxLength: 8 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(nasty(6), { maxLength: 3 }),
    fc.dictionary(nasty(5), nasty(5), { maxKeys: 2 }),
  );
  const edit = fc.tuple(fc.constantFrom(...paths), fc.boolean(), nasty(6), value);
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => {
    const tree = structuredClone(base) as unknown;
    let root = tree;
    for (const [path, addKey, key, v] of edits) {
      if (path.length === 0) {
        root = v;
        continue;
      }
      let parent = root as Record<string | number, unknown> | null;
      for (const segment of path.slice(0, -1))
        parent =
          parent !== null && typeof parent === 'object' ? (parent[segment] as Record<string | number, unknown>) : null;
      if (parent === null || typeof parent !== 'object') continue;
      if (addKey && !Array.isArray(parent))
        Object.defineProperty(parent, key, { value: v, enumerable: true, writable: true, configurable: true });
      else parent[path.at(-1)!] = v;
    }
    return root;
  });
}
