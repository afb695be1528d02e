/**
 * Bad input, one row per case (issue 7): temporal.yaml, the campaign file, the tilt-series
 * files a campaign reads on the cluster (MRC stack, .rawtlt), RELION STAR results, and
 * scheduler output. Every row goes through the real entry point (loadConfig, loadCampaign,
 * the campaign-file activities, the status query and watcher, the sbatch/submit/orphan/sinfo
 * readers) and asserts:
 *
 * - the error type (or, for scheduler output that must not end a job, that the job stays
 *   pending: never success);
 * - that the message names the source: `file:line field.path:` for YAML, the file (and line)
 *   for tilt-series and STAR files, the command and output line for scheduler output;
 * - that nothing was submitted or written: the row's folder is unchanged, and the stand-in
 *   cluster saw no write, no sbatch and no scancel.
 *
 * Nearby suites test each reader's details; this one is the inventory (RELIABILITY.md).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createCampaignFileActivities, type InspectTiltSeriesInput } from '../../src/activities/campaign-files.js';
import type { ActivityDeps, ClusterRuntime } from '../../src/activities/deps.js';
import { createStatusQuery } from '../../src/activities/status-query.js';
import { loadCampaign } from '../../src/campaign/load.js';
import { loadConfig } from '../../src/config.js';
import { CryoError, ErrorType, type ErrorTypeName } from '../../src/errors.js';
import { SlurmWatcher, type JobObservation } from '../../src/scheduler/watcher.js';
import { parseNodeHealth } from '../../src/slurm/node-exclusions.js';
import { parseOurJobs } from '../../src/slurm/orphans.js';
import { parseSbatchParsable } from '../../src/slurm/parse-sbatch.js';
import { parseSubmitOutput } from '../../src/slurm/submit-command.js';
import type { ExecResult, SshConnection } from '../../src/ssh/connection.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { MRC_HEADER_BYTES } from '../../src/tools/mrc.js';

// ---- the table's shape ------------------------------------------------------------------

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

interface Row {
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

const WORK = mkdtempSync(join(tmpdir(), 'cryoet-bad-input-'));
after(() => rmSync(WORK, { recursive: true, force: true }));

function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** 1-based line of the first line of `text` containing `fragment`. */
function lineOf(text: string, fragment: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(fragment));
  if (index < 0) throw new Error(`no line contains ${JSON.stringify(fragment)}`);
  return index + 1;
}

/** `text` with `from` replaced by `to`; throws when `from` is not there. */
function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`edit does not apply: ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/**
 * A message line `<file>:<line> <path>: <message>`: the file, the line holding
 * `lineFragment` (none when undefined) and the field path ('' for the whole file).
 */
function located(file: string, text: string, lineFragment: string | undefined, path: string, message: RegExp): RegExp {
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

async function settle(
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
async function unchanged(body: () => unknown): Promise<Outcome> {
  const before = snapshot(WORK);
  const result = await settle(body);
  const changed = snapshot(WORK).join('\n') === before.join('\n') ? [] : [`${WORK} changed`];
  return result.threw
    ? { kind: 'threw', error: result.error, sideEffects: changed }
    : { kind: 'returned', value: result.value, sideEffects: changed };
}

// ---- a stand-in cluster ----------------------------------------------------------------

/** Serves files and command output from memory; records every command and write. */
class FakeCluster {
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

// ---- temporal.yaml ---------------------------------------------------------------------

const CONFIG = readFileSync(new URL('../fixtures/config/minimal.yaml', import.meta.url), 'utf8');
let folders = 0;

/**
 * A config row: `text` is the whole file, loaded from a folder of its own that has the ssh
 * key files. `message` may depend on that folder.
 */
function config(
  name: string,
  text: string,
  path: string,
  lineFragment: string | undefined,
  message: RegExp | ((dir: string) => RegExp),
): Row {
  const dir = join(WORK, `config-${++folders}`);
  const file = join(dir, 'temporal.yaml');
  return {
    source: 'temporal.yaml',
    case: name,
    input: text,
    type: ErrorType.ConfigInvalid,
    message: located(file, text, lineFragment, path, typeof message === 'function' ? message(dir) : message),
    run: async () => {
      mkdirSync(join(dir, 'ssh'), { recursive: true });
      writeFileSync(join(dir, 'ssh', 'fake-key'), 'not a key\n');
      writeFileSync(join(dir, 'ssh', 'known_hosts'), '');
      writeFileSync(file, text);
      return unchanged(() => loadConfig(file));
    },
  };
}

const cfg = (from: string, to: string): string => edit(CONFIG, from, to);
const LADDER = '    - { partition: gpu, gres: "gpu:1" }\n';
const withGres = (gres: string): string => cfg('gres: "gpu:1"', `gres: ${JSON.stringify(gres)}`);
const SSH_LINE = 'ssh: { host: 127.0.0.1';
const MISSING_CONFIG = join(WORK, 'nowhere', 'temporal.yaml');

const configRows: Row[] = [
  // unknown or misspelt keys
  config(
    'unknown top-level key',
    `${CONFIG}workers: 3\n`,
    'workers',
    'workers: 3',
    new RegExp(
      'unknown key \\(expected one of temporal, clusters, placement, gpuPrices, tools, paths, polling, ' +
        'timeouts, metrics\\)$',
    ),
  ),
  config(
    'misspelt placement key',
    cfg('placement:\n', 'placement:\n  hangAftr: 10m\n'),
    'placement.hangAftr',
    'hangAftr',
    /unknown key \(.*\); did you mean "hangAfter"\?$/,
  ),
  config(
    'misspelt key, wrong case',
    `${CONFIG}polling: { Interval: 5s }\n`,
    'polling.Interval',
    'polling:',
    new RegExp(
      'unknown key \\(expected one of interval, maxInterval, resultMarkers, markerInterval, shareAcrossWorkers\\); ' +
        'did you mean "interval"\\?$',
    ),
  ),
  config(
    'unknown stage under placement.stages',
    cfg('placement:\n', 'placement:\n  stages: { align: { hangAfter: 5m } }\n'),
    'placement.stages.align',
    'stages:',
    /unknown key \(expected one of probe, reconstruct, extract, refine, postprocess\)$/,
  ),
  // wrong types
  config(
    'partitions as a string',
    cfg('partitions: [gpu]', 'partitions: gpu'),
    'clusters.dev.partitions',
    'partitions:',
    /expected a list, got string "gpu"$/,
  ),
  config(
    'boolean as a word',
    cfg('placement:\n', 'placement:\n  excludeFailedNodes: "yes"\n'),
    'placement.excludeFailedNodes',
    'excludeFailedNodes',
    /expected true or false$/,
  ),
  config(
    'fractional resubmit count',
    cfg('placement:\n', 'placement:\n  onTimeout: { resubmit: 1.5 }\n'),
    'placement.onTimeout.resubmit',
    'onTimeout',
    /expected a whole number$/,
  ),
  config(
    'ssh as a list',
    cfg('{ host: 127.0.0.1, user: root, keyFile: ssh/fake-key, knownHostsFile: ssh/known_hosts }', '[127.0.0.1]'),
    'clusters.dev.ssh',
    'ssh: [',
    /expected a mapping, got a list$/,
  ),
  // bad durations
  config(
    'negative duration',
    cfg('placement:\n', 'placement:\n  hangAfter: -5m\n'),
    'placement.hangAfter',
    'hangAfter',
    /expected a duration such as .*, got "-5m" \(durations cannot be negative\)$/,
  ),
  config(
    'fractional duration',
    `${CONFIG}polling: { interval: 1.5s }\n`,
    'polling.interval',
    'polling:',
    /got "1\.5s" \(use whole numbers: 1m30s, not 1\.5m\)$/,
  ),
  config(
    'zero duration',
    `${CONFIG}timeouts: { job: 0s }\n`,
    'timeouts.job',
    'timeouts:',
    /expected a positive duration, got "0s"$/,
  ),
  config(
    'units out of order',
    cfg('placement:\n', 'placement:\n  excludeFailedNodesFor: 1m1h\n'),
    'placement.excludeFailedNodesFor',
    'excludeFailedNodesFor',
    /got "1m1h"$/,
  ),
  config(
    'bare number for a timeout',
    cfg('knownHostsFile: ssh/known_hosts', 'knownHostsFile: ssh/known_hosts, connectTimeout: 30'),
    'clusters.dev.ssh.connectTimeout',
    SSH_LINE,
    /got 30 \(a bare number has no unit: write 30s or 30ms\)$/,
  ),
  config(
    'empty duration',
    `${CONFIG}timeouts: { workerShutdownGrace: "" }\n`,
    'timeouts.workerShutdownGrace',
    'timeouts:',
    /expected a duration such as .*, got an empty string$/,
  ),
  // key and known_hosts files
  config(
    'missing key file',
    cfg('keyFile: ssh/fake-key', 'keyFile: ssh/missing-key'),
    'clusters.dev.ssh.keyFile',
    SSH_LINE,
    (dir) =>
      new RegExp(
        `file not found: ${esc(join(dir, 'ssh', 'missing-key'))} ` +
          `\\(relative to ${esc(dir)}\\); the SSH private key for `,
      ),
  ),
  config(
    'missing known_hosts file',
    cfg('knownHostsFile: ssh/known_hosts', 'knownHostsFile: /nonexistent/known_hosts'),
    'clusters.dev.ssh.knownHostsFile',
    SSH_LINE,
    /file not found: \/nonexistent\/known_hosts; the cluster's host key, pinned: ssh-keyscan/,
  ),
  config(
    'key file path with a NUL',
    cfg('keyFile: ssh/fake-key', 'keyFile: "ssh/fake-key\\0"'),
    'clusters.dev.ssh.keyFile',
    SSH_LINE,
    /a path may not contain NUL or line breaks$/,
  ),
  // ladders and gres
  config(
    'empty ladder',
    cfg(`  ladder:\n${LADDER}`, '  ladder: []\n'),
    'placement.ladder',
    'ladder:',
    /expected at least one rung$/,
  ),
  config(
    'empty ladder of one step',
    cfg('placement:\n', 'placement:\n  stages:\n    refine: { ladder: [] }\n'),
    'placement.stages.refine.ladder',
    'refine:',
    /expected at least one rung$/,
  ),
  config(
    'ladder as a mapping',
    cfg(`  ladder:\n${LADDER}`, '  ladder: { partition: gpu, gres: "gpu:1" }\n'),
    'placement.ladder',
    'ladder:',
    /expected a list, got a mapping$/,
  ),
  config('gres without a count', withGres('gpu'), 'placement.ladder[0].gres', 'gres:', /expected "gpu\[:type\]:N"$/),
  config('gres in capitals', withGres('GPU:1'), 'placement.ladder[0].gres', 'gres:', /expected "gpu\[:type\]:N"$/),
  config(
    'gres count in words',
    withGres('gpu:a10g:four'),
    'placement.ladder[0].gres',
    'gres:',
    /expected "gpu\[:type\]:N"$/,
  ),
  config(
    'gres with shell text',
    withGres('gpu:1;rm -rf /'),
    'placement.ladder[0].gres',
    'gres:',
    /expected "gpu\[:type\]:N"$/,
  ),
  // prices
  config(
    'negative price',
    `${CONFIG}gpuPrices: { default: -0.5 }\n`,
    'gpuPrices.default',
    'gpuPrices:',
    /expected a price ≥ 0 \(\$ per GPU-hour\)$/,
  ),
  config(
    'infinite price',
    `${CONFIG}gpuPrices: { t4: .inf }\n`,
    'gpuPrices.t4',
    'gpuPrices:',
    /expected a number, got number Infinity$/,
  ),
  config(
    'price as text',
    `${CONFIG}gpuPrices: { t4: "0.30" }\n`,
    'gpuPrices.t4',
    'gpuPrices:',
    /expected a number, got string "0\.30"$/,
  ),
  // the file as a whole
  config('YAML syntax error', cfg('partitions: [gpu]', 'partitions: [gpu'), '', 'workDir', /.+/),
  config('duplicate key', `${CONFIG}paths: { data: d, work: /w }\n`, '', 'work: /w }', /Map keys must be unique$/),
  config(
    'empty file',
    '# nothing\n',
    '',
    undefined,
    /the file is empty: expected a mapping with clusters, placement and paths$/,
  ),
  config(
    'non-loopback metrics address',
    `${CONFIG}metrics: { prometheus: "0.0.0.0:9464" }\n`,
    'metrics.prometheus',
    'metrics:',
    /expected a loopback host:port such as 127\.0\.0\.1:9464/,
  ),
  {
    source: 'temporal.yaml',
    case: 'config file missing',
    input: MISSING_CONFIG,
    type: ErrorType.ConfigInvalid,
    message: new RegExp(
      `^${esc(MISSING_CONFIG)}: cannot read config ` +
        `\\(file not found: ${esc(MISSING_CONFIG)}\\); set CRYOET_CONFIG or pass the path$`,
    ),
    run: () => unchanged(() => loadConfig(MISSING_CONFIG)),
  },
];

// ---- the campaign file -----------------------------------------------------------------

const CAMPAIGN = readFileSync(new URL('../../campaigns/embedded-10164.yaml', import.meta.url), 'utf8');
const TS01 =
  '{ name: TS_01, stack: TS_01.mrc, angles: TS_01.rawtlt, pixelSize: 10, dosePerTilt: 3, picks: TS_01_picks.star }';
const NAME_HINT = /expected a letter or digit, then letters, digits, '_' or '-' \(at most 63 characters\)$/;
const DOTDOT = /'\.\.' is not allowed: name the file under dataDir or give an absolute path$/;
const SYMMETRY_HINT = /expected a RELION symmetry such as C1, C6, D2, T, O or I$/;

/** A campaign row: `text` is the whole file, in a folder of its own with the tilt-series files beside it. */
function campaign(name: string, text: string, path: string, lineFragment: string | undefined, message: RegExp): Row {
  const dir = join(WORK, `campaign-${++folders}`);
  const file = join(dir, 'campaign.yaml');
  return {
    source: 'campaign file',
    case: name,
    input: text,
    type: ErrorType.InputInvalid,
    message: located(file, text, lineFragment, path, message),
    run: async () => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, text);
      writeFileSync(join(dir, 'TS_01.mrc'), Buffer.alloc(16));
      writeFileSync(join(dir, 'TS_01.rawtlt'), '0\n');
      return unchanged(() => loadCampaign(file, 'embedded'));
    },
  };
}

const ts01 = (fields: string): string => edit(CAMPAIGN, TS01, fields);
const named = (name: string): string => ts01(TS01.replace('name: TS_01', `name: ${JSON.stringify(name)}`));
const MISSING_CAMPAIGN = join(WORK, 'nowhere', 'campaign.yaml');

const campaignRows: Row[] = [
  // tilt-series names that would reach a shell or a path
  campaign('name with ; and a command', named('TS_01;rm -rf ~'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with $( )', named('$(reboot)'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with backticks', named('`id`'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with ../', named('../TS_01'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with a line break', named('TS_01\nsbatch x'), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign('name with a quote', named("TS_01'"), 'tiltSeries[0].name', 'TS_01.mrc', NAME_HINT),
  campaign(
    'campaign name with &&',
    edit(CAMPAIGN, 'name: embedded-10164', 'name: "demo&&id"'),
    'name',
    'name: "demo',
    NAME_HINT,
  ),
  // paths
  campaign(
    'angles path climbing out with ../',
    ts01(TS01.replace('angles: TS_01.rawtlt', 'angles: ../../etc/passwd')),
    'tiltSeries[0].angles',
    'etc/passwd',
    DOTDOT,
  ),
  campaign(
    'picks path with ../ in the middle',
    ts01(TS01.replace('picks: TS_01_picks.star', 'picks: sub/../../x.star')),
    'tiltSeries[0].picks',
    'x.star',
    DOTDOT,
  ),
  campaign(
    'dataDir with ../',
    edit(CAMPAIGN, 'dataDir: synthetic-10164', 'dataDir: ../other'),
    'dataDir',
    'dataDir:',
    DOTDOT,
  ),
  campaign(
    'reference path with a NUL',
    edit(CAMPAIGN, 'reference: reference.mrc', 'reference: "reference.mrc\\0"'),
    'reference',
    'reference:',
    /a path may not contain NUL or line breaks$/,
  ),
  // duplicates
  campaign(
    'duplicate tilt series names',
    edit(CAMPAIGN, 'name: TS_43', 'name: TS_01'),
    'tiltSeries[2].name',
    'TS_43.mrc',
    /duplicate tilt series "TS_01" \(also tiltSeries\[0\]\)$/,
  ),
  // pixel size and dose
  campaign(
    'pixel size 0',
    ts01(TS01.replace('pixelSize: 10', 'pixelSize: 0')),
    'tiltSeries[0].pixelSize',
    'TS_01.mrc',
    /expected pixel size in Å > 0$/,
  ),
  campaign(
    'pixel size negative',
    ts01(TS01.replace('pixelSize: 10', 'pixelSize: -10')),
    'tiltSeries[0].pixelSize',
    'TS_01.mrc',
    /expected pixel size in Å > 0$/,
  ),
  campaign(
    'pixel size not a number',
    ts01(TS01.replace('pixelSize: 10', 'pixelSize: .nan')),
    'tiltSeries[0].pixelSize',
    'TS_01.mrc',
    /expected a number \(pixel size in Å\)$/,
  ),
  campaign(
    'pixel size with a unit',
    ts01(TS01.replace('pixelSize: 10', 'pixelSize: 10 A')),
    'tiltSeries[0].pixelSize',
    'TS_01.mrc',
    /expected a number \(pixel size in Å\)$/,
  ),
  campaign(
    'negative dose',
    ts01(TS01.replace('dosePerTilt: 3', 'dosePerTilt: -3')),
    'tiltSeries[0].dosePerTilt',
    'TS_01.mrc',
    /expected dose per tilt in e\/Å² > 0$/,
  ),
  // symmetry
  campaign(
    'symmetry in lower case',
    edit(CAMPAIGN, 'symmetry: C6', 'symmetry: c6'),
    'refine.symmetry',
    'symmetry:',
    SYMMETRY_HINT,
  ),
  campaign(
    'symmetry order 0',
    edit(CAMPAIGN, 'symmetry: C6', 'symmetry: D0'),
    'refine.symmetry',
    'symmetry:',
    SYMMETRY_HINT,
  ),
  campaign(
    'symmetry with shell text',
    edit(CAMPAIGN, 'symmetry: C6', 'symmetry: "C6; rm -rf /"'),
    'refine.symmetry',
    'symmetry:',
    SYMMETRY_HINT,
  ),
  campaign(
    'symmetry as a number',
    edit(CAMPAIGN, 'symmetry: C6', 'symmetry: 6'),
    'refine.symmetry',
    'symmetry:',
    /expected a string, got number 6$/,
  ),
  {
    source: 'campaign file',
    case: 'campaign file missing',
    input: MISSING_CAMPAIGN,
    type: ErrorType.InputInvalid,
    message: new RegExp(`^${esc(MISSING_CAMPAIGN)}: cannot read campaign file \\(ENOENT`),
    run: () => unchanged(() => loadCampaign(MISSING_CAMPAIGN, 'embedded')),
  },
];

// ---- tilt-series files on the cluster (inspectTiltSeries, before any job) ---------------

interface HeaderFields {
  nx?: number;
  ny?: number;
  nz?: number;
  mode?: number;
  nsymbt?: number;
  map?: string;
}

/** An MRC2014 file of float32 voxels: header, then all the data unless `bytes` cuts it. */
function mrc(f: HeaderFields = {}, bytes?: number): Buffer {
  const { nx = 8, ny = 8, nz = 41, mode = 2, nsymbt = 0, map = 'MAP ' } = f;
  const head = Buffer.alloc(MRC_HEADER_BYTES);
  [nx, ny, nz, mode].forEach((v, i) => head.writeInt32LE(v, i * 4));
  head.writeInt32LE(nx, 28);
  head.writeFloatLE(nx * 10, 40);
  head.writeInt32LE(nsymbt, 92);
  head.write(map, 208, 'latin1');
  head.set([0x44, 0x44, 0, 0], 212);
  const whole = Buffer.concat([head, Buffer.alloc(Math.max(0, nsymbt) + Math.max(0, nx * ny * nz * 4))]);
  return bytes === undefined ? whole : whole.subarray(0, bytes);
}

const STACK = '/data/c1/TS_01.mrc';
const ANGLES = '/data/c1/TS_01.rawtlt';
const RAWTLT_41 = Array.from({ length: 41 }, (_, i) => `${-60 + 3 * i}`).join('\n') + '\n';
const RAWTLT_40 = RAWTLT_41.split('\n').slice(0, 40).join('\n') + '\n';

function tiltSeries(
  name: string,
  input: string,
  files: Record<string, string | Buffer>,
  message: RegExp,
  override: Partial<InspectTiltSeriesInput> = {},
): Row {
  return {
    source: 'tilt-series files',
    case: name,
    input,
    type: ErrorType.InputInvalid,
    message,
    run: async () => {
      const cluster = new FakeCluster(files);
      const activities = createCampaignFileActivities(cluster.deps);
      const result = await settle(() =>
        activities.inspectTiltSeries({
          cluster: 'dev',
          name: 'TS_01',
          stack: STACK,
          angles: ANGLES,
          pixelSize: 10,
          ...override,
        }),
      );
      return result.threw
        ? { kind: 'threw', error: result.error, sideEffects: cluster.sideEffects }
        : { kind: 'returned', value: result.value, sideEffects: cluster.sideEffects };
    },
  };
}

const tiltSeriesRows: Row[] = [
  tiltSeries(
    'stack missing',
    'no TS_01.mrc',
    { [ANGLES]: RAWTLT_41 },
    new RegExp(`^TS_01: tilt stack ${esc(STACK)}: file not found on cluster "dev"$`),
  ),
  tiltSeries(
    'angle file missing',
    'no TS_01.rawtlt',
    { [STACK]: mrc() },
    new RegExp(`^TS_01: tilt angles ${esc(ANGLES)}: file not found on cluster "dev"$`),
  ),
  tiltSeries(
    'corrupt MRC header (no MAP stamp)',
    "bytes 208-211 'XXXX'",
    { [STACK]: mrc({ map: 'XXXX' }), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: not an MRC file: no 'MAP ' at byte 208$`),
  ),
  tiltSeries(
    'MRC header cut short',
    '100 bytes',
    { [STACK]: mrc({}, 100), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: MRC header truncated: 100 of 1024 bytes$`),
  ),
  tiltSeries(
    'MRC data cut short',
    'header + half the data',
    { [STACK]: mrc({}, 1024 + 8 * 8 * 20 * 4), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: data truncated: file is 6144 bytes, header promises 11520$`),
  ),
  tiltSeries(
    'MRC mode unknown',
    'mode 5',
    { [STACK]: mrc({ mode: 5 }), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: unsupported MRC mode 5; supported: `),
  ),
  tiltSeries(
    'MRC with zero sections',
    'nz 0',
    { [STACK]: mrc({ nz: 0 }), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: bad dimensions 8x8x0: each must be at least 1$`),
  ),
  tiltSeries(
    'MRC extended header size negative',
    'nsymbt -4',
    { [STACK]: mrc({ nsymbt: -4 }), [ANGLES]: RAWTLT_41 },
    new RegExp(`^${esc(STACK)}: bad extended header size nsymbt=-4$`),
  ),
  tiltSeries(
    'stack/angle count mismatch',
    '41 sections, 40 angles',
    { [STACK]: mrc(), [ANGLES]: RAWTLT_40 },
    /^TS_01\.mrc has 41 tilt images but TS_01\.rawtlt has 40 angles$/,
  ),
  tiltSeries(
    'angle file with a word',
    'line 3 "abc"',
    { [STACK]: mrc(), [ANGLES]: '-60\n-57\nabc\n' },
    new RegExp(`^${esc(ANGLES)}:3: tilt angle "abc" is not a number$`),
  ),
  tiltSeries(
    'angle outside ±90°',
    'line 2 "95"',
    { [STACK]: mrc(), [ANGLES]: '0\n95\n' },
    new RegExp(`^${esc(ANGLES)}:2: tilt angle 95 is outside \\[-90, 90\\] degrees$`),
  ),
  tiltSeries(
    'angle file empty',
    "''",
    { [STACK]: mrc(), [ANGLES]: '\n\n' },
    new RegExp(`^${esc(ANGLES)}: no tilt angles$`),
  ),
  tiltSeries(
    'pixel size 0 reaching the check',
    'pixelSize 0',
    { [STACK]: mrc(), [ANGLES]: RAWTLT_41 },
    /^TS_01: pixelSize 0: expected a pixel size > 0 Å$/,
    { pixelSize: 0 },
  ),
];

// ---- RELION STAR files -----------------------------------------------------------------

const POSTPROCESS_PATH = '/work/c1/PostProcess/postprocess.star';
const PARTICLES_PATH = '/work/c1/Extract/particles.star';
const POSTPROCESS = [
  'data_general',
  '',
  '_rlnFinalResolution   29.09',
  '_rlnBfactorUsedForSharpening  -952.3',
  '',
  'data_fsc',
  '',
  'loop_',
  '_rlnSpectralIndex #1',
  '_rlnAngstromResolution #2',
  '_rlnFourierShellCorrelationCorrected #3',
  '0 999.0 1.0',
  '1 320.0 0.9998',
  '2 160.0 0.95',
  '',
].join('\n');
const PARTICLES = [
  'data_particles',
  '',
  'loop_',
  '_rlnTomoName #1',
  '_rlnCoordinateX #2',
  '_rlnCoordinateY #3',
  '_rlnCoordinateZ #4',
  'TS_01 10 20 30',
  'TS_01 11 21 31',
  '',
].join('\n');

function star(name: string, path: string, text: string | undefined, type: ErrorTypeName, message: RegExp): Row {
  return {
    source: 'STAR',
    case: name,
    input: text ?? '(no file)',
    type,
    message,
    run: async () => {
      const cluster = new FakeCluster(text === undefined ? {} : { [path]: text });
      const activities = createCampaignFileActivities(cluster.deps);
      const result = await settle(() =>
        path === POSTPROCESS_PATH
          ? activities.readPostprocess({ cluster: 'dev', path })
          : activities.countParticles({ cluster: 'dev', path }),
      );
      return result.threw
        ? { kind: 'threw', error: result.error, sideEffects: cluster.sideEffects }
        : { kind: 'returned', value: result.value, sideEffects: cluster.sideEffects };
    },
  };
}

const cutAt = (text: string, fragment: string): string => text.slice(0, text.indexOf(fragment) + fragment.length);
const PP = esc(POSTPROCESS_PATH);

const starRows: Row[] = [
  star(
    'postprocess cut in the middle of a row',
    POSTPROCESS_PATH,
    cutAt(POSTPROCESS, '2 160.0'),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:14: row has 2 values but the loop has 3 columns$`),
  ),
  star(
    'postprocess cut after loop_',
    POSTPROCESS_PATH,
    cutAt(POSTPROCESS, 'loop_'),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:8: loop_ in data_fsc has no columns$`),
  ),
  star(
    'postprocess cut before data_fsc',
    POSTPROCESS_PATH,
    cutAt(POSTPROCESS, '-952.3'),
    ErrorType.InputInvalid,
    new RegExp(`^${PP} has no data_fsc block \\(blocks: data_general\\)$`),
  ),
  star(
    'postprocess missing the corrected FSC column',
    POSTPROCESS_PATH,
    POSTPROCESS.replace('_rlnFourierShellCorrelationCorrected #3', '_rlnFourierShellCorrelation #3'),
    ErrorType.InputInvalid,
    new RegExp(
      `^${PP}: data_fsc has no column _rlnFourierShellCorrelationCorrected ` +
        '\\(columns: _rlnSpectralIndex, _rlnAngstromResolution, _rlnFourierShellCorrelation\\)$',
    ),
  ),
  star(
    'postprocess missing the final resolution',
    POSTPROCESS_PATH,
    POSTPROCESS.replace('_rlnFinalResolution   29.09\n', ''),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}: data_general has no _rlnFinalResolution \\(keys: _rlnBfactorUsedForSharpening\\)$`),
  ),
  star(
    'postprocess with a word in a number column',
    POSTPROCESS_PATH,
    POSTPROCESS.replace('1 320.0 0.9998', '1 nan 0.9998'),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:13: data_fsc _rlnAngstromResolution row 2 is "nan", not a finite number$`),
  ),
  star(
    'postprocess with an unterminated quote',
    POSTPROCESS_PATH,
    POSTPROCESS.replace('_rlnFinalResolution   29.09', "_rlnFinalResolution   '29.09"),
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:3: unterminated ' quote$`),
  ),
  star(
    'postprocess with text before any data_ block',
    POSTPROCESS_PATH,
    `relion_postprocess: error\n${POSTPROCESS}`,
    ErrorType.InputInvalid,
    new RegExp(`^${PP}:1: expected a data_ block before "relion_postprocess: error"$`),
  ),
  star(
    'postprocess file missing',
    POSTPROCESS_PATH,
    undefined,
    ErrorType.InputInvalid,
    new RegExp(`^postprocess result ${PP}: file not found on cluster "dev"$`),
  ),
  star(
    'particles cut in the middle of a row',
    PARTICLES_PATH,
    cutAt(PARTICLES, 'TS_01 11 21'),
    ErrorType.InputInvalid,
    new RegExp(`^${esc(PARTICLES_PATH)}:9: row has 3 values but the loop has 4 columns$`),
  ),
  star(
    'particles cut after the header: no rows',
    PARTICLES_PATH,
    cutAt(PARTICLES, '_rlnCoordinateZ #4\n'),
    ErrorType.ToolFailed,
    new RegExp(`^${esc(PARTICLES_PATH)}: extraction wrote no particles`),
  ),
];

// ---- scheduler output ------------------------------------------------------------------

const ROW_OK = '101|cryoet.w.c1.TS_01-1|RUNNING|None|n1|2026-11-25T10:08:18|2026-11-25T10:08:17';

/** The status query (squeue, then sacct for the ids squeue dropped) over canned output. */
function statusQuery(name: string, jobIds: string[], squeue: string, sacct: string, message: RegExp): Row {
  return {
    source: 'scheduler output',
    case: name,
    input: `squeue:\n${squeue}\nsacct:\n${sacct}`,
    type: ErrorType.StatusQueryFailed,
    message,
    run: async () => {
      const cluster = new FakeCluster({}, [
        [/\bsqueue\b/, squeue],
        [/\bsacct\b/, sacct],
      ]);
      const result = await settle(() => createStatusQuery(() => cluster.connection, cluster.runtime)(jobIds));
      return result.threw
        ? { kind: 'threw', error: result.error, sideEffects: cluster.sideEffects }
        : { kind: 'returned', value: result.value, sideEffects: cluster.sideEffects };
    },
  };
}

/** The watcher over the real status query and canned output: what becomes of job 501. */
function watched(name: string, squeue: string, sacct: string, message: RegExp): Row {
  return {
    source: 'scheduler output',
    case: name,
    input: `squeue:\n${squeue}\nsacct:\n${sacct}`,
    type: 'pending',
    message,
    run: async () => {
      const cluster = new FakeCluster({}, [
        [/\bsqueue\b/, squeue],
        [/\bsacct\b/, sacct],
      ]);
      const logs: string[] = [];
      const watcher = new SlurmWatcher({
        query: createStatusQuery(() => cluster.connection, cluster.runtime),
        minIntervalMs: 5,
        maxIntervalMs: 10,
        maxCallsPerMinute: 60_000,
        log: (line) => logs.push(line),
      });
      try {
        watcher.register('501');
        const deadline = Date.now() + 2_000;
        while (cluster.calls.filter((c) => /\bsqueue\b/.test(c)).length < 3 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 5));
        return { kind: 'watched', observation: watcher.current('501')!, logs, sideEffects: cluster.sideEffects };
      } finally {
        watcher.close();
      }
    },
  };
}

/** A pure reader of scheduler or submit output. */
function reader(
  name: string,
  input: string,
  read: (stdout: string) => unknown,
  type: ErrorTypeName,
  message: RegExp,
): Row {
  return { source: 'scheduler output', case: name, input, type, message, run: () => unchanged(() => read(input)) };
}

const schedulerRows: Row[] = [
  statusQuery(
    'squeue line truncated (6 of 7 fields)',
    ['101', '102'],
    `${ROW_OK}\n102|cryoet.w.c1.TS_03-1|RUNNING|None|n1|2026-11-25T10:08:18\n`,
    '',
    /^squeue output line 2 unreadable \(6 fields, expected 7\): "102\|/,
  ),
  statusQuery(
    'squeue line cut after the job id',
    ['101', '102'],
    `${ROW_OK}\n102\n`,
    '',
    /^squeue output line 2 unreadable \(1 fields, expected 7\): "102"$/,
  ),
  statusQuery(
    'squeue line that is not a job',
    ['101'],
    'Last login: Tue|from|10.0.0.1|x|y|z|w\n',
    '',
    /^squeue output line 1 unreadable \(job id "Last login: Tue"\)/,
  ),
  statusQuery(
    'squeue line with an empty state',
    ['101'],
    '101|cryoet.w.c1.TS_01-1||None|n1|N/A|N/A\n',
    '',
    /^squeue output line 1 unreadable \(empty state\)/,
  ),
  statusQuery(
    'sacct line truncated (3 of 5 fields)',
    ['101'],
    '',
    '101|cryoet.w.c1.TS_01-1|COMPL\n',
    new RegExp(
      '^sacct output line 1 unreadable \\(3 fields, expected 5; expected JobIDRaw,JobName,State,Reason,NodeList\\): ' +
        '"101\\|cryoet\\.w\\.c1\\.TS_01-1\\|COMPL"$',
    ),
  ),
  statusQuery(
    'sacct header line not suppressed',
    ['101'],
    '',
    'JobIDRaw|JobName|State|Reason|NodeList\n101|x|COMPLETED|None|n1\n',
    /^sacct output line 1 unreadable \(job id "JobIDRaw"/,
  ),
  statusQuery(
    'sacct line with an empty state',
    ['101'],
    '',
    '101|cryoet.w.c1.TS_01-1||None|n1\n',
    /^sacct output line 1 unreadable \(empty state/,
  ),
  watched(
    'unknown state from squeue',
    '501|cryoet.w.s-1|WEIRD|None|n1|N/A|N/A\n',
    '',
    /^job 501: unknown Slurm state "WEIRD", treating it as pending$/m,
  ),
  watched(
    'unknown state from sacct',
    '',
    '501|cryoet.w.s-1|SHRUNK|None|n1\n',
    /^job 501: unknown Slurm state "SHRUNK", treating it as pending$/m,
  ),
  watched('empty output from squeue and sacct', '', '', /^job 501: SUBMITTED \(pending\)$/m),
  reader(
    'sbatch --parsable printed nothing',
    '',
    parseSbatchParsable,
    ErrorType.SubmitOutputUnreadable,
    /^sbatch --parsable printed no job id: .*, got ""$/,
  ),
  reader(
    'sbatch printed its chatty form',
    'Submitted batch job 12\n',
    parseSbatchParsable,
    ErrorType.SubmitOutputUnreadable,
    /^sbatch --parsable printed no job id: .*, got "Submitted batch job 12\\n"$/,
  ),
  reader(
    'submit command cut after "submitted:"',
    'submitted:',
    parseSubmitOutput,
    ErrorType.SubmitOutputUnreadable,
    /^sbatch --parsable printed no job id: .*, got ""$/,
  ),
  reader(
    'submit command cut after "existing:"',
    'existing:',
    parseSubmitOutput,
    ErrorType.SubmitOutputUnreadable,
    /^submit command printed "existing:", expected "existing:<id>" or "submitted:<id>"$/,
  ),
  reader(
    'orphan listing line truncated (4 of 5 fields)',
    '7|RUNNING|N/A|n1|cryoet.w.s-1\n8|PENDING|N/A|\n',
    parseOurJobs,
    ErrorType.StatusQueryFailed,
    /^squeue output line 2 unreadable \(4 fields, expected 5; expected %i\|%T\|%V\|%N\|%j\): "8\|PENDING\|N\/A\|"$/,
  ),
  reader(
    'orphan listing line with an empty state',
    '7||N/A|n1|cryoet.w.s-1\n',
    parseOurJobs,
    ErrorType.StatusQueryFailed,
    /^squeue output line 1 unreadable \(empty state; /,
  ),
  reader(
    'sinfo line without a state',
    'n1\n',
    parseNodeHealth,
    ErrorType.StatusQueryFailed,
    /^sinfo line "n1": expected "node\|state\|reason"$/,
  ),
  reader(
    'sinfo line cut after the node',
    'n2|idle|none\nn1|\n',
    parseNodeHealth,
    ErrorType.StatusQueryFailed,
    /^sinfo line "n1\|": expected "node\|state\|reason"$/,
  ),
];

// ---- the suite ---------------------------------------------------------------------------

const ROWS: readonly Row[] = [...configRows, ...campaignRows, ...tiltSeriesRows, ...starRows, ...schedulerRows];

/** The type and message of a thrown error: our CryoError, or the ApplicationFailure an activity made of one. */
function typeAndMessage(error: unknown): { type: string | undefined; message: string; nonRetryable?: boolean } {
  if (error instanceof CryoError) return { type: error.type, message: error.message, nonRetryable: error.nonRetryable };
  if (error instanceof ApplicationFailure)
    return { type: error.type ?? undefined, message: error.message, nonRetryable: error.nonRetryable === true };
  return { type: undefined, message: String(error) };
}

describe('bad input: every case is a clear error naming its source, and nothing is submitted or written', () => {
  it('the inventory has at least 40 cases, each source covered, no case twice', () => {
    assert.ok(ROWS.length >= 40, `${ROWS.length} cases`);
    const sources = new Set(ROWS.map((r) => r.source));
    assert.deepEqual([...sources].sort(), [
      'STAR',
      'campaign file',
      'scheduler output',
      'temporal.yaml',
      'tilt-series files',
    ]);
    const names = ROWS.map((r) => `${r.source}: ${r.case}`);
    assert.equal(new Set(names).size, names.length, 'duplicate case names');
  });

  for (const row of ROWS) {
    it(`${row.source}: ${row.case}`, async () => {
      const outcome = await row.run();
      const shown = `input: ${JSON.stringify(row.input.length > 300 ? `${row.input.slice(0, 300)}...` : row.input)}`;
      assert.deepEqual(outcome.sideEffects, [], `side effects (${shown})`);
      if (row.type === 'pending') {
        assert.equal(outcome.kind, 'watched');
        if (outcome.kind !== 'watched') return;
        const { observation, logs } = outcome;
        assert.equal(observation.move, 'pending', `never success: ${JSON.stringify(observation)}`);
        assert.equal(observation.final, false);
        const text = [`job ${observation.jobId}: ${observation.state} (${observation.move})`, ...logs].join('\n');
        assert.match(text, row.message, shown);
        return;
      }
      assert.equal(
        outcome.kind,
        'threw',
        `expected ${row.type}, got ${JSON.stringify(outcome.kind === 'returned' ? outcome.value : outcome)} (${shown})`,
      );
      if (outcome.kind !== 'threw') return;
      const { type, message, nonRetryable } = typeAndMessage(outcome.error);
      assert.equal(type, row.type, `${String(outcome.error)} (${shown})`);
      assert.match(message, row.message, shown);
      // Bad input is never retried; scheduler output is (the next poll may read better).
      const retryable = row.type === ErrorType.StatusQueryFailed || row.type === ErrorType.SubmitOutputUnreadable;
      assert.equal(nonRetryable, !retryable, `nonRetryable for ${row.type}`);
    });
  }
});
