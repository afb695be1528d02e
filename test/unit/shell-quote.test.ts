import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import { shellJoin, shellQuote } from '../../src/shell/quote.js';

/** What bash reads back from `printf %s <quoted>`. */
function roundTrip(s: string): string {
  return execFileSync('bash', ['-c', `printf %s ${shellQuote(s)}`], { encoding: 'utf8' });
}

/** Each argument bash sees when running `printf '%s\0' <joined>`. */
function argvRoundTrip(argv: readonly string[]): string[] {
  const out = execFileSync('bash', ['-c', `printf '%s\\0' ${shellJoin(argv)}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

/** Small seeded PRNG (mulberry32) so a failing case reproduces. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('shellQuote', () => {
  const rows: [string, string][] = [
    ['', "''"],
    ['plain', 'plain'],
    ['/abs/path/file.mrc', '/abs/path/file.mrc'],
    ['--gres=gpu:t4:2', '--gres=gpu:t4:2'],
    ['a,b@c%d+e', 'a,b@c%d+e'],
    ['%i|%j|%T', "'%i|%j|%T'"],
    ['a b', "'a b'"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ['$(id)', "'$(id)'"],
    ['`id`', "'`id`'"],
    ['a\nb', "'a\nb'"],
    ['~', "'~'"],
    ['*', "'*'"],
    ['#comment', "'#comment'"],
    ['if', "'if'"],
    ['time', "'time'"],
    ['ünï', "'ünï'"],
  ];
  for (const [input, expected] of rows) {
    it(`quotes ${JSON.stringify(input)} as ${expected}`, () => {
      assert.equal(shellQuote(input), expected);
    });
  }

  const nasty: string[] = [
    '',
    ' ',
    '  two  spaces  ',
    "'",
    "''",
    '"',
    '""',
    'a\'b"c',
    '$(touch /tmp/cryoet-pwned)',
    '`id`',
    '$HOME',
    '${HOME}',
    '\\',
    '\\\\n',
    'a\nb',
    '\n',
    'trailing newline\n',
    '\r\n',
    '\t',
    'ünïcødé ✓',
    '🧊 cryo',
    '*',
    '?',
    '[a-z]',
    '~',
    '~root',
    '!',
    '!!',
    '#',
    ';',
    '&&',
    '||',
    '|',
    '>',
    '<',
    '(',
    ')',
    '{}',
    '-n',
    '-e',
    '--',
    '%s',
    '%%',
    'a=b',
    "'\"'\"'",
    'x'.repeat(5000),
    '\u0001\u001f\u007f',
    'if',
    'done',
  ];
  for (const s of nasty) {
    it(`bash reads back ${JSON.stringify(s.length > 30 ? `${s.slice(0, 30)}...` : s)} unchanged`, () => {
      assert.equal(roundTrip(s), s);
    });
  }

  it('bash reads back 200 random strings from a nasty alphabet (seed 20241125)', () => {
    const alphabet = [...'abc XYZ019 \'"`$(){}[]\\|&;<>*?~!#%=,.:/@+-\n\t\r', 'ü', '✓', '🧊'];
    const rand = mulberry32(20241125);
    const strings = Array.from({ length: 200 }, () =>
      Array.from({ length: Math.floor(rand() * 24) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''),
    );
    // One bash process for all of them: NUL-separated output, compared element-wise.
    const echoed = execFileSync('bash', ['-c', `printf '%s\\0' ${strings.map(shellQuote).join(' ')}`], {
      encoding: 'utf8',
    })
      .split('\0')
      .slice(0, -1);
    assert.deepEqual(echoed, strings);
  });

  it('throws NameInvalid for a NUL byte', () => {
    assert.throws(
      () => shellQuote('a\0b'),
      (err: unknown) => err instanceof CryoError && err.type === ErrorType.NameInvalid && /NUL/.test(err.message),
    );
  });
});

describe('shellJoin', () => {
  const rows: [string[], string][] = [
    [[], ''],
    [['squeue', '-h', '-o', '%i|%j'], "squeue -h -o '%i|%j'"],
    [['sh', '-c', 'exit 3'], "sh -c 'exit 3'"],
    [['A=b', 'A=b'], "'A=b' A=b"],
    [['if', 'then'], "'if' 'then'"],
  ];
  for (const [argv, expected] of rows) {
    it(`joins ${JSON.stringify(argv)} as ${expected}`, () => {
      assert.equal(shellJoin(argv), expected);
    });
  }

  it('bash sees the same argv', () => {
    const argv = ['a b', "it's", '', '$(id)', 'x\ny', '--flag=1', '🧊'];
    assert.deepEqual(argvRoundTrip(argv), argv);
  });

  it('a first word with "=" runs as a command, not a variable assignment', () => {
    const out = execFileSync('bash', ['-c', `${shellJoin(['A=b'])} 2>&1; echo "rc=$?"`], { encoding: 'utf8' });
    assert.match(out, /A=b: command not found\nrc=127\n$/);
  });
});
