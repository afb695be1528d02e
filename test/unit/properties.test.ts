/**
 * Property-based tests (fast-check) for the parsers and command builders (issue 7).
 *
 * Parsers: any input either parses (and what comes back holds the parser's promises) or
 * raises the documented error type, never a TypeError, RangeError or a hang. Builders: what
 * a generated name or argument turns into cannot escape its quoting, add a line or a
 * directive, and names and keys round-trip.
 *
 * Deterministic: every property runs with the seed below and at most 200 runs. A failure
 * prints the seed and the shrunk counterexample; rerun with `{ seed, path }` from the report.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc, { type Arbitrary, type IProperty } from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseCampaign } from '../../src/campaign/load.js';
import { parseConfig } from '../../src/config.js';
import { DURATION_EXPECTED, formatDuration, parseDuration } from '../../src/duration.js';
import { CryoError, ErrorType, type ErrorTypeName } from '../../src/errors.js';
import { SHELL_SAFE_WORD, shellJoin, shellQuote } from '../../src/shell/quote.js';
import { JOB_NAME_PREFIX, jobKey, jobNameFor, keyFromJobName } from '../../src/slurm/job-key.js';
import { MAX_NAME_LENGTH, SAFE_NAME } from '../../src/slurm/names.js';
import { expandHostList, parseNodeHealth } from '../../src/slurm/node-exclusions.js';
import { buildOrphanScancelArgs, ownerOf, parseOurJobs } from '../../src/slurm/orphans.js';
import { parseSbatchParsable } from '../../src/slurm/parse-sbatch.js';
import { parseSqueue } from '../../src/slurm/parse-squeue.js';
import { buildSacctArgs, parseSacct } from '../../src/slurm/sacct.js';
import { buildSbatchScript, parseResultMarker, type SbatchSpec } from '../../src/slurm/sbatch-script.js';
import { buildSqueueArgs, JOB_ID_PATTERN } from '../../src/slurm/squeue-format.js';
import { buildSubmitCommand, parseSubmitOutput } from '../../src/slurm/submit-command.js';
import { classifyJob, SLURM_STATES } from '../../src/slurm/state-table.js';
import { hostLookupName, parseKnownHosts, verifyHostKey } from '../../src/ssh/known-hosts.js';
import { MRC_HEADER_BYTES, parseMrcHeader } from '../../src/tools/mrc.js';
import { parseRawtlt } from '../../src/tools/rawtlt.js';
import {
  formatStarLoop,
  parseStar,
  starBlock,
  starColumn,
  starNumber,
  starNumberColumn,
  type StarFile,
} from '../../src/tools/star.js';

/** One seed for the whole file; each property states its own run count (≤ 200). */
const SEED = 20_260_711;

function check<T>(property: IProperty<T>, numRuns: number, examples: T[] = []): void {
  fc.assert(property, { seed: SEED, numRuns, examples });
}

/**
 * Runs `fn`; a throw must be a CryoError of `type` (anything else, e.g. a TypeError, fails
 * the property). Returns the value, or undefined when it threw the documented error.
 */
function parsesOr<T>(type: ErrorTypeName, fn: () => T): T | undefined {
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
function throwsType(type: ErrorTypeName, fn: () => unknown): CryoError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CryoError && err.type === type) return err;
    throw new Error(`expected CryoError(${type}), got ${String(err)}`);
  }
  throw new Error(`expected CryoError(${type}), got a value`);
}

// ---- arbitraries ------------------------------------------------------------------------

/** Characters that break shells, Slurm's `|` output and line-based formats. */
const NASTY = [...'|\n\r\t \'"\\$`(){}[]<>;&!*?~#%=,:@+-_./^'];
const nastyChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 3, arbitrary: fc.constantFrom(...'aZ09xNn') },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
);
/** Text heavy in shell and format metacharacters, plus any printable grapheme. */
const nasty = (maxLength = 20): Arbitrary<string> => fc.string({ unit: nastyChar, maxLength });
/** Any code points (ASCII control characters included), or nasty text. */
const anyText = (maxLength = 200): Arbitrary<string> =>
  fc.oneof(fc.string({ unit: 'binary', maxLength }), nasty(maxLength));

/** One edit that real output suffers: cut short, a line lost, doubled or replaced, junk inserted. */
type Damage = 'none' | 'cut' | 'dropLine' | 'dupLine' | 'junkLine' | 'junkChar';

/**
 * Well-formed text, often damaged: `[text, clean]`, `clean` when no damage was done (then
 * the parser must read all of it). Mixed with arbitrary text now and then.
 */
function damaged(valid: Arbitrary<string>): Arbitrary<[string, boolean]> {
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
function lines(line: Arbitrary<string>, maxLength = 5): Arbitrary<string> {
  return fc
    .tuple(fc.array(line, { maxLength }), fc.constantFrom('\n', '\r\n'), fc.boolean())
    .map(([l, eol, last]) => l.join(eol) + (last && l.length > 0 ? eol : ''));
}

const jobId = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[1-9][0-9]{0,6}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[1-9][0-9]{0,3}(_[0-9]{1,2}|_\[[0-9]-[0-9]%2\]|\+[0-9])$/) },
);
const state = fc.constantFrom(...Object.keys(SLURM_STATES), 'CANCELLED by 1000', 'COMPLETED+', 'running', 'WEIRD');
const reason = fc.constantFrom(
  'None',
  '(None)',
  'Priority',
  'Resources',
  'ReqNodeNotAvail, UnavailableNodes:c1',
  'weird|reason|with pipes',
  'NonZeroExitCode',
);
const nodes = fc.constantFrom('', 'n1', 'n[1-2]', 'gpu-a[01-02],gpu-b1', '(null)', 'None assigned');
const time = fc.constantFrom('N/A', 'Unknown', '2026-11-25T10:08:18');
const safeName = fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/);
const ourName = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/), { minLength: 2, maxLength: 4 })
  .map((k) => jobNameFor(k.join('/')));

const squeueOut = lines(fc.tuple(jobId, safeName, state, reason, nodes, time, time).map((f) => f.join('|')));
const sacctOut = lines(
  fc.tuple(fc.stringMatching(/^[1-9][0-9]{0,6}$/), safeName, state, reason, nodes).map((f) => f.join('|')),
);
const orphanOut = lines(
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
const sinfoOut = lines(
  fc
    .tuple(
      safeName,
      fc.constantFrom('idle', 'mixed', 'down*', 'drained', 'draining', 'idle~', 'unknown'),
      fc.constantFrom('none', 'bad gpu', 'a|b', ''),
    )
    .map((f) => f.join('|')),
);

// ---- parsers: parse or the documented error ---------------------------------------------

describe('parsers: any input parses or raises the documented error', () => {
  it('squeue (parseSqueue): rows with a job id and a state, or StatusQueryFailed; clean output is read whole', () => {
    check(
      fc.property(damaged(squeueOut), ([stdout, clean]) => {
        const rows = parsesOr(ErrorType.StatusQueryFailed, () => parseSqueue(stdout));
        if (clean) assert.equal(rows?.length, stdout.split('\n').filter((l) => l.trim() !== '').length);
        for (const row of rows ?? []) {
          assert.match(row.jobId, /^[0-9]+([_+][0-9[\]%,-]+)?$/);
          assert.notEqual(row.state, '');
          // An unknown state is never success.
          const c = classifyJob(row.state, row.reason);
          if (!c.known) assert.equal(c.move, 'pending');
        }
      }),
      200,
    );
  });

  it('sacct (parseSacct): rows with a job id and a state, or StatusQueryFailed; clean output is read whole', () => {
    check(
      fc.property(damaged(sacctOut), ([stdout, clean]) => {
        const rows = parsesOr(ErrorType.StatusQueryFailed, () => parseSacct(stdout));
        if (clean) assert.equal(rows?.length, stdout.split('\n').filter((l) => l.trim() !== '').length);
        for (const row of rows ?? []) {
          assert.match(row.jobId, /^[0-9]+([_+][0-9[\]%,-]+)?$/);
          assert.notEqual(row.state.trim(), '');
        }
      }),
      200,
    );
  });

  it('sbatch --parsable (parseSbatchParsable): a numeric id, or SubmitOutputUnreadable', () => {
    const sbatchOut = fc.oneof(
      fc
        .tuple(fc.array(nasty(12), { maxLength: 3 }), fc.stringMatching(/^[0-9]{1,8}(;[A-Za-z0-9._-]{1,8})?$/))
        .map(([chatter, last]) => [...chatter, last].join('\n')),
      anyText(60),
    );
    check(
      fc.property(sbatchOut, (stdout) => {
        const result = parsesOr(ErrorType.SubmitOutputUnreadable, () => parseSbatchParsable(stdout));
        if (result) assert.match(result.jobId, /^[0-9]+$/);
      }),
      200,
    );
  });

  it('submit command output (parseSubmitOutput): existing/submitted with an id, or SubmitOutputUnreadable', () => {
    const out = fc.oneof(
      fc
        .tuple(
          nasty(12),
          fc.constantFrom('existing:', 'submitted:', ''),
          fc.oneof(fc.stringMatching(/^[0-9]{1,6}(;c1)?$/), nasty(4)),
        )
        .map(([a, b, c]) => `${a}\n${b}${c}\n`),
      anyText(60),
    );
    check(
      fc.property(out, (stdout) => {
        const result = parsesOr(ErrorType.SubmitOutputUnreadable, () => parseSubmitOutput(stdout));
        if (result) assert.match(result.jobId, /^[0-9]+$/);
      }),
      200,
    );
  });

  it('sinfo node health (parseNodeHealth): rows with a node and a state, or StatusQueryFailed', () => {
    check(
      fc.property(damaged(sinfoOut), ([stdout, clean]) => {
        const rows = parsesOr(ErrorType.StatusQueryFailed, () => parseNodeHealth(stdout));
        if (clean)
          assert.equal(
            rows?.length,
            new Set(
              stdout
                .split('\n')
                .filter((l) => l.trim() !== '')
                .map((l) => l.split('|')[0]),
            ).size,
          );
        for (const row of rows ?? []) {
          assert.notEqual(row.node, '');
          assert.notEqual(row.state, '');
          assert.equal(typeof row.unhealthy, 'boolean');
        }
      }),
      200,
    );
  });

  it('orphan listing (parseOurJobs): our jobs with their owner, or StatusQueryFailed', () => {
    check(
      fc.property(damaged(orphanOut), ([stdout, clean]) => {
        const jobs = parsesOr(ErrorType.StatusQueryFailed, () => parseOurJobs(stdout));
        if (clean)
          assert.equal(
            jobs?.length,
            stdout.split('\n').filter((l) => ownerOf(l.split('|').slice(4).join('|').trim()) !== undefined).length,
          );
        for (const job of jobs ?? []) {
          assert.match(job.jobId, /^[0-9]+([_+][0-9[\]%,-]+)?$/);
          assert.deepEqual(ownerOf(job.name), { key: job.key, workflowId: job.workflowId });
          assert.equal(jobNameFor(job.key), job.name);
        }
      }),
      200,
    );
  });

  it('result marker (parseResultMarker): exit code 0..255, or ResultMarkerMissing', () => {
    const marker = fc
      .tuple(
        fc.integer({ min: 0, max: 255 }),
        fc.stringMatching(/^[0-9]{1,6}$/),
        safeName,
        fc.constantFrom('2026-11-25T10:08:18Z', ''),
        fc.boolean(),
      )
      .map(
        ([code, id, node, at, extra]) =>
          [
            `exit_code=${code}`,
            `job_id=${id}`,
            `node=${node}`,
            `finished_at=${at}`,
            ...(extra ? ['future_key=1'] : []),
          ].join('\n') + '\n',
      );
    check(
      fc.property(damaged(marker), ([text, clean]) => {
        const parsed = parsesOr(ErrorType.ResultMarkerMissing, () => parseResultMarker(text));
        if (clean) assert.equal(parsed?.exitCode, Number(/exit_code=(\d+)/.exec(text)![1]));
        if (parsed) assert.ok(Number.isInteger(parsed.exitCode) && parsed.exitCode >= 0 && parsed.exitCode <= 255);
      }),
      200,
    );
  });

  it('STAR (parseStar and its lookups): blocks, values and numbers, or InputInvalid naming the file', () => {
    const key = fc.stringMatching(/^rln[A-Z][a-z]{0,6}$/);
    const value = fc.oneof(
      fc.double().map(String),
      fc.integer().map(String),
      fc.stringMatching(/^[A-Za-z0-9./]{1,8}$/),
      fc.constant("'two words'"),
    );
    const block = fc.record({
      name: fc.stringMatching(/^[a-z_]{0,8}$/),
      values: fc.uniqueArray(fc.tuple(key, value), { maxLength: 3, selector: ([k]) => k }),
      loop: fc.option(
        fc
          .uniqueArray(key, { minLength: 1, maxLength: 4 })
          .chain((columns) =>
            fc.tuple(
              fc.constant(columns),
              fc.array(fc.array(value, { minLength: columns.length, maxLength: columns.length }), { maxLength: 4 }),
            ),
          ),
      ),
    });
    const doc = fc
      .array(block, { maxLength: 3 })
      .map((blocks) =>
        blocks
          .map((b) =>
            [
              '',
              '# version 30001',
              `data_${b.name}`,
              '',
              ...b.values.map(([k, v]) => `_${k} ${v}`),
              ...(b.loop
                ? ['', 'loop_', ...b.loop[0].map((c, i) => `_${c} #${i + 1}`), ...b.loop[1].map((r) => r.join(' '))]
                : []),
            ].join('\n'),
          )
          .join('\n'),
      );
    check(
      fc.property(damaged(doc), ([star, clean]) => {
        let file: StarFile | undefined;
        try {
          file = parseStar(star, 'f.star');
        } catch (err) {
          assert.ok(err instanceof CryoError && err.type === ErrorType.InputInvalid, String(err));
          assert.ok(err.message.startsWith('f.star:'), err.message);
        }
        if (clean) assert.equal(file?.blocks.length, (star.match(/^data_/gm) ?? []).length);
        for (const b of file?.blocks ?? []) {
          for (const row of b.loop?.rows ?? []) assert.equal(row.length, b.loop!.columns.length);
          for (const column of [...(b.loop?.columns ?? []), 'rlnMissing']) {
            parsesOr(ErrorType.InputInvalid, () => starColumn(b, column, 'f.star'));
            for (const n of parsesOr(ErrorType.InputInvalid, () => starNumberColumn(b, column, 'f.star')) ?? [])
              assert.ok(Number.isFinite(n));
          }
          for (const k of [...Object.keys(b.values), 'rlnMissing', 'toString', '__proto__']) {
            const n = parsesOr(ErrorType.InputInvalid, () => starNumber(b, k, 'f.star'));
            if (n !== undefined) assert.ok(Number.isFinite(n));
          }
        }
        parsesOr(ErrorType.InputInvalid, () => starBlock(file ?? { blocks: [] }, 'missing', 'f.star'));
      }),
      200,
    );
  });

  it('STAR writer: a loop that formats reads back the same, or InputInvalid', () => {
    const word = fc.oneof(fc.stringMatching(/^[A-Za-z0-9.+-][A-Za-z0-9._+-]{0,8}$/), nasty(6));
    const loop = fc.integer({ min: 0, max: 4 }).chain((n) =>
      fc.tuple(
        fc.stringMatching(/^[a-z]{0,6}$/),
        fc.array(word, { minLength: n, maxLength: n }),
        fc.array(
          fc.array(
            fc.oneof(
              word,
              fc.double().map((d) => d),
            ),
            { minLength: n, maxLength: n },
          ),
          { maxLength: 4 },
        ),
      ),
    );
    check(
      fc.property(loop, ([name, columns, rows]) => {
        const text = parsesOr(ErrorType.InputInvalid, () => formatStarLoop(name, columns, rows));
        if (text === undefined) return;
        const block = starBlock(parseStar(text, 'w.star'), name, 'w.star');
        assert.deepEqual(block.loop?.columns, columns);
        assert.deepEqual(
          block.loop?.rows,
          rows.map((r) => r.map(String)),
        );
      }),
      200,
    );
  });

  it('rawtlt (parseRawtlt): finite angles in [-90, 90], or InputInvalid naming the file', () => {
    const angle = fc.oneof(
      fc.double({ min: -90, max: 90, noNaN: true }).map(String),
      fc.integer({ min: -90, max: 90 }).map((n) => `${n}.00`),
      fc.constantFrom('1e1', '.5', '+3', '-0'),
    );
    const valid = fc
      .tuple(fc.array(angle, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'))
      .map(([a, eol]) => a.join(eol) + eol);
    check(
      fc.property(damaged(valid), ([rawtlt, clean]) => {
        try {
          const angles = parseRawtlt(rawtlt, 'TS_01.rawtlt');
          assert.ok(angles.length > 0);
          for (const a of angles) assert.ok(Number.isFinite(a) && a >= -90 && a <= 90, String(a));
          if (clean) assert.equal(angles.length, rawtlt.split('\n').filter((l) => l.trim() !== '').length);
        } catch (err) {
          assert.ok(err instanceof CryoError && err.type === ErrorType.InputInvalid, String(err));
          assert.ok(!clean, `clean input refused: ${err.message}`);
          assert.match(err.message, /^TS_01\.rawtlt(:\d+)?: /);
        }
      }),
      200,
    );
  });

  it('MRC header (parseMrcHeader): a complete, consistent header, or InputInvalid naming the file', () => {
    const fields = fc.record({
      nx: fc.integer({ min: -2, max: 64 }),
      ny: fc.integer({ min: -2, max: 64 }),
      nz: fc.oneof(fc.integer({ min: -2, max: 64 }), fc.constant(2 ** 31 - 1)),
      mode: fc.constantFrom(-1, 0, 1, 2, 3, 4, 6, 12, 101, 2 ** 31 - 1),
      nsymbt: fc.oneof(fc.integer({ min: -8, max: 2048 }), fc.constant(-(2 ** 31))),
      mx: fc.integer({ min: -2, max: 64 }),
      cella: fc.double(),
      stamp: fc.constantFrom('MAP ', 'MAP\0', 'XXXX', 'map '),
      machine: fc.constantFrom(0x44, 0x11, 0x00),
      /** Bytes of the header we have: mostly all of it. */
      cut: fc.oneof(
        { weight: 4, arbitrary: fc.constant(MRC_HEADER_BYTES) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: MRC_HEADER_BYTES - 1 }) },
      ),
      sizeDelta: fc.integer({ min: -100_000, max: 100_000 }),
      offset: fc.integer({ min: 0, max: 7 }),
    });
    const input = fc.oneof(
      fields.map((f) => {
        const b = Buffer.alloc(MRC_HEADER_BYTES);
        const int = (at: number, v: number): void =>
          void (f.machine === 0x11 ? b.writeInt32BE(v, at) : b.writeInt32LE(v, at));
        int(0, f.nx);
        int(4, f.ny);
        int(8, f.nz);
        int(12, f.mode);
        int(28, f.mx);
        (f.machine === 0x11 ? b.writeFloatBE : b.writeFloatLE).call(b, f.cella, 40);
        int(92, f.nsymbt);
        b.write(f.stamp, 208, 'latin1');
        b[212] = f.machine;
        const full = 1024 + Math.max(0, f.nsymbt) + Math.max(0, f.nx * f.ny * f.nz * 4);
        // The head as a view into a bigger buffer at an odd offset, as a Buffer slice can be.
        const backing = new Uint8Array(f.offset + MRC_HEADER_BYTES);
        backing.set(b.subarray(0, f.cut), f.offset);
        const head = backing.subarray(f.offset, f.offset + f.cut);
        return { head, size: full + f.sizeDelta };
      }),
      fc.record({ head: fc.uint8Array({ maxLength: 1100 }), size: fc.oneof(fc.integer(), fc.double()) }),
    );
    check(
      fc.property(input, ({ head, size }) => {
        try {
          const h = parseMrcHeader(head, size, '/d/TS_01.mrc');
          assert.ok(h.nx >= 1 && h.ny >= 1 && h.nz >= 1 && h.extendedHeaderBytes >= 0);
          assert.ok(!(size < h.expectedSize));
          assert.equal(h.dataOffset, 1024 + h.extendedHeaderBytes);
          // Same answer from a copy at offset 0: the reader honours the view's offset.
          assert.deepEqual(parseMrcHeader(Buffer.from(head), size, '/d/TS_01.mrc'), h);
        } catch (err) {
          assert.ok(err instanceof CryoError && err.type === ErrorType.InputInvalid, String(err));
          assert.ok(err.message.startsWith('/d/TS_01.mrc: '), err.message);
        }
      }),
      200,
    );
  });

  it('durations (parseDuration): milliseconds, or the documented Error quoting what is accepted', () => {
    const text = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'0123456789dhms .-'), maxLength: 14 }),
      fc.stringMatching(/^([0-9]{1,25}d)?([0-9]{1,3}h)?([0-9]{1,3}m)?([0-9]{1,3}s)?([0-9]{1,4}ms)?$/),
      anyText(20),
    );
    check(
      fc.property(text, (t) => {
        let ms: number;
        try {
          ms = parseDuration(t);
        } catch (err) {
          // Documented: a plain Error whose message starts with DURATION_EXPECTED (zod turns it into an issue).
          assert.ok(err instanceof Error && !(err instanceof CryoError) && err.constructor === Error, String(err));
          assert.ok(err.message.startsWith(DURATION_EXPECTED), err.message);
          return;
        }
        assert.ok(Number.isSafeInteger(ms) && ms >= 0, String(ms));
        assert.equal(parseDuration(formatDuration(ms)), ms);
      }),
      200,
    );
  });

  it('durations: formatDuration writes what parseDuration reads back', () => {
    check(
      fc.property(fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })), (ms) =>
        assert.equal(parseDuration(formatDuration(ms)), ms),
      ),
      200,
    );
  });

  it('known_hosts lines (parseKnownHosts, verifyHostKey): never throws; a verdict naming the host', () => {
    const line = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('', '@revoked ', '@cert-authority ', '#'),
          nasty(12),
          fc.constantFrom('ssh-ed25519', 'ssh-rsa', ''),
          fc.base64String({ maxLength: 12 }),
        )
        .map((p) => `${p[0]}${p[1]} ${p[2]} ${p[3]}`),
      fc.constantFrom(
        '|1|c2FsdA==|aGFzaA== ssh-ed25519 AAAA',
        '|1|| ssh-rsa AAAA',
        '!*.evil,* ssh-rsa AAAA',
        '[h]:2222 ssh-rsa AAAA',
      ),
      nasty(30),
    );
    const input = fc.tuple(
      fc.array(line, { maxLength: 6 }).map((l) => l.join('\n')),
      fc.oneof(fc.stringMatching(/^[a-z0-9.-]{1,12}$/), nasty(8)),
      fc.integer({ min: 1, max: 65535 }),
      fc.uint8Array({ maxLength: 16 }),
    );
    check(
      fc.property(input, ([text, host, port, key]) => {
        const entries = parseKnownHosts(text);
        const lines = text.split(/\r?\n/).length;
        for (const e of entries) {
          assert.ok(e.line >= 1 && e.line <= lines);
          assert.ok(e.patterns.length > 0 && e.keyType !== '' && e.keyBase64 !== '');
        }
        const verdict = verifyHostKey(entries, host, port, Buffer.from(key), 'kh');
        if (!verdict.ok) assert.ok(verdict.message.includes(hostLookupName(host, port)), verdict.message);
      }),
      200,
    );
  });

  it('known_hosts: a listed host verifies (plain and hashed), another key does not', () => {
    const input = fc.tuple(
      fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,15}$/),
      fc.integer({ min: 1, max: 65535 }),
      fc.uint8Array({ minLength: 1, maxLength: 32 }),
      fc.uint8Array({ minLength: 1, maxLength: 20 }),
      fc.boolean(),
    );
    check(
      fc.property(input, ([host, port, key, salt, hashed]) => {
        const name = hostLookupName(host, port);
        const pattern = hashed
          ? `|1|${Buffer.from(salt).toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
          : name;
        const entries = parseKnownHosts(`# comment\n${pattern} ssh-ed25519 ${Buffer.from(key).toString('base64')}\n`);
        assert.deepEqual(verifyHostKey(entries, host, port, Buffer.from(key)), { ok: true, line: 2 });
        const other = Buffer.concat([Buffer.from(key), Buffer.from([1])]);
        const verdict = verifyHostKey(entries, host, port, other);
        assert.equal(verdict.ok ? 'ok' : verdict.reason, 'key-mismatch');
      }),
      100,
    );
  });

  it('host lists (expandHostList): safe node names, never a throw or a hang', () => {
    const hostList = fc.oneof(
      fc.string({ unit: fc.constantFrom(...'n0123456789[],-ab'), maxLength: 24 }),
      fc
        .tuple(
          fc.stringMatching(/^[a-z]{1,4}$/),
          fc.bigInt({ min: 0n, max: 10n ** 25n }),
          fc.bigInt({ min: 0n, max: 10n ** 25n }),
        )
        .map(([p, a, b]) => `${p}[${a}-${b}]`),
      fc
        .tuple(
          fc.stringMatching(/^[a-z]{1,4}$/),
          fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5 })), {
            minLength: 1,
            maxLength: 3,
          }),
        )
        .map(([p, ranges]) => `${p}[${ranges.map(([lo, n]) => `${lo}-${lo + n}`).join(',')}]`),
      nasty(20),
    );
    check(
      fc.property(hostList, (list) => {
        const names = expandHostList(list);
        assert.ok(names.length <= 4097 * (list.split(',').length + 1), `${names.length} names`);
        for (const n of names) assert.match(n, /^[A-Za-z0-9._-]+$/);
      }),
      200,
      // Looped forever before the safe-integer check: i += 1 does not move past 2^53.
      [
        ['n[9007199254740993]'],
        ['n[99999999999999999999-99999999999999999999]'],
        ['n[9007199254740990-9007199254740999]'],
      ],
    );
  });

  it('host lists: a generated range expands to exactly its names, zero padding kept', () => {
    const spec = fc.tuple(
      fc.stringMatching(/^[a-z]{1,4}-?$/),
      fc.integer({ min: 0, max: 500 }),
      fc.integer({ min: 0, max: 20 }),
      fc.integer({ min: 1, max: 4 }),
    );
    check(
      fc.property(spec, ([prefix, lo, count, width]) => {
        const pad = (n: number): string => String(n).padStart(width, '0');
        const expected = Array.from({ length: count + 1 }, (_, i) => `${prefix}${pad(lo + i)}`);
        assert.deepEqual(expandHostList(`${prefix}[${pad(lo)}-${pad(lo + count)}]`), expected);
      }),
      200,
    );
  });

  it('temporal.yaml (parseConfig): any edit of a valid file gives the config or issues, never a throw', () => {
    const fixtures = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
    const base = parseYaml(readFileSync(`${fixtures}minimal.yaml`, 'utf8')) as Record<string, unknown>;
    check(
      fc.property(treeEdits(base), (tree) => {
        // The default fileExists (a real stat): a path with a NUL used to make it throw a TypeError.
        const result = parseConfig(stringifyYaml(tree), { fileName: 'temporal.yaml', baseDir: fixtures });
        if (!result.ok) for (const issue of result.issues) assert.equal(typeof issue.message, 'string');
      }),
      150,
      [
        [
          {
            ...base,
            clusters: {
              dev: {
                ...(base.clusters as { dev: object }).dev,
                ssh: { host: 'h', user: 'u', keyFile: 'k\0', knownHostsFile: 'ssh/known_hosts' },
              },
            },
          },
        ],
      ],
    );
  });

  it('campaign file (parseCampaign): any edit of a valid file gives the spec or issues, never a throw', () => {
    const base = parseYaml(
      readFileSync(new URL('../../campaigns/embedded-10164.yaml', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    check(
      fc.property(
        treeEdits(base),
        fc.constantFrom<'production' | 'embedded'>('production', 'embedded'),
        (tree, profile) => {
          const result = parseCampaign(stringifyYaml(tree), profile);
          if (result.ok)
            for (const ts of result.spec.tiltSeries) assert.match(ts.name, /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/);
          else for (const issue of result.issues) assert.equal(typeof issue.message, 'string');
        },
      ),
      150,
    );
  });
});

/** `base` with 1..3 values replaced (or keys added) at paths that exist in it. */
function treeEdits(base: Record<string, unknown>): Arbitrary<unknown> {
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

// ---- command builders ---------------------------------------------------------------------

/** Bash's builtins: a first word naming one runs it, so the first-word check leaves them out. */
const BASH_BUILTINS = new Set(
  spawnSync('bash', ['--norc', '--noprofile', '-c', 'compgen -b'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean),
);

/**
 * Runs the given command lines in ONE bash and returns the argv each line produced: `f` (and
 * `command_not_found_handle`, for a line whose first word is not a command) prints `$#` and
 * then each argument, NUL-terminated. PATH is empty, so every first word is "not found".
 */
function bashArgvs(lines: readonly string[]): string[][] {
  const script = [
    'f() { printf \'%s\\0\' "$#" "$@"; }',
    'command_not_found_handle() { printf \'%s\\0\' "$#" "$@"; }',
    'PATH=/nonexistent',
    ...lines,
  ].join('\n');
  const run = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
    encoding: 'buffer',
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  assert.equal(run.status, 0, `bash exited ${run.status}: ${run.stderr?.toString()}`);
  const fields = run.stdout.toString('utf8').split('\0');
  fields.pop(); // after the last NUL
  const out: string[][] = [];
  while (fields.length > 0) {
    const n = Number(fields.shift());
    out.push(fields.splice(0, n));
  }
  return out;
}

const argWord = fc.oneof(
  nasty(10),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('', 'if', 'time', '!', 'A=b', '$(id)', '`id`', "'", '"', '\\', '\n', '--', '-n', '~', '#x', '*'),
);

describe('command builders', () => {
  it('shellJoin: bash reads every generated argv back exactly (as arguments, 100 argvs, 5 bash runs)', () => {
    check(
      fc.property(
        fc.array(fc.array(argWord, { minLength: 0, maxLength: 6 }), { minLength: 20, maxLength: 20 }),
        (argvs) => {
          assert.deepEqual(bashArgvs(argvs.map((argv) => `f ${shellJoin(argv)}`)), argvs);
        },
      ),
      5,
    );
  });

  it(
    'shellJoin: an arbitrary first word stays the command name (assignments, reserved words), ' +
      '100 argvs, 5 bash runs',
    () => {
      // Not checkable: builtins (they run), words with '/' (a path is executed, not looked up) and
      // words starting with '%' (bash reads them as job specs even quoted: `'%1'` is `fg %1`).
      const firstWord = argWord.filter(
        (w) =>
          !w.includes('/') &&
          !w.startsWith('%') &&
          !BASH_BUILTINS.has(w) &&
          w !== 'f' &&
          w !== 'command_not_found_handle',
      );
      check(
        fc.property(
          fc.array(fc.tuple(firstWord, fc.array(argWord, { maxLength: 3 })), { minLength: 20, maxLength: 20 }),
          (argvs) => {
            const lines = argvs.map(([cmd, rest]) => shellJoin([cmd, ...rest]));
            assert.deepEqual(
              bashArgvs(lines),
              argvs.map(([cmd, rest]) => [cmd, ...rest]),
            );
          },
        ),
        5,
      );
    },
  );

  it('shellQuote: a safe word stays bare, anything else is quoted; a NUL is NameInvalid', () => {
    check(
      fc.property(fc.oneof(argWord, fc.string({ unit: 'binary', maxLength: 8 })), (arg) => {
        if (arg.includes('\0')) {
          throwsType(ErrorType.NameInvalid, () => shellQuote(arg));
          throwsType(ErrorType.NameInvalid, () => shellJoin(['x', arg]));
          throwsType(ErrorType.NameInvalid, () => shellJoin([arg]));
          return;
        }
        const quoted = shellQuote(arg);
        if (quoted === arg) assert.match(arg, SHELL_SAFE_WORD);
        else assert.ok(quoted.startsWith("'") && quoted.endsWith("'"), quoted);
      }),
      200,
    );
  });

  const BASE: SbatchSpec = {
    jobName: 'cryoet.w.s-1',
    partition: 'gpu',
    gres: 'gpu:1',
    timeLimitMinutes: 60,
    workDir: '/work/j',
    outputPath: '/work/j/out-%j.txt',
    comment: 'step s',
    exclude: ['n1'],
    environment: { SLURM_CONF: '/etc/slurm.conf' },
    command: ['echo', 'hi'],
    resultMarkerPath: '/work/j/result',
  };
  /** `#SBATCH` lines sbatch reads: those before the first line that is neither a comment nor blank. */
  const directives = (script: string): string[] => {
    const lines = script.split('\n');
    const end = lines.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
    return lines.slice(0, end).filter((l) => l.startsWith('#SBATCH'));
  };
  const baseDirectives = directives(buildSbatchScript(BASE));
  const nameArb = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9._-]{1,140}$/),
    nasty(16),
    fc.string({ unit: 'binary', maxLength: 10 }),
  );

  it('sbatch script: a job name that passes SAFE_NAME changes its own directive only; any other is NameInvalid', () => {
    check(
      fc.property(nameArb, (jobName) => {
        if (!SAFE_NAME.test(jobName) || jobName.length > MAX_NAME_LENGTH) {
          throwsType(ErrorType.NameInvalid, () => buildSbatchScript({ ...BASE, jobName }));
          return;
        }
        const script = buildSbatchScript({ ...BASE, jobName });
        const base = buildSbatchScript(BASE);
        assert.deepEqual(
          directives(script),
          baseDirectives.map((d) => (d.startsWith('#SBATCH --job-name=') ? `#SBATCH --job-name=${jobName}` : d)),
        );
        // Outside its directive the script is the same, line for line.
        const drop = (s: string): string[] => s.split('\n').filter((l) => !l.startsWith('#SBATCH --job-name='));
        assert.deepEqual(drop(script), drop(base));
      }),
      200,
    );
  });

  it('sbatch script: partition and excluded nodes follow the same rule', () => {
    check(
      fc.property(nameArb, nameArb, (partition, node) => {
        const safe = (s: string): boolean => SAFE_NAME.test(s) && s.length <= MAX_NAME_LENGTH;
        if (!safe(partition) || !safe(node)) {
          throwsType(ErrorType.NameInvalid, () => buildSbatchScript({ ...BASE, partition, exclude: [node] }));
          return;
        }
        const d = directives(buildSbatchScript({ ...BASE, partition, exclude: [node] }));
        assert.deepEqual(
          d,
          baseDirectives.map((l) =>
            l.startsWith('#SBATCH --partition=')
              ? `#SBATCH --partition=${partition}`
              : l.startsWith('#SBATCH --exclude=')
                ? `#SBATCH --exclude=${node}`
                : l,
          ),
        );
      }),
      200,
    );
  });

  it('sbatch script: free text (comment, paths, environment, command) never adds a line or a directive', () => {
    const text = fc.oneof(nasty(16), fc.string({ unit: 'binary', maxLength: 10 }));
    const path = fc.oneof(
      text.map((t) => `/${t}`),
      text,
    );
    const spec = fc.record({
      comment: text,
      workDir: path,
      outputPath: path,
      resultMarkerPath: path,
      env: text,
      command: fc.array(argWord, { minLength: 1, maxLength: 4 }),
    });
    /** sbatch's reading of one directive value: bare, or double-quoted with \\ escapes. */
    const unquote = (value: string): string =>
      value.startsWith('"') ? value.slice(1, -1).replace(/\\(.)/g, '$1') : value;
    check(
      fc.property(spec, (s) => {
        let script: string;
        try {
          script = buildSbatchScript({
            ...BASE,
            comment: s.comment,
            workDir: s.workDir,
            outputPath: s.outputPath,
            resultMarkerPath: s.resultMarkerPath,
            environment: { SLURM_CONF: s.env },
            command: s.command,
          });
        } catch (err) {
          assert.ok(err instanceof CryoError && err.type === ErrorType.NameInvalid, String(err));
          const bad =
            [s.comment, s.workDir, s.outputPath, s.resultMarkerPath].some((v) => /[\n\r\0]/.test(v)) ||
            [s.workDir, s.outputPath, s.resultMarkerPath].some((p) => !p.startsWith('/'));
          const nul = [s.env, s.resultMarkerPath, ...s.command].some((v) => v.includes('\0'));
          assert.ok(bad || nul, `refused a valid spec: ${String(err)}`);
          return;
        }
        const d = directives(script);
        assert.deepEqual(
          d.map((l) => l.replace(/=.*$/, '')),
          baseDirectives.map((l) => l.replace(/=.*$/, '')),
          'same directives, in the same order',
        );
        const values = new Map(d.map((l) => [l.replace(/=.*$/, ''), unquote(l.slice(l.indexOf('=') + 1))]));
        assert.equal(values.get('#SBATCH --comment'), s.comment);
        assert.equal(values.get('#SBATCH --chdir'), s.workDir);
        assert.equal(values.get('#SBATCH --output'), s.outputPath);
        // What follows the directives is the fixed script with the quoted values in place.
        assert.ok(
          script.includes(`\nexport SLURM_CONF=${shellQuote(s.env)}\n(\n  ${shellJoin(s.command)}\n) </dev/null\n`),
        );
      }),
      200,
    );
  });

  const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/);

  it(
    'job keys: key → job name → key round-trips; ' + 'the owner is the workflow id (orphan parsing inverts jobNameFor)',
    () => {
      check(
        fc.property(
          fc.array(segment, { minLength: 1, maxLength: 8 }),
          segment,
          fc.integer({ min: 1, max: 99_999 }),
          (parts, step, jobId) => {
            const workflowId = parts.join('/');
            let key: string;
            try {
              key = jobKey(workflowId, step);
            } catch (err) {
              assert.ok(err instanceof CryoError && err.type === ErrorType.NameInvalid);
              assert.ok(
                JOB_NAME_PREFIX.length + workflowId.length + 1 + step.length > MAX_NAME_LENGTH,
                'only too long a name is refused',
              );
              return;
            }
            const name = jobNameFor(key);
            assert.match(name, SAFE_NAME);
            assert.equal(keyFromJobName(name), key);
            assert.deepEqual(ownerOf(name), { key, workflowId });
            const [job] = parseOurJobs(`${jobId}|RUNNING|2026-11-25T10:08:18|n1|${name}\n`);
            assert.deepEqual(
              { key: job?.key, workflowId: job?.workflowId, jobId: job?.jobId },
              { key, workflowId, jobId: String(jobId) },
            );
          },
        ),
        200,
      );
    },
  );

  it('job keys: any name reads as a key only when jobNameFor gives that very name back', () => {
    const name = fc.oneof(
      fc.stringMatching(/^cryoet\.[A-Za-z0-9_.-]{0,20}$/),
      nasty(16),
      fc.stringMatching(/^cryoet\.[A-Za-z0-9_-]{1,30}(\.[A-Za-z0-9_-]{1,30}){3,5}$/),
    );
    check(
      fc.property(name, (n) => {
        const key = keyFromJobName(n);
        if (key === undefined) return;
        try {
          assert.equal(jobNameFor(key), n);
        } catch (err) {
          assert.ok(
            err instanceof CryoError && err.type === ErrorType.NameInvalid && n.length > MAX_NAME_LENGTH,
            String(err),
          );
        }
      }),
      200,
    );
  });

  it('job keys: a workflow id or step outside the grammar is NameInvalid', () => {
    check(
      fc.property(fc.oneof(nasty(12), segment), fc.oneof(nasty(8), segment), (workflowId, step) => {
        const key = parsesOr(ErrorType.NameInvalid, () => jobKey(workflowId, step));
        if (key !== undefined) for (const s of key.split('/')) assert.match(s, /^[A-Za-z0-9_-]+$/);
      }),
      200,
    );
  });

  it(
    'status and cancel argv: ids are digits (or digits_digits) or NameInvalid; ' +
      'the submit command quotes every path',
    () => {
      const id = fc.oneof(
        { weight: 6, arbitrary: fc.stringMatching(/^[0-9]{1,6}(_[0-9]{1,3})?$/) },
        { weight: 1, arbitrary: nasty(6) },
      );
      check(
        fc.property(
          fc.array(id, { maxLength: 4 }),
          nameArb,
          fc.oneof(nasty(12), fc.constant('/w/j')),
          (ids, user, dir) => {
            const squeue = parsesOr(ErrorType.NameInvalid, () => buildSqueueArgs(ids));
            if (squeue) for (const i of squeue[5]!.split(',')) assert.match(i, JOB_ID_PATTERN);
            const sacct = parsesOr(ErrorType.NameInvalid, () => buildSacctArgs(ids));
            if (sacct) for (const i of sacct[5]!.split(',')) assert.match(i, JOB_ID_PATTERN);
            const scancel = parsesOr(ErrorType.NameInvalid, () => buildOrphanScancelArgs(user, ids));
            if (scancel) {
              assert.match(user, SAFE_NAME);
              for (const i of scancel.slice(3)) assert.match(i, /^[0-9]+$/);
            }
            const submit = parsesOr(ErrorType.NameInvalid, () =>
              buildSubmitCommand({ jobName: user, jobDir: dir, scriptPath: `${dir}/job.sh` }),
            );
            if (submit) {
              assert.match(user, SAFE_NAME);
              assert.ok(submit.includes(`mkdir -p ${shellQuote(dir)}; `));
            }
          },
        ),
        200,
      );
    },
  );
});
