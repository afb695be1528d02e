/**
 * The bulk status call a cluster's watcher makes: one `squeue -t all -j <ids>` for all
 * active jobs, and one `sacct -X -j <ids>` for those squeue no longer lists (finished
 * longer than MinJobAge ago, or lost across a controller restart).
 */
import { buildSqueueArgs } from '../slurm/squeue-format.js';
import { parseSqueue, type SqueueRow } from '../slurm/parse-squeue.js';
import { buildSacctArgs, parseSacct } from '../slurm/sacct.js';
import { exportPrefix } from '../slurm/submit-command.js';
import { shellJoin, shellQuote } from '../shell/quote.js';
import { tail, type SshConnection } from '../ssh/connection.js';
import { CryoError, ErrorType } from '../errors.js';
import type { ClusterRuntime } from './deps.js';
import type { MarkerQuery, StatusQuery } from '../scheduler/watcher.js';

/** A StatusQuery over one cluster's SSH connection. */
export function createStatusQuery(connection: () => SshConnection, cluster: ClusterRuntime): StatusQuery {
  const env = exportPrefix(cluster.environment);
  const run = async (argv: string[]) => {
    const command = env + shellJoin(argv);
    return { command, result: await connection().exec(command, { timeoutMs: cluster.commandTimeoutMs }) };
  };
  return async (jobIds) => {
    const { command, result } = await run(buildSqueueArgs(jobIds));
    // A lone unknown id makes squeue exit 1; in a list, unknown ids are silently dropped.
    const unknownId = result.exitCode === 1 && /Invalid job id/i.test(result.stderr);
    if (result.exitCode !== 0 && !unknownId) {
      const stderr = tail(result.stderr).replaceAll('\n', '\n  ');
      throw new CryoError(
        ErrorType.StatusQueryFailed,
        `cluster "${cluster.name}": ${command} exited ${result.exitCode}:\n  ${stderr}`,
      );
    }
    const rows: SqueueRow[] = unknownId ? [] : parseSqueue(result.stdout);
    const listed = new Set(rows.map((r) => r.jobId));
    const missing = jobIds.filter((id) => !listed.has(id));
    if (missing.length > 0) {
      const sacct = await run(buildSacctArgs(missing));
      // No accounting on this cluster: a missing job stays as last seen (never success).
      if (sacct.result.exitCode === 0)
        rows.push(...parseSacct(sacct.result.stdout).filter((r) => missing.includes(r.jobId)));
    }
    return rows;
  };
}

/** The shell command that prints which of `paths` exist, one per line. Pure; paths are quoted. */
export function buildMarkerCheckCommand(paths: readonly string[]): string {
  return `for f in ${paths.map(shellQuote).join(' ')}; do [ -e "$f" ] && printf '%s\\n' "$f"; done; true`;
}

/**
 * A MarkerQuery over one cluster's SSH connection: a file check on the login node for the
 * result markers of running jobs. Not a scheduler call.
 */
export function createMarkerQuery(connection: () => SshConnection, cluster: ClusterRuntime): MarkerQuery {
  return async (paths) => {
    const command = buildMarkerCheckCommand(paths);
    const result = await connection().exec(command, { timeoutMs: cluster.commandTimeoutMs });
    if (result.exitCode !== 0) {
      throw new CryoError(
        ErrorType.StatusQueryFailed,
        `cluster "${cluster.name}": result-marker check exited ${result.exitCode}: ${tail(result.stderr)}`,
      );
    }
    const wanted = new Set(paths);
    return new Set(result.stdout.split('\n').filter((line) => wanted.has(line)));
  };
}
