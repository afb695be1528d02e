/**
 * Config issues: collecting them (zod issues, checks that span sections, missing local files)
 * with a dot path and line each, and formatting them one per line:
 *
 *     temporal.yaml:12 placement.ladder[1].gres: expected "gpu[:type]:N"
 *
 * Part of `src/config.ts` (the public entry re-exports {@link ConfigIssue} and
 * {@link formatConfigIssues}; `collectIssues` is internal, used by `load.ts`).
 */
import { isAbsolute, resolve } from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { clusterSchema, configSchema, GRES_PATTERN, parseGres, type CryoConfig } from './schema.js';

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
    .map((issue) => {
      const line = issue.line !== undefined ? `:${issue.line}` : '';
      const path = issue.path ? ` ${issue.path}` : '';
      return `${fileName}${line}${path}: ${issue.message}`;
    })
    .join('\n');
}

export type Segment = string | number;

/**
 * Every problem in temporal.yaml text: YAML syntax errors (alone, since the tree past one is
 * a guess), else schema, cross-reference and missing-file issues, deduplicated and sorted by
 * line. `config` is set only when there are none.
 */
export function collectIssues(
  text: string,
  baseDir: string,
  fileExists: (path: string) => boolean,
): { issues: ConfigIssue[]; config?: CryoConfig } {
  const { issues, value } = collectYamlIssues(text, configSchema, {
    empty: 'the file is empty: expected a mapping with clusters, placement and paths',
    extra: (raw) => [...crossReferenceIssues(raw), ...missingFileIssues(raw, baseDir, fileExists)],
  });
  return value === undefined ? { issues } : { issues, config: value };
}

/** A problem found outside the schema, located by its data path. */
export interface FoundIssue {
  readonly segments: readonly Segment[];
  readonly message: string;
}

/**
 * Every problem in a YAML file checked against a zod schema (temporal.yaml, a campaign
 * file), each with a dot path and line: syntax errors alone, else schema issues and the
 * `extra` checks, deduplicated and sorted by line. `value` is set only when there are none.
 */
export function collectYamlIssues<S extends z.ZodType>(
  text: string,
  schema: S,
  opts: { readonly empty: string; readonly extra?: (raw: unknown) => FoundIssue[] },
): { issues: ConfigIssue[]; value?: z.output<S> } {
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
  if (raw === null || raw === undefined) return { issues: [{ path: '', message: opts.empty }] };
  const result = schema.safeParse(raw, { reportInput: true });
  const found: FoundIssue[] = [
    ...(result.success ? [] : result.error.issues.flatMap((issue) => fromZodIssue(schema, issue))),
    ...(opts.extra?.(raw) ?? []),
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
  return result.success && issues.length === 0 ? { issues, value: result.data } : { issues };
}

function fromZodIssue(root: z.core.$ZodType, issue: z.core.$ZodIssue): FoundIssue[] {
  const segments = issue.path.map((s) => (typeof s === 'symbol' ? String(s) : s));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const expected = expectedKeys(root, segments);
      return issue.keys.map((key) => ({ segments: [...segments, key], message: unknownKeyMessage(key, expected) }));
    }
    case 'invalid_key':
      return [
        {
          segments,
          message: `invalid name ${JSON.stringify(issue.input)}: ${issue.issues[0]?.message ?? issue.message}`,
        },
      ];
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
  return (
    (
      {
        object: 'a mapping',
        record: 'a mapping',
        array: 'a list',
        string: 'a string',
        number: 'a number',
        boolean: 'true or false',
      } as Record<string, string>
    )[expected] ?? expected
  );
}

function describeValue(value: unknown): string {
  if (value === null) return 'null (an empty value)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  // JSON.stringify would write Infinity and NaN (YAML .inf, .nan) as null.
  if (typeof value === 'number') return `number ${String(value)}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

interface LooseDef {
  readonly type: string;
  readonly innerType?: z.core.$ZodType;
  readonly in?: z.core.$ZodType;
  readonly shape?: Record<string, z.core.$ZodType>;
  readonly valueType?: z.core.$ZodType;
  readonly element?: z.core.$ZodType;
  readonly keyType?: z.core.$ZodType;
  readonly entries?: Record<string, unknown>;
}

/** The keys the object schema at a data path allows (for "unknown key" hints). */
function expectedKeys(root: z.core.$ZodType, segments: readonly Segment[]): string[] {
  let schema: z.core.$ZodType | undefined = root;
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
  const def = schema && unwrap(schema);
  if (def?.shape) return Object.keys(def.shape);
  // A record keyed by an enum (placement.stages): its keys are the enum's values.
  const entries = def?.keyType && unwrap(def.keyType).entries;
  return entries ? Object.keys(entries) : [];
}

function unknownKeyMessage(key: string, expected: readonly string[]): string {
  if (expected.length === 0) return 'unknown key';
  const close = expected.find(
    (k) => k.toLowerCase() === key.toLowerCase() || editDistance(k.toLowerCase(), key.toLowerCase()) <= 2,
  );
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
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
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
        const expected = `expected one of the keys of clusters: ${clusterNames.join(', ')}`;
        found.push({ segments: [...at, 'cluster'], message: `unknown cluster "${rung.cluster}" (${expected})` });
      } else {
        clusterName = rung.cluster;
      }
    }
    // Compare only against a partition list that is itself valid; a broken one has its own issue.
    const listed = clusterSchema.shape.partitions.safeParse(
      clusterName === undefined ? undefined : asRecord(clusters?.[clusterName])?.partitions,
    );
    const partitions = listed.success ? listed.data : undefined;
    if (typeof rung.partition === 'string' && partitions && !partitions.includes(rung.partition)) {
      const partitionsPath = toDotPath(['clusters', clusterName!, 'partitions']);
      found.push({
        segments: [...at, 'partition'],
        message: `partition "${rung.partition}" is not listed in ${partitionsPath} (${partitions.join(', ')})`,
      });
    }
    const gpuType =
      typeof rung.gres === 'string' && GRES_PATTERN.test(rung.gres) ? parseGres(rung.gres).type : undefined;
    // A gpuPrices that is not a mapping has its own issue; "no price" on top would be noise.
    const pricesReadable = prices !== undefined || root?.gpuPrices === undefined;
    if (gpuType !== undefined && pricesReadable && !(prices && Object.hasOwn(prices, gpuType))) {
      found.push({
        segments: [...at, 'gres'],
        message: `no price for GPU type "${gpuType}" in gpuPrices (add gpuPrices.${gpuType}: <$ per GPU-hour>)`,
      });
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
  for (const key of ['clientCertFile', 'clientKeyFile', 'serverCaFile'])
    candidates.push([['temporal', 'tls', key], tls?.[key]]);
  candidates.push([['tools', 'aretomo2'], asRecord(root?.tools)?.aretomo2]);
  for (const [name, cluster] of Object.entries(asRecord(root?.clusters) ?? {})) {
    const ssh = asRecord(asRecord(cluster)?.ssh);
    for (const key of ['keyFile', 'knownHostsFile']) candidates.push([['clusters', name, 'ssh', key], ssh?.[key]]);
  }
  const found: FoundIssue[] = [];
  for (const [segments, value] of candidates) {
    // A path with a NUL has its own schema issue (and no file system can look it up).
    if (typeof value !== 'string' || value === '' || value.includes('\0')) continue;
    const absolute = isAbsolute(value) ? value : resolve(baseDir, value);
    if (!fileExists(absolute)) {
      const hint = missingFileHint(segments, absolute, root);
      found.push({
        segments,
        message: `file not found: ${absolute}${isAbsolute(value) ? '' : ` (relative to ${baseDir})`}; ${hint}`,
      });
    }
  }
  return found;
}

/** What a missing file is for and how to make it: the field's own fix. Pure. */
export function missingFileHint(
  segments: readonly Segment[],
  absolute: string,
  root: Record<string, unknown> | undefined,
): string {
  if (/\/\.dev\/cluster\//.test(absolute))
    return 'the dev cluster writes it: bash scripts/dev-cluster.sh start (npm test and npm run demo do)';
  const key = segments[segments.length - 1];
  if (segments[0] === 'clusters') {
    const ssh = asRecord(asRecord(asRecord(root?.clusters)?.[String(segments[1])])?.ssh);
    const host = typeof ssh?.host === 'string' ? ssh.host : '<host>';
    const port = typeof ssh?.port === 'number' ? ssh.port : 22;
    const user = typeof ssh?.user === 'string' ? ssh.user : '<user>';
    if (key === 'keyFile') {
      const authorize = `then add ${absolute}.pub to the cluster's ~/.ssh/authorized_keys`;
      return `the SSH private key for ${user}@${host}: ssh-keygen -t ed25519 -f ${absolute}, ${authorize}`;
    }
    const check = "then check its fingerprint with the cluster's admin (an unknown host key is never accepted)";
    return `the cluster's host key, pinned: ssh-keyscan -p ${port} ${host} > ${absolute}, ${check}`;
  }
  if (segments[0] === 'tools') {
    return (
      'the AreTomo2 binary staged to the cluster (e.g. AreTomo2_1.1.2_Cuda121 from its release),' +
      ' or embedded/aretomo2_standin.py'
    );
  }
  if (key === 'configFile')
    return 'the Temporal env-config TOML (temporal config set --profile …), or drop temporal.configFile';
  return 'the mTLS file for the Temporal frontend (Temporal Cloud: the client certificate and key for the namespace)';
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
