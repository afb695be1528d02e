/**
 * stageBinary: puts a tool binary (AreTomo2 in production, the CPU stand-in in the embedded
 * profile) on the cluster's shared filesystem over SFTP. Skips the copy when a file with the
 * same sha256 and the exec bit is already there; otherwise copies to a temporary name,
 * checks its sha256, sets the exec bit and renames it into place, so a half-copied binary
 * is never run.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { CryoError, ErrorType } from '../errors.js';
import { stagedPath } from '../tools/toolset.js';
import { shellJoin } from '../shell/quote.js';
import { exportPrefix } from '../slurm/submit-command.js';
import { tail } from '../ssh/connection.js';
import { toApplicationFailure } from './failures.js';
import { whileHeartbeating } from './heartbeat.js';
import type { ActivityDeps } from './deps.js';

export interface StageBinaryInput {
  readonly cluster: string;
  /** The binary on the worker's machine. */
  readonly localPath: string;
  /** Folder on the cluster's shared filesystem. */
  readonly remoteDir: string;
}

export interface StagedBinary {
  readonly remotePath: string;
  readonly sha256: string;
  /** False when the same file was already there. */
  readonly copied: boolean;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (err) {
    throw new CryoError(
      ErrorType.ConfigInvalid,
      `tools.aretomo2: cannot read ${path} on the worker: ${(err as Error).message}`,
      { path },
    );
  }
  return hash.digest('hex');
}

/** `sha256 -` of an existing executable file, or '' when it is missing or not executable. */
export const REMOTE_SHA = 'if [ -f "$1" ] && [ -x "$1" ]; then sha256sum -- "$1" | cut -d" " -f1; fi';

export function createStageBinaryActivities(deps: ActivityDeps) {
  async function run(cluster: string, argv: string[]): Promise<string> {
    const settings = deps.cluster(cluster);
    const result = await deps.pool
      .get(cluster)
      .exec(exportPrefix(settings.environment) + shellJoin(argv), { timeoutMs: settings.commandTimeoutMs });
    if (result.exitCode !== 0) {
      throw new CryoError(
        ErrorType.SshUnavailable,
        `cluster "${cluster}": ${argv.join(' ').slice(0, 120)} exited ${result.exitCode}: ${tail(result.stderr)}`,
      );
    }
    return result.stdout.trim();
  }

  return {
    async stageBinary(input: StageBinaryInput): Promise<StagedBinary> {
      return toApplicationFailure(() =>
        whileHeartbeating(async () => {
          const sha256 = await sha256File(input.localPath);
          const remotePath = stagedPath(input.remoteDir, input.localPath);
          const existing = await run(input.cluster, ['sh', '-c', REMOTE_SHA, 'sh', remotePath]);
          if (existing === sha256) return { remotePath, sha256, copied: false };
          const tmp = `${remotePath}.tmp-${sha256.slice(0, 12)}-${Date.now()}`;
          await run(input.cluster, ['mkdir', '-p', '--', input.remoteDir]);
          await deps.pool.get(input.cluster).put(input.localPath, tmp);
          const copied = await run(input.cluster, [
            'sh',
            '-c',
            'chmod 0755 -- "$1" && sha256sum -- "$1" | cut -d" " -f1',
            'sh',
            tmp,
          ]);
          if (copied !== sha256) {
            await run(input.cluster, ['rm', '-f', '--', tmp]);
            throw new CryoError(
              ErrorType.SshUnavailable,
              `cluster "${input.cluster}": staged copy of ${input.localPath} ` +
                `has sha256 ${copied}, expected ${sha256}; will retry`,
            );
          }
          await run(input.cluster, ['mv', '-f', '--', tmp, remotePath]);
          const after = await run(input.cluster, ['sh', '-c', REMOTE_SHA, 'sh', remotePath]);
          if (after !== sha256) {
            throw new CryoError(
              ErrorType.SshUnavailable,
              `cluster "${input.cluster}": ${remotePath} is not the executable just staged ` +
                `(sha256 ${after || 'missing'}); will retry`,
            );
          }
          return { remotePath, sha256, copied: true };
        }),
      );
    },
  };
}
