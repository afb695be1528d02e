/**
 * RELION STAR files: a strict reader (data_ blocks holding key-value pairs and/or one
 * loop_), lookup helpers that fail with a clear message, and a writer for loop blocks.
 * Pure: no I/O. Every error is `InputInvalid` and names the source (and line, when the
 * fault is at one).
 */
import { CryoError, ErrorType } from '../errors.js';

/** One `data_<name>` block. */
export interface StarBlock {
  /** The text after `data_`; may be ''. */
  name: string;
  /** Key-value pairs, keys without the leading '_'. */
  values: Record<string, string>;
  loop?: {
    /** Column names without the leading '_' and without the `#N` suffix. */
    columns: string[];
    rows: string[][];
    /** 1-based line of each row in the source text (set by parseStar; used in messages). */
    lines?: number[];
  };
}

export interface StarFile {
  blocks: StarBlock[];
}

function invalid(message: string, details?: Record<string, unknown>): CryoError {
  return new CryoError(ErrorType.InputInvalid, message, details);
}

/**
 * Split one line into tokens. Whitespace separates; a token that starts with ' or " runs
 * to the same quote followed by whitespace or the line end (STAR rule), quotes removed.
 * An unquoted token starting with '#' begins a comment that runs to the line end.
 */
function tokenize(line: string, where: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    const c = line[i]!;
    if (c === '#') break;
    if (c === "'" || c === '"') {
      let end = i + 1;
      while (end < line.length && !(line[end] === c && (end + 1 === line.length || /\s/.test(line[end + 1]!)))) end++;
      if (end >= line.length) throw invalid(`${where}: unterminated ${c} quote`);
      tokens.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let end = i;
      while (end < line.length && !/\s/.test(line[end]!)) end++;
      tokens.push(line.slice(i, end));
      i = end;
    }
  }
  return tokens;
}

/**
 * Parse STAR text. `source` (a path) is used in messages only. A loop runs from `loop_`
 * through its `_column` lines and its rows, up to a blank line (once rows have begun),
 * a new `data_`, or the end. Each row must have one value per column.
 */
export function parseStar(text: string, source: string): StarFile {
  const blocks: StarBlock[] = [];
  let block: StarBlock | undefined;
  // 'values': key-value lines; 'columns': after loop_, before the first row; 'rows'.
  let mode: 'values' | 'columns' | 'rows' = 'values';
  let loopLine = 0;
  const endLoop = (): void => {
    if (mode === 'columns' && block?.loop?.columns.length === 0) {
      throw invalid(`${source}:${loopLine}: loop_ in data_${block.name} has no columns`);
    }
    mode = 'values';
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const where = `${source}:${lineNo}`;
    const trimmed = raw.trim();
    if (trimmed === '') {
      if (mode === 'rows') mode = 'values';
      return;
    }
    if (trimmed.startsWith('#')) return;
    const tokens = tokenize(trimmed, where);
    const first = tokens[0]!;
    if (first.startsWith('data_') && !/^["']/.test(trimmed)) {
      if (tokens.length > 1) throw invalid(`${where}: unexpected text after ${first}`);
      endLoop();
      block = { name: first.slice('data_'.length), values: {} };
      blocks.push(block);
      return;
    }
    if (block === undefined) {
      throw invalid(`${where}: expected a data_ block before ${JSON.stringify(trimmed.slice(0, 40))}`);
    }
    if (first === 'loop_' && trimmed.startsWith('loop_')) {
      if (tokens.length > 1) throw invalid(`${where}: unexpected text after loop_`);
      endLoop();
      if (block.loop !== undefined) throw invalid(`${where}: data_${block.name} has a second loop_`);
      block.loop = { columns: [], rows: [], lines: [] };
      mode = 'columns';
      loopLine = lineNo;
      return;
    }
    const isLabel = trimmed.startsWith('_');
    if (mode === 'columns' && isLabel) {
      if (tokens.length > 1) throw invalid(`${where}: unexpected text after column ${first}`);
      const column = first.slice(1);
      if (column === '') throw invalid(`${where}: empty column name`);
      if (block.loop!.columns.includes(column)) throw invalid(`${where}: column _${column} appears twice`);
      block.loop!.columns.push(column);
      return;
    }
    if (mode !== 'values' && !isLabel) {
      endLoop(); // throws when the loop has no columns
      mode = 'rows';
      const loop = block.loop!;
      if (tokens.length !== loop.columns.length) {
        throw invalid(`${where}: row has ${tokens.length} values but the loop has ${loop.columns.length} columns`);
      }
      loop.rows.push(tokens);
      loop.lines?.push(lineNo);
      return;
    }
    if (isLabel) {
      endLoop();
      const key = first.slice(1);
      if (key === '') throw invalid(`${where}: empty key`);
      if (tokens.length !== 2) {
        throw invalid(`${where}: ${first} needs exactly one value, found ${tokens.length - 1}`);
      }
      if (Object.hasOwn(block.values, key)) throw invalid(`${where}: key ${first} appears twice in data_${block.name}`);
      // defineProperty, not assignment: a key such as `__proto__` must stay a plain entry.
      Object.defineProperty(block.values, key, {
        value: tokens[1]!,
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return;
    }
    throw invalid(`${where}: unexpected text outside a loop: ${JSON.stringify(trimmed.slice(0, 40))}`);
  });
  endLoop();
  return { blocks };
}

/** The first `data_<name>` block; throws when there is none. */
export function starBlock(file: StarFile, name: string, source: string): StarBlock {
  const block = file.blocks.find((b) => b.name === name);
  if (block === undefined) {
    const names = file.blocks.map((b) => `data_${b.name}`).join(', ') || 'none';
    throw invalid(`${source} has no data_${name} block (blocks: ${names})`, { source });
  }
  return block;
}

/** All values of one loop column, in row order; throws naming the column and the present ones. */
export function starColumn(block: StarBlock, column: string, source: string): string[] {
  const loop = block.loop;
  if (loop === undefined) {
    throw invalid(`${source}: data_${block.name} has no loop_, so no column _${column}`, { source });
  }
  const at = loop.columns.indexOf(column);
  if (at < 0) {
    const present = loop.columns.map((c) => `_${c}`).join(', ') || 'none';
    throw invalid(`${source}: data_${block.name} has no column _${column} (columns: ${present})`, { source });
  }
  return loop.rows.map((row) => row[at]!);
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function toNumber(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** A key-value entry as a finite number; throws when missing or not a number. */
export function starNumber(block: StarBlock, key: string, source: string): number {
  const text = Object.hasOwn(block.values, key) ? block.values[key] : undefined;
  if (text === undefined) {
    const present =
      Object.keys(block.values)
        .map((k) => `_${k}`)
        .join(', ') || 'none';
    throw invalid(`${source}: data_${block.name} has no _${key} (keys: ${present})`, { source });
  }
  const n = toNumber(text);
  if (n === undefined) {
    throw invalid(`${source}: data_${block.name} _${key} is ${JSON.stringify(text)}, not a finite number`, { source });
  }
  return n;
}

/** A loop column as finite numbers; throws naming the row (and line) of a bad value. */
export function starNumberColumn(block: StarBlock, column: string, source: string): number[] {
  return starColumn(block, column, source).map((text, row) => {
    const n = toNumber(text);
    if (n === undefined) {
      const line = block.loop?.lines?.[row];
      const where = line === undefined ? source : `${source}:${line}`;
      throw invalid(
        `${where}: data_${block.name} _${column} row ${row + 1} is ${JSON.stringify(text)}, not a finite number`,
        { source },
      );
    }
    return n;
  });
}

/**
 * A value the writer can put down unquoted and read back unchanged: non-empty, no
 * whitespace, and not starting with a character or word the reader treats specially.
 */
function checkWord(what: string, text: string): void {
  if (text === '' || /\s/.test(text) || /^(?:[#'"_]|data_|loop_)/.test(text)) {
    throw invalid(`STAR ${what} ${JSON.stringify(text)} is empty, has whitespace, or starts with # ' " _ data_ loop_`);
  }
}

/**
 * One RELION-style loop block:
 * `\ndata_<name>\n\nloop_\n_<col> #1\n...\n<row values joined by a space>\n`.
 * Numbers are written with String() and must be finite. Throws InputInvalid on a row of
 * the wrong length or a value that would not read back the same.
 */
export function formatStarLoop(blockName: string, columns: string[], rows: (string | number)[][]): string {
  if (/\s/.test(blockName)) throw invalid(`STAR block name ${JSON.stringify(blockName)} has whitespace`);
  if (columns.length === 0) throw invalid(`STAR loop data_${blockName} has no columns`);
  columns.forEach((c) => checkWord('column', c));
  if (new Set(columns).size !== columns.length) throw invalid(`STAR loop data_${blockName} repeats a column`);
  const body = rows.map((row, r) => {
    if (row.length !== columns.length) {
      throw invalid(`STAR loop data_${blockName} row ${r + 1} has ${row.length} values but ${columns.length} columns`);
    }
    return row
      .map((value) => {
        if (typeof value === 'number' && !Number.isFinite(value)) {
          throw invalid(`STAR loop data_${blockName} row ${r + 1} has a non-finite number ${value}`);
        }
        const text = String(value);
        checkWord(`value in data_${blockName} row ${r + 1}:`, text);
        return text;
      })
      .join(' ');
  });
  const header = columns.map((c, i) => `_${c} #${i + 1}`);
  return ['', `data_${blockName}`, '', 'loop_', ...header, ...body].join('\n') + '\n';
}

/** Join formatted blocks into one file. */
export function formatStar(blocks: string[]): string {
  return blocks.join('');
}
