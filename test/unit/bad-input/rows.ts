/**
 * The bad-input table's shape (a row: its source, case, input, expected type and message,
 * and how to run it), a stand-in cluster that records every command and write, and helpers.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import type { ActivityDeps, ClusterRuntime } from '../../../src/activities/deps.js';
import { CryoError, ErrorType, type ErrorTypeName } from '../../../src/errors.js';
import type { JobObservation } from '../../../src/scheduler/watcher.js';
import type { ExecResult, SshConnection } from '../../../src/ssh/connection.js';
import type { SshPool } from '../../../src/ssh/pool.js';

type Source = 'temporal.yaml' | 'campaign file' | 'tilt-series files' | 'STAR' | 'scheduler output';

/** What a row's input did when run through the real entry point. */
type Outcome =
  | { readonly kind: 'threw'; readonly error: unknown; readonly sideEffects: readonly string[] }
  | {
      readonly kind: 'watched';
      readonly observation: JobObservation;
      readonly logs: readonly string[];
      readonly sideEffects: readonly string[];
    }
  | { readonly kind: 'returned'; readonly value: unknown; readonly sideEffects: readonly string[] };

export interface Row {
  readonly source: Source;
  readonly case: string;
  /** The bad input as it reaches us (file text, bytes described, command output). */
  readonly input: string;
  /**
   * The failure type expected; `pending` for scheduler output that must leave the job
   * waiting (logged when the state is unknown), never success.
   */
  readonly type: ErrorTypeName | 'pending';
  /** Must match the error message (for `pending`: `job <id>: <state> (<move>)` + the watcher's log). */
  readonly message: RegExp;
  readonly run: () => Promise<Outcome>;
}

export const WORK = mkdtempSync(join(tmpdir(), 'cryoet-bad-input-'));
after(() => rmSync(WORK, { recursive: true, force: true }));

let folders = 0;
/** The number of the next row's own folder under WORK. */
export const nextFolder = (): number => ++folders;

export function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** 1-based line of the first line of `text` containing `fragment`. */
function lineOf(text: string, fragment: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(fragment));
  if (index < 0) throw new Error(`no line contains ${JSON.stringify(fragment)}`);
  return index + 1;
}

/** `text` with `from` replaced by `to`; throws when `from` is not there. */
export function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`edit does not apply: ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/**
 * A message line `<file>:<line> <path>: <message>`: the file, the line holding
 * `lineFragment` (none when undefined) and the field path ('' for the whole file).
 */
export function located(
  file: string,
  text: string,
  lineFragment: string | undefined,
  path: string,
  message: RegExp,
): RegExp {
  const line = lineFragment === undefined ? '' : `:${lineOf(text, lineFragment)}`;
  return new RegExp(`^${esc(file)}${line}${path === '' ? '' : ` ${esc(path)}`}: .*?${message.source}`, 'm');
}

/** Names, sizes and sha256 of everything under `dir`: compared before and after a row. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else
        out.push(`${path} ${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(dir);
  return out;
}

export async function settle(
  body: () => unknown,
): Promise<{ threw: true; error: unknown } | { threw: false; value: unknown }> {
  try {
    return { threw: false, value: await body() };
  } catch (error) {
    return { threw: true, error };
  }
}

/**
 * Runs `body` between two snapshots of the suite's folder (every row's files, the one it
 * reads and all the others): any change is a side effect.
 */
export async function unchanged(body: () => unknown): Promise<Outcome> {
  const before = snapshot(WORK);
  const result = await settle(body);
  const changed = snapshot(WORK).join('\n') === before.join('\n') ? [] : [`${WORK} changed`];
  return result.threw
    ? { kind: 'threw', error: result.error, sideEffects: changed }
    : { kind: 'returned', value: result.value, sideEffects: changed };
}

/** Serves files and command output from memory; records every command and write. */
export class FakeCluster {
  readonly files = new Map<string, Buffer>();
  readonly calls: string[] = [];

  constructor(
    files: Readonly<Record<string, string | Buffer>> = {},
    /** stdout by command: the first pattern matching the command line wins; default empty. */
    readonly outputs: ReadonlyArray<readonly [RegExp, string]> = [],
  ) {
    for (const [path, content] of Object.entries(files)) this.files.set(path, Buffer.from(content));
  }

  /** Writes, and commands that write or submit. */
  get sideEffects(): string[] {
    return this.calls.filter((c) => c.startsWith('write ') || /\b(sbatch|scancel|mkdir|mv|rm)\b/.test(c));
  }

  #file(path: string): Buffer {
    const file = this.files.get(path);
    if (file === undefined)
      throw new CryoError(ErrorType.OutputMissing, `cluster "dev": ${path} does not exist (sftp open)`);
    return file;
  }

  readonly connection = {
    exec: async (command: string): Promise<ExecResult> => {
      this.calls.push(`exec ${command}`);
      const stdout = this.outputs.find(([pattern]) => pattern.test(command))?.[1] ?? '';
      return { exitCode: 0, stdout, stderr: '' };
    },
    readFile: async (path: string): Promise<Buffer> => {
      this.calls.push(`read ${path}`);
      return this.#file(path);
    },
    readHead: async (path: string, bytes: number): Promise<{ head: Buffer; size: number }> => {
      this.calls.push(`readHead ${path}`);
      const file = this.#file(path);
      return { head: file.subarray(0, bytes), size: file.length };
    },
    listDir: async (path: string): Promise<string[]> => {
      this.calls.push(`list ${path}`);
      return [];
    },
    writeFile: async (path: string): Promise<void> => {
      this.calls.push(`write ${path}`);
    },
  } as unknown as SshConnection;

  readonly runtime: ClusterRuntime = {
    name: 'dev',
    workDir: '/work',
    environment: { SLURM_CONF: '/etc/slurm/slurm.conf' },
    commandTimeoutMs: 5_000,
  };

  get deps(): ActivityDeps {
    return {
      pool: { get: () => this.connection } as unknown as SshPool,
      cluster: () => this.runtime,
      watcher: () => {
        throw new Error('no watcher in this suite');
      },
    };
  }
}
