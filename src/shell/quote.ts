/**
 * POSIX shell quoting for argv arrays that travel as one command line (SSH `exec`,
 * the body of an sbatch script). The remote side must be a POSIX shell (sh, bash,
 * zsh); csh-family login shells treat newlines inside single quotes differently, so
 * callers wrap in `bash -c` where the login shell is unknown.
 */
import { CryoError, ErrorType } from '../errors.js';

/** Words made only of these characters need no quoting in any POSIX shell. */
export const SHELL_SAFE_WORD = /^[A-Za-z0-9_./:=@%+,-]+$/;

// Reserved words are plain letters, but as the first word of a command bash parses them
// as syntax (`if`, `time`, ...). Quoting them is harmless anywhere, so we always do.
const RESERVED_WORDS: ReadonlySet<string> = new Set([
  'case',
  'coproc',
  'do',
  'done',
  'elif',
  'else',
  'esac',
  'fi',
  'for',
  'function',
  'if',
  'in',
  'select',
  'then',
  'time',
  'until',
  'while',
]);

function singleQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/**
 * Quote one argument so a POSIX shell reads it back byte for byte. Plain safe words
 * ({@link SHELL_SAFE_WORD}) stay bare, the empty string becomes `''`, everything else is
 * single-quoted with `'` written as `'\''`. Throws `NameInvalid` for a NUL byte, which
 * no shell argument can carry.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) {
    throw new CryoError(
      ErrorType.NameInvalid,
      `shell argument ${JSON.stringify(arg)}: contains a NUL byte, which a command line cannot carry`,
      { arg },
    );
  }
  if (arg === '') return "''";
  if (SHELL_SAFE_WORD.test(arg) && !RESERVED_WORDS.has(arg)) return arg;
  return singleQuote(arg);
}

/**
 * Join an argv array into one command line: each element quoted with {@link shellQuote},
 * separated by single spaces. A first word containing `=` is quoted too, because bare
 * `A=b cmd` is a variable assignment, not a command named `A=b`.
 */
export function shellJoin(argv: readonly string[]): string {
  return argv
    .map((arg, i) => (i === 0 && arg.includes('=') && !arg.includes('\0') ? singleQuote(arg) : shellQuote(arg)))
    .join(' ');
}
