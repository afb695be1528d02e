/**
 * Loading temporal.yaml: validate text ({@link parseConfig}), read a file ({@link loadConfig}),
 * and make local and relative paths absolute. Environment variables are read here and nowhere
 * deeper (CRYOET_CONFIG, in {@link defaultConfigPath}).
 * Part of `src/config.ts` (the public entry re-exports everything exported here).
 */
import { readFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CryoError, ErrorType } from '../errors.js';
import type { CryoConfig } from './schema.js';
import { collectIssues, formatConfigIssues, type ConfigIssue } from './issues.js';

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
export async function loadConfig(file: string, opts: Pick<ParseConfigOptions, 'fileExists'> = {}): Promise<CryoConfig> {
  const absolute = resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new CryoError(
      ErrorType.ConfigInvalid,
      `${file}: cannot read config (${reason}: ${absolute}); set CRYOET_CONFIG or pass the path`,
      {
        file: absolute,
        issues: [],
      },
    );
  }
  const result = parseConfig(text, { fileName: file, baseDir: dirname(absolute), ...opts });
  if (!result.ok) {
    throw new CryoError(ErrorType.ConfigInvalid, formatConfigIssues(file, result.issues), {
      file: absolute,
      issues: result.issues,
    });
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
    tools: {
      ...config.tools,
      ...(config.tools.aretomo2 === undefined ? {} : { aretomo2: abs(config.tools.aretomo2) }),
      ...(config.tools.stageDir === undefined ? {} : { stageDir: abs(config.tools.stageDir) }),
      ...(config.tools.mpiPreload === undefined ? {} : { mpiPreload: abs(config.tools.mpiPreload) }),
      ...(config.tools.relionBinDir === undefined ? {} : { relionBinDir: absBinDirs(config.tools.relionBinDir, abs) }),
    },
  };
}

function absBinDirs(
  dirs: string | Partial<Record<string, string>>,
  abs: (p: string) => string,
): string | Partial<Record<string, string>> {
  if (typeof dirs === 'string') return abs(dirs);
  return Object.fromEntries(Object.entries(dirs).map(([profile, dir]) => [profile, abs(dir!)]));
}
