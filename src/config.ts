/**
 * temporal.yaml: the one zod schema for the file, and a loader that reports every problem
 * at once, each with its path and line:
 *
 *     temporal.yaml:12 placement.ladder[1].gres: expected "gpu[:type]:N"
 *
 * Checks that span sections (a rung's cluster and partition exist, each pinned GPU type
 * has a price) and local files (SSH key, known_hosts, TLS) run in the same pass as the
 * schema, so a user fixes the whole file in one edit. Environment variables are read here
 * and nowhere deeper (CRYOET_CONFIG).
 */
import { readFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { CryoError, ErrorType } from './errors.js';
import { MAX_NAME_LENGTH, SAFE_NAME } from './slurm/names.js';
import { durationSchema, formatDuration } from './duration.js';

// ---- building blocks -------------------------------------------------------------------

const SAFE_NAME_HINT = "expected letters, digits, '.', '_' or '-'";
const safeName = z.string().max(MAX_NAME_LENGTH, `at most ${MAX_NAME_LENGTH} characters`).regex(SAFE_NAME, SAFE_NAME_HINT);

/** `gpu:N` or `gpu:<type>:N`, as `--gres` takes it. */
export const GRES_PATTERN = /^gpu(:[A-Za-z0-9_-]+)?:[1-9][0-9]*$/;

const port = z.number().int('expected a whole number').min(1, 'expected a port 1..65535').max(65535, 'expected a port 1..65535');

/** A file on this machine; relative paths are resolved against the config file's folder. */
const localFile = z.string().min(1, 'expected a file path');

/**
 * A path on the cluster. Absolute in real deployments; a relative path is resolved against
 * the config file's folder, which only makes sense for the embedded single-host cluster.
 */
const remotePath = z
  .string()
  .min(1, 'expected a remote path such as /scratch/cryoet')
  .refine((p) => !/[\0\n\r]/.test(p), 'a path may not contain NUL or line breaks')
  .refine((p) => !p.startsWith('~'), 'write the absolute path: "~" is not expanded');

/** `host:port` or `[v6]:port`, port 1..65535. */
function isHostPort(address: string): boolean {
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(address);
  return match !== null && Number(match[1]) >= 1 && Number(match[1]) <= 65535;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

// ---- schema ----------------------------------------------------------------------------

/** mTLS to the Temporal frontend (self-hosted with mTLS, or Temporal Cloud). */
export const tlsSchema = z
  .object({
    clientCertFile: localFile,
    clientKeyFile: localFile,
    serverCaFile: localFile.optional(),
    /** Overrides the name checked against the server certificate (SNI). */
    serverName: z.string().min(1).optional(),
  })
  .strict();

/** Where the Temporal server is and how workers and clients reach it. */
export const temporalSchema = z
  .object({
    /**
     * Frontend `host:port`. Unset: the env-config profile's, else 127.0.0.1:7233 (resolved
     * in connection.ts, so a profile's address is not hidden behind a default).
     */
    address: z.string().refine(isHostPort, 'expected "host:port" with a port 1..65535, e.g. 127.0.0.1:7233').optional(),
    /** Namespace. Unset: the profile's, else `default`. */
    namespace: z.string().min(1).optional(),
    taskQueue: z.string().min(1).default('cryoet'),
    /** The Temporal UI address printed for operators (links to campaigns). */
    ui: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://127.0.0.1:8233' }).default('http://127.0.0.1:8233'),
    tls: tlsSchema.optional(),
    /** A Temporal env-config profile name (`[profile.<name>]` in the TOML file). */
    profile: z.string().min(1).optional(),
    /** Path of the Temporal env-config TOML file, when not the default location. */
    configFile: localFile.optional(),
  })
  .strict();

/** How to reach a cluster's login node. */
export const sshSchema = z
  .object({
    host: z.string().min(1, 'expected a host name or address'),
    port: port.default(22),
    user: z.string().min(1, 'expected a user name'),
    /** Private key for the login (local file). */
    keyFile: localFile,
    /** known_hosts listing the login node's host key (local file); no key is ever accepted blindly. */
    knownHostsFile: localFile,
    connectTimeout: durationSchema.prefault('10s'),
    commandTimeout: durationSchema.prefault('60s'),
  })
  .strict();

/** One Slurm cluster, reached over SSH. */
export const clusterSchema = z
  .object({
    ssh: sshSchema,
    /** Exported before every remote command, e.g. `SLURM_CONF`. */
    environment: z
      .record(
        z.string().regex(ENV_NAME, 'expected an environment variable name such as SLURM_CONF'),
        z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string value' }).transform(String),
      )
      .default({}),
    /** Partitions jobs may be submitted to; ladder rungs must name one of them. */
    partitions: z.array(safeName).min(1, 'expected at least one partition'),
    /** Remote folder that job scripts, logs and result markers live under. */
    workDir: remotePath,
    /** Ceiling on squeue/sacct calls per minute, for all of this worker's jobs together. */
    maxStatusCallsPerMinute: z.number().int('expected a whole number').positive('expected a positive number').default(30),
  })
  .strict();

/** One step of the placement ladder: where to try a job next when the previous step hangs. */
export const rungSchema = z
  .object({
    /** A key of `clusters`; defaults to the first cluster in the file. */
    cluster: safeName.optional(),
    partition: safeName,
    /** `gpu:a10g:4` pins a GPU type; `gpu:4` takes any type. */
    gres: z.string().regex(GRES_PATTERN, 'expected "gpu[:type]:N"'),
    /** Multiplies the job's time limit on this rung (fewer or slower GPUs run longer). */
    timeScale: z.number().positive('expected a positive number').default(1),
  })
  .strict();

/** The placement ladder and when to step down it. */
export const placementSchema = z
  .object({
    /** Pending this long for a capacity reason → cancel and try the next rung. */
    hangAfter: durationSchema.prefault('10m'),
    ladder: z.array(rungSchema).min(1, 'expected at least one rung'),
  })
  .strict();

/** $ per GPU-hour by GPU type (as in gres); `default` prices GPUs of unknown type. */
export const gpuPricesSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected a GPU type as in gres, or "default"'),
  z.number().nonnegative('expected a price ≥ 0 ($ per GPU-hour)').finite(),
);

/** Tool locations on the cluster; absent ones are looked up on the remote PATH. */
export const toolsSchema = z
  .object({ aretomo2: z.string().min(1).optional(), relionBinDir: z.string().min(1).optional(), python: z.string().min(1).optional() })
  .strict();

/** Campaign data on the cluster: where tilt series live and the campaign work root. */
export const pathsSchema = z.object({ data: remotePath, work: remotePath }).strict();

/** Scheduler polling: short after a submission, backing off to `maxInterval`. */
export const pollingSchema = z
  .object({ interval: durationSchema.prefault('5s'), maxInterval: durationSchema.prefault('60s') })
  .strict()
  .superRefine((p, ctx) => {
    if (p.maxInterval < p.interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxInterval'],
        message: `expected at least polling.interval (${formatDuration(p.interval)}), got ${formatDuration(p.maxInterval)}`,
      });
    }
  });

/** Activity timeouts: one sbatch call, and a whole cluster job. */
export const timeoutsSchema = z
  .object({
    submit: durationSchema.prefault('2m'),
    job: durationSchema.prefault('48h'),
    /** How long a stopping worker lets in-flight activities finish before cancelling them. */
    workerShutdownGrace: durationSchema.prefault('30s'),
  })
  .strict();

/** The whole of temporal.yaml. Rungs without `cluster` get the first cluster's name. */
export const configSchema = z
  .object({
    temporal: temporalSchema.prefault({}),
    clusters: z
      .record(safeName, clusterSchema)
      .refine((clusters) => Object.keys(clusters).length > 0, 'expected at least one cluster'),
    placement: placementSchema,
    gpuPrices: gpuPricesSchema.default({}),
    tools: toolsSchema.default({}),
    paths: pathsSchema,
    polling: pollingSchema.prefault({}),
    timeouts: timeoutsSchema.prefault({}),
  })
  .strict()
  .transform((config) => {
    // JS objects put integer-like keys first; a cluster named only with digits would
    // therefore count as "first" even when it is not first in the file.
    const firstCluster = Object.keys(config.clusters)[0]!;
    const ladder = config.placement.ladder.map((rung) => ({ ...rung, cluster: rung.cluster ?? firstCluster }));
    return { ...config, placement: { ...config.placement, ladder } };
  });

/** A loaded temporal.yaml: defaults filled in, durations in ms, local and relative paths absolute. */
export type CryoConfig = z.output<typeof configSchema>;
/** temporal.yaml as written (before defaults). */
export type CryoConfigInput = z.input<typeof configSchema>;
/** One cluster entry of {@link CryoConfig}. */
export type ClusterConfig = CryoConfig['clusters'][string];
/** One rung of the placement ladder, with its cluster filled in. */
export type PlacementRung = CryoConfig['placement']['ladder'][number];

/** The GPU type and count of a `--gres` value: `gpu:a10g:4` → `{ type: 'a10g', count: 4 }`. */
export function parseGres(gres: string): { type?: string; count: number } {
  const parts = gres.split(':');
  const count = Number(parts[parts.length - 1]);
  return parts.length === 3 ? { type: parts[1]!, count } : { count };
}

// ---- loading ---------------------------------------------------------------------------

/** Options for {@link parseConfig}. */
export interface ParseConfigOptions {
  /** Name used in issue lines, e.g. `temporal.yaml`. */
  readonly fileName: string;
  /** Folder that relative local paths (and relative remote paths) are resolved against. */
  readonly baseDir: string;
  /** Whether a local file exists; defaults to a `stat` that wants a regular file. */
  readonly fileExists?: (absolutePath: string) => boolean;
}

/** Outcome of {@link parseConfig}: the config, or every issue found. */
export type ParseConfigResult = { ok: true; config: CryoConfig } | { ok: false; issues: ConfigIssue[] };

/**
 * Validates temporal.yaml text without throwing. YAML syntax errors, schema errors,
 * cross-references and missing local files all come back together, sorted by line.
 */
export function parseConfig(text: string, opts: ParseConfigOptions): ParseConfigResult {
  const fileExists = opts.fileExists ?? isRegularFile;
  const { issues, config } = collectIssues(text, opts.baseDir, fileExists);
  if (issues.length > 0 || config === undefined) return { ok: false, issues };
  return { ok: true, config: resolvePaths(config, opts.baseDir) };
}

/**
 * Reads and validates a config file. Throws `CryoError(ConfigInvalid)` whose message has one
 * line per issue (`temporal.yaml:12 placement.ladder[1].gres: …`) and whose details carry
 * `{ file, issues }`.
 */
export async function loadConfig(file: string): Promise<CryoConfig> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new CryoError(ErrorType.ConfigInvalid, `${file}: cannot read config (${reason}: ${absolute}); set CRYOET_CONFIG or pass the path`, {
      file: absolute,
      issues: [],
    });
  }
  const result = parseConfig(text, { fileName: file, baseDir: dirname(absolute) });
  if (!result.ok) {
    throw new CryoError(ErrorType.ConfigInvalid, formatConfigIssues(file, result.issues), { file: absolute, issues: result.issues });
  }
  return result.config;
}

/** The config path callers use when none is given: `$CRYOET_CONFIG`, else `temporal.yaml` in the cwd. */
export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.CRYOET_CONFIG;
  return resolve(fromEnv !== undefined && fromEnv !== '' ? fromEnv : 'temporal.yaml');
}

function isRegularFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function resolvePaths(config: CryoConfig, baseDir: string): CryoConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const tls = config.temporal.tls;
  const clusters = Object.fromEntries(
    Object.entries(config.clusters).map(([name, cluster]) => [
      name,
      {
        ...cluster,
        ssh: { ...cluster.ssh, keyFile: abs(cluster.ssh.keyFile), knownHostsFile: abs(cluster.ssh.knownHostsFile) },
        workDir: abs(cluster.workDir),
      },
    ]),
  );
  return {
    ...config,
    temporal: {
      ...config.temporal,
      ...(config.temporal.configFile !== undefined && { configFile: abs(config.temporal.configFile) }),
      ...(tls && {
        tls: {
          ...tls,
          clientCertFile: abs(tls.clientCertFile),
          clientKeyFile: abs(tls.clientKeyFile),
          ...(tls.serverCaFile !== undefined && { serverCaFile: abs(tls.serverCaFile) }),
        },
      }),
    },
    clusters,
    paths: { data: abs(config.paths.data), work: abs(config.paths.work) },
  };
}

// ---- issues ----------------------------------------------------------------------------

/** One problem in a config file. */
export interface ConfigIssue {
  /** Dot path with `[i]` for list items, e.g. `placement.ladder[1].gres`; `''` for the whole file. */
  readonly path: string;
  /** What is wrong and, where we can tell, what to write instead. */
  readonly message: string;
  /** 1-based line of the offending key or list item (of its nearest parent when missing). */
  readonly line?: number;
}

/**
 * One line per issue, for a terminal or an error message:
 * `temporal.yaml:12 placement.ladder[1].gres: expected "gpu[:type]:N"`.
 */
export function formatConfigIssues(fileName: string, issues: readonly ConfigIssue[]): string {
  return issues
    .map((issue) => `${fileName}${issue.line !== undefined ? `:${issue.line}` : ''}${issue.path ? ` ${issue.path}` : ''}: ${issue.message}`)
    .join('\n');
}

type Segment = string | number;
interface FoundIssue {
  readonly segments: readonly Segment[];
  readonly message: string;
  readonly line?: number;
}

function collectIssues(
  text: string,
  baseDir: string,
  fileExists: (path: string) => boolean,
): { issues: ConfigIssue[]; config?: CryoConfig } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    // Past a syntax error the tree is a guess; schema issues on it would only mislead.
    const issues = doc.errors.map((error) => ({
      path: '',
      message: error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
      ...(error.linePos && { line: error.linePos[0].line }),
    }));
    return { issues };
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (error) {
    return { issues: [{ path: '', message: (error as Error).message }] };
  }
  if (raw === null || raw === undefined) {
    return { issues: [{ path: '', message: 'the file is empty: expected a mapping with clusters, placement and paths' }] };
  }
  const result = configSchema.safeParse(raw, { reportInput: true });
  const found: FoundIssue[] = [
    ...(result.success ? [] : result.error.issues.flatMap(fromZodIssue)),
    ...crossReferenceIssues(raw),
    ...missingFileIssues(raw, baseDir, fileExists),
  ];
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const { segments, message } of found) {
    const path = toDotPath(segments);
    if (seen.has(`${path}\0${message}`)) continue;
    seen.add(`${path}\0${message}`);
    const line = lineOf(doc, lineCounter, segments);
    issues.push({ path, message, ...(line !== undefined && { line }) });
  }
  // Stable sort: file order first, issues without a line last.
  issues.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  return result.success && issues.length === 0 ? { issues, config: result.data } : { issues };
}

function fromZodIssue(issue: z.core.$ZodIssue): FoundIssue[] {
  const segments = issue.path.map((s) => (typeof s === 'symbol' ? String(s) : s));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const expected = expectedKeys(segments);
      return issue.keys.map((key) => ({ segments: [...segments, key], message: unknownKeyMessage(key, expected) }));
    }
    case 'invalid_key':
      return [{ segments, message: `invalid name ${JSON.stringify(issue.input)}: ${issue.issues[0]?.message ?? issue.message}` }];
    case 'invalid_type': {
      if (issue.input === undefined) return [{ segments, message: `missing (expected ${typeWord(issue.expected)})` }];
      if (!issue.message.startsWith('Invalid input')) return [{ segments, message: issue.message }];
      return [{ segments, message: `expected ${typeWord(issue.expected)}, got ${describeValue(issue.input)}` }];
    }
    default:
      return [{ segments, message: issue.message }];
  }
}

function typeWord(expected: string): string {
  return ({ object: 'a mapping', record: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false' } as Record<string, string>)[expected] ?? expected;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

interface LooseDef {
  readonly type: string;
  readonly innerType?: z.core.$ZodType;
  readonly in?: z.core.$ZodType;
  readonly shape?: Record<string, z.core.$ZodType>;
  readonly valueType?: z.core.$ZodType;
  readonly element?: z.core.$ZodType;
}

/** The keys the object schema at a data path allows (for "unknown key" hints). */
function expectedKeys(segments: readonly Segment[]): string[] {
  let schema: z.core.$ZodType | undefined = configSchema;
  const unwrap = (s: z.core.$ZodType): LooseDef => {
    let def = s._zod.def as unknown as LooseDef;
    while (def.innerType ?? def.in) def = (def.innerType ?? def.in)!._zod.def as unknown as LooseDef;
    return def;
  };
  for (const segment of segments) {
    if (!schema) return [];
    const def = unwrap(schema);
    schema = def.shape ? def.shape[String(segment)] : (def.valueType ?? def.element);
  }
  const shape = schema && unwrap(schema).shape;
  return shape ? Object.keys(shape) : [];
}

function unknownKeyMessage(key: string, expected: readonly string[]): string {
  if (expected.length === 0) return 'unknown key';
  const close = expected.find((k) => k.toLowerCase() === key.toLowerCase() || editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
  return `unknown key (expected one of ${expected.join(', ')})${close ? `; did you mean "${close}"?` : ''}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Rung → cluster, rung → partition, pinned GPU type → price. Reads the raw tree defensively. */
function crossReferenceIssues(raw: unknown): FoundIssue[] {
  const root = asRecord(raw);
  const clusters = asRecord(root?.clusters);
  const prices = asRecord(root?.gpuPrices);
  const ladder = asRecord(root?.placement)?.ladder;
  if (!Array.isArray(ladder)) return [];
  const clusterNames = clusters ? Object.keys(clusters) : [];
  const found: FoundIssue[] = [];
  ladder.forEach((item, index) => {
    const rung = asRecord(item);
    if (!rung) return;
    const at = ['placement', 'ladder', index];
    let clusterName = rung.cluster === undefined ? clusterNames[0] : undefined;
    if (typeof rung.cluster === 'string') {
      if (clusters && !Object.hasOwn(clusters, rung.cluster)) {
        found.push({ segments: [...at, 'cluster'], message: `unknown cluster "${rung.cluster}" (expected one of the keys of clusters: ${clusterNames.join(', ')})` });
      } else {
        clusterName = rung.cluster;
      }
    }
    // Compare only against a partition list that is itself valid; a broken one has its own issue.
    const listed = clusterSchema.shape.partitions.safeParse(clusterName === undefined ? undefined : asRecord(clusters?.[clusterName])?.partitions);
    const partitions = listed.success ? listed.data : undefined;
    if (typeof rung.partition === 'string' && partitions && !partitions.includes(rung.partition)) {
      found.push({
        segments: [...at, 'partition'],
        message: `partition "${rung.partition}" is not listed in ${toDotPath(['clusters', clusterName!, 'partitions'])} (${partitions.join(', ')})`,
      });
    }
    const gpuType = typeof rung.gres === 'string' && GRES_PATTERN.test(rung.gres) ? parseGres(rung.gres).type : undefined;
    // A gpuPrices that is not a mapping has its own issue; "no price" on top would be noise.
    const pricesReadable = prices !== undefined || root?.gpuPrices === undefined;
    if (gpuType !== undefined && pricesReadable && !(prices && Object.hasOwn(prices, gpuType))) {
      found.push({ segments: [...at, 'gres'], message: `no price for GPU type "${gpuType}" in gpuPrices (add gpuPrices.${gpuType}: <$ per GPU-hour>)` });
    }
  });
  return found;
}

/** SSH key, known_hosts, TLS files and the env-config TOML must exist on this machine. */
function missingFileIssues(raw: unknown, baseDir: string, fileExists: (path: string) => boolean): FoundIssue[] {
  const root = asRecord(raw);
  const candidates: Array<[Segment[], unknown]> = [];
  const temporal = asRecord(root?.temporal);
  const tls = asRecord(temporal?.tls);
  candidates.push([['temporal', 'configFile'], temporal?.configFile]);
  for (const key of ['clientCertFile', 'clientKeyFile', 'serverCaFile']) candidates.push([['temporal', 'tls', key], tls?.[key]]);
  for (const [name, cluster] of Object.entries(asRecord(root?.clusters) ?? {})) {
    const ssh = asRecord(asRecord(cluster)?.ssh);
    for (const key of ['keyFile', 'knownHostsFile']) candidates.push([['clusters', name, 'ssh', key], ssh?.[key]]);
  }
  const found: FoundIssue[] = [];
  for (const [segments, value] of candidates) {
    if (typeof value !== 'string' || value === '') continue;
    const absolute = isAbsolute(value) ? value : resolve(baseDir, value);
    if (!fileExists(absolute)) {
      found.push({ segments, message: `file not found: ${absolute}${isAbsolute(value) ? '' : ` (relative to ${baseDir})`}` });
    }
  }
  return found;
}

/** `['placement', 'ladder', 1, 'gres']` → `placement.ladder[1].gres`; odd keys are quoted. */
function toDotPath(segments: readonly Segment[]): string {
  return segments.reduce<string>((path, segment) => {
    if (typeof segment === 'number') return `${path}[${segment}]`;
    if (/^[A-Za-z0-9_-]+$/.test(segment)) return path ? `${path}.${segment}` : segment;
    return `${path}[${JSON.stringify(segment)}]`;
  }, '');
}

/** Line of the key (or list item) at `segments`, or of the deepest ancestor that exists. */
function lineOf(doc: Document, lineCounter: LineCounter, segments: readonly Segment[]): number | undefined {
  const lineAt = (node: unknown): number | undefined =>
    isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
  let node: unknown = doc.contents;
  let line = lineAt(node);
  for (const segment of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      if (!pair) break;
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      node = node.items[segment];
      line = lineAt(node) ?? line;
    } else {
      break;
    }
  }
  return line;
}
