/**
 * temporal.yaml: the one zod schema for the file, and a loader that reports every problem
 * at once, each with its path and line:
 *
 *     temporal.yaml:12 placement.ladder[1].gres: expected "gpu[:type]:N"
 *
 * Checks that span sections (a rung's cluster and partition exist, each pinned GPU type
 * has a price) and local files (SSH key, known_hosts, TLS) run in the same pass as the
 * schema, so a user fixes the whole file in one edit. Environment variables are read in
 * config/load.ts and nowhere deeper (CRYOET_CONFIG).
 *
 * This file is the public entry and only re-exports; the parts live in:
 * - `config/schema.ts`: the zod schemas, `CryoConfig` and its types, `GRES_PATTERN`, `parseGres`;
 * - `config/issues.ts`: `ConfigIssue`, collecting issues with path and line, `formatConfigIssues`;
 * - `config/load.ts`: `parseConfig`, `loadConfig`, `defaultConfigPath`, path resolution.
 */
export {
  GRES_PATTERN,
  tlsSchema,
  temporalSchema,
  sshSchema,
  clusterSchema,
  rungSchema,
  placementSchema,
  gpuPricesSchema,
  toolsSchema,
  pathsSchema,
  pollingSchema,
  timeoutsSchema,
  configSchema,
  parseGres,
  type CryoConfig,
  type CryoConfigInput,
  type ClusterConfig,
  type PlacementRung,
} from './config/schema.js';
export { formatConfigIssues, type ConfigIssue } from './config/issues.js';
export {
  parseConfig,
  loadConfig,
  defaultConfigPath,
  type ParseConfigOptions,
  type ParseConfigResult,
} from './config/load.js';
