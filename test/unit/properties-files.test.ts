/**
 * Property-based tests (fast-check) for the file readers (STAR, rawtlt, MRC header) and durations:
 * any input parses, or raises the documented error, never a TypeError, RangeError or a hang.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DURATION_EXPECTED, formatDuration, parseDuration } from '../../src/duration.js';
import { CryoError, ErrorType } from '../../src/errors.js';
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
import { check, parsesOr, nasty, anyText, damaged } from '../helpers/arbitraries.js';

describe('parsers: any input parses or raises the documented error', () => {
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
});
