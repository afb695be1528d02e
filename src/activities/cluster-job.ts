/**
 * Activities for one cluster job: submit (idempotently), watch (through the shared
 * per-cluster watcher, heartbeating), cancel, and read the job's result. Thin: commands
 * come from slurm/, transport from ssh/, meaning from the state table.
 */
import { Context } from '@temporalio/activity';
import { jobNameFor } from '../slurm/job-key.js';
import { buildSbatchScript, parseResultMarker, type ResultMarker } from '../slurm/sbatch-script.js';
import {
  buildLookupCommand,
  buildSubmitCommand,
  exportPrefix,
  parseSubmitOutput,
  SUBMIT_RETRY_LATER,
} from '../slurm/submit-command.js';
import { classifySbatchError, sbatchErrorText } from '../slurm/parse-sbatch.js';
import { sameJobState, type JobStateView } from '../slurm/state-table.js';
import { shellJoin } from '../shell/quote.js';
import { assertSafeName } from '../slurm/names.js';
import { tail } from '../ssh/connection.js';
import { buildEligibleTimeArgs, parseEligibleTime } from '../slurm/squeue-format.js';
import { buildDependencyUpdateArgs, parseDependencyUpdate, type DependencyUpdate } from '../slurm/dependency.js';
import type { JobObservation } from '../scheduler/watcher.js';
import { CryoError, ErrorType } from '../errors.js';
import { parseNodeHealth, type NodeHealth } from '../slurm/node-exclusions.js';
import { toApplicationFailure } from './failures.js';
import { whileHeartbeating } from './heartbeat.js';
import type { ActivityDeps } from './deps.js';

/** One unit of cluster work, as the workflow describes it. No secrets: names and argv only. */
export interface SubmitJobInput {
  readonly cluster: string;
  /** Idempotency key, `<workflowId>/<step>`; stable across activity retries. */
  readonly key: string;
  readonly partition: string;
  readonly gres?: string;
  readonly cpusPerTask?: number;
  readonly memMb?: number;
  readonly timeLimitMinutes?: number;
  readonly command: readonly string[];
  readonly environment?: Readonly<Record<string, string>>;
  readonly comment?: string;
  /** `--requeue`: let Slurm requeue the job under the same id (site policy); default `--no-requeue`. */
  readonly requeue?: boolean;
  /** `--exclude`: nodes this job must not run on. */
  readonly exclude?: readonly string[];
  /** Slurm job ids this job waits for (`--dependency=afterok`, killed if one fails). */
  readonly afterJobs?: readonly string[];
  /** Keep the job pending if one of `afterJobs` fails, to be re-pointed (`--kill-on-invalid-dep=no`). */
  readonly keepOnFailedDependency?: boolean;
}

/** Where a submitted job lives. */
export interface SubmittedJob {
  readonly cluster: string;
  readonly jobId: string;
  readonly jobName: string;
  readonly jobDir: string;
  readonly outputPath: string;
  readonly markerPath: string;
  /** True when an earlier attempt had already submitted it. */
  readonly reattached: boolean;
}

/** Paths of a job's files under the cluster's work directory. */
export function jobPaths(workDir: string, jobName: string) {
  const jobDir = `${workDir}/jobs/${jobName}`;
  return {
    jobDir,
    scriptPath: `${jobDir}/job.sbatch`,
    outputPath: `${jobDir}/output.log`,
    markerPath: `${jobDir}/result`,
  };
}

/** What a caller last saw of a job: watchJob returns once Slurm says something else. */
export type KnownJobState = JobStateView;

/** Input of watchJob. */
export interface WatchJobInput {
  readonly cluster: string;
  readonly jobId: string;
  /** Return on the first observation that differs from this (any observation when unset). */
  readonly known?: KnownJobState;
  /** Return after this long even if nothing changed, so the workflow can decide (hang clock). */
  readonly maxWaitMs?: number;
  /** The job's result marker: looked for while it runs, so its end is seen early. */
  readonly markerPath?: string;
}

/** The result of a finished job, both witnesses. */
export interface JobResult {
  readonly marker?: ResultMarker;
  /** The last bytes of the job's output. */
  readonly outputTail: string;
}

/** Builds the cluster-job activities over shared worker resources. */
export function createClusterJobActivities(deps: ActivityDeps) {
  async function submitJob(input: SubmitJobInput): Promise<SubmittedJob> {
    return toApplicationFailure(() =>
      whileHeartbeating(async () => {
        const cluster = deps.cluster(input.cluster);
        const jobName = jobNameFor(input.key);
        const paths = jobPaths(cluster.workDir, jobName);
        const script = buildSbatchScript({
          jobName,
          partition: input.partition,
          gres: input.gres,
          cpusPerTask: input.cpusPerTask,
          memMb: input.memMb,
          timeLimitMinutes: input.timeLimitMinutes,
          workDir: paths.jobDir,
          outputPath: paths.outputPath,
          comment: input.comment,
          requeue: input.requeue,
          exclude: input.exclude,
          afterOk: input.afterJobs,
          ...(input.keepOnFailedDependency ? { keepOnFailedDependency: true } : {}),
          environment: input.environment,
          command: input.command,
          resultMarkerPath: paths.markerPath,
        });
        const connection = deps.pool.get(input.cluster);
        // Exclusions that leave the partition no node able to take work give a job Slurm
        // accepts but never starts when the partition also has DOWN or CLOUD nodes (sbatch
        // only refuses when no node is left at all): refuse it as sbatch would, so the
        // workflow submits without them. Never when an earlier try already made the job.
        const blocked =
          input.exclude && input.exclude.length > 0 ? await exclusionsLeaveNoNode(input, cluster) : undefined;
        if (blocked !== undefined) {
          const found = await connection.exec(buildLookupCommand({ jobName, environment: cluster.environment }), {
            timeoutMs: cluster.commandTimeoutMs,
          });
          if (found.exitCode !== 0)
            throw new CryoError(
              ErrorType.SshUnavailable,
              `cluster "${input.cluster}": looking up ${jobName} exited ${found.exitCode}: ` +
                `${tail(found.stderr)} (transient, will retry)`,
            );
          if (!found.stdout.includes('existing:')) {
            throw new CryoError(
              ErrorType.SubmitRejected,
              `cluster "${input.cluster}": not submitted for ${input.key}: refused: ${blocked}`,
              { slurmMessage: blocked },
            );
          }
        }
        const command = buildSubmitCommand({
          jobName,
          jobDir: paths.jobDir,
          scriptPath: paths.scriptPath,
          environment: cluster.environment,
        });
        const result = await connection.exec(command, { timeoutMs: cluster.commandTimeoutMs, stdin: script });
        if (result.exitCode !== 0) {
          const stderr = tail(result.stderr);
          const where = `partition ${input.partition}, gres ${input.gres ?? 'none'}`;
          const what = `cluster "${input.cluster}": sbatch exited ${result.exitCode} for ${input.key} (${where})`;
          // Could not tell whether the job exists, or another try is still submitting it: later.
          if (
            result.exitCode !== SUBMIT_RETRY_LATER &&
            classifySbatchError(result.exitCode ?? 255, stderr) === 'rejected'
          ) {
            const slurmMessage = sbatchErrorText(stderr);
            // A job it would wait for has already failed (or is gone): not the rung's fault.
            if (input.afterJobs && input.afterJobs.length > 0 && /dependency/i.test(slurmMessage)) {
              throw new CryoError(
                ErrorType.DependencyFailed,
                `${what}: refused: ${slurmMessage} (queued behind job(s) ${input.afterJobs.join(',')})`,
                { stderr, slurmMessage, afterJobs: input.afterJobs },
              );
            }
            throw new CryoError(ErrorType.SubmitRejected, `${what}: refused: ${slurmMessage}`, {
              stderr,
              slurmMessage,
            });
          }
          // Transient: the job may exist; the retry looks it up by name before submitting.
          throw new CryoError(ErrorType.SshUnavailable, `${what}: ${JSON.stringify(stderr)} (transient, will retry)`, {
            stderr,
          });
        }
        const outcome = parseSubmitOutput(result.stdout);
        Context.current().log.info('cluster job submitted', {
          cluster: input.cluster,
          jobId: outcome.jobId,
          jobName,
          reattached: outcome.kind === 'existing',
        });
        return {
          cluster: input.cluster,
          jobId: outcome.jobId,
          jobName,
          ...paths,
          reattached: outcome.kind === 'existing',
        };
      }),
    );
  }

  /**
   * Why the exclusions leave `input.partition` no node that can take work, or undefined
   * (also when sinfo cannot tell).
   */
  async function exclusionsLeaveNoNode(
    input: SubmitJobInput,
    cluster: ReturnType<ActivityDeps['cluster']>,
  ): Promise<string | undefined> {
    const exclude = input.exclude ?? [];
    const argv = ['sinfo', '-h', '-N', '-p', input.partition, '-o', '%N|%T|%E'];
    const listed = await deps.pool
      .get(input.cluster)
      .exec(exportPrefix(cluster.environment) + shellJoin(argv), { timeoutMs: cluster.commandTimeoutMs });
    if (listed.exitCode !== 0) return undefined;
    let nodes: NodeHealth[];
    try {
      nodes = parseNodeHealth(listed.stdout);
    } catch {
      return undefined;
    }
    const others = nodes.filter((n) => !exclude.includes(n.node));
    if (nodes.length === 0 || others.some((n) => !n.unhealthy)) return undefined;
    const states = others.length > 0 ? ` (${others.map((n) => `${n.node} ${n.state}`).join(', ')})` : '';
    return `excluding ${exclude.join(',')} leaves partition ${input.partition} no node that can take work${states}`;
  }

  async function watchJob(input: WatchJobInput): Promise<JobObservation> {
    return toApplicationFailure(async () => {
      const ctx = Context.current();
      const watcher = deps.watcher(input.cluster);
      let seen = watcher.register(input.jobId, input.markerPath, input.known);
      const deadline = input.maxWaitMs === undefined ? Infinity : Date.now() + input.maxWaitMs;
      const heartbeatEveryMs = Math.max(1000, Math.min(10_000, (ctx.info.heartbeatTimeoutMs ?? 30_000) / 3));
      try {
        for (;;) {
          ctx.heartbeat({ state: seen.state, reason: seen.reason });
          // Version 0 is "registered, not yet seen by Slurm": never report that as news.
          if (seen.version > 0 && (seen.final || !sameJobState(seen, input.known))) return seen;
          const left = deadline - Date.now();
          if (left <= 0) return seen;
          const next = await Promise.race([
            watcher.waitForChange(input.jobId, seen.version, Math.min(heartbeatEveryMs, left)),
            ctx.cancelled,
          ]);
          seen = next;
        }
      } finally {
        watcher.unregister(input.jobId);
      }
    });
  }

  /**
   * Cancels by job name (which carries the idempotency key), so a job whose id the
   * workflow never learnt (cancelled mid-submit) is cancelled too; and by id when known.
   */
  async function cancelJob(input: { cluster: string; jobName: string; jobId?: string }): Promise<void> {
    return toApplicationFailure(() =>
      whileHeartbeating(async () => {
        const cluster = deps.cluster(input.cluster);
        assertSafeName(input.jobName, 'job name');
        // No --quiet: with it, scancel of an ended job exits 1 with nothing on stderr (22.05),
        // and an ended job could not be told from a refusal.
        const argv = ['scancel', '--name', input.jobName, ...(input.jobId ? [input.jobId] : [])];
        const result = await deps.pool
          .get(input.cluster)
          .exec(exportPrefix(cluster.environment) + shellJoin(argv), { timeoutMs: cluster.commandTimeoutMs });
        // scancel of a finished job is not an error (exit 0, or 1 "already completed").
        if (result.exitCode !== 0 && !/already complet|Invalid job id/i.test(result.stderr)) {
          throw new CryoError(
            ErrorType.SshUnavailable,
            `cluster "${input.cluster}": ${argv.join(' ')} exited ${result.exitCode}: ${tail(result.stderr)}`,
          );
        }
      }),
    );
  }

  async function readJobResult(input: {
    cluster: string;
    outputPath: string;
    markerPath: string;
    maxBytes?: number;
  }): Promise<JobResult> {
    return toApplicationFailure(() =>
      whileHeartbeating(async () => {
        const connection = deps.pool.get(input.cluster);
        const output = await connection.readFile(input.outputPath).catch((err: CryoError) => {
          if (err.type === ErrorType.OutputMissing) return Buffer.alloc(0);
          throw err;
        });
        const maxBytes = input.maxBytes ?? 64 * 1024;
        const outputTail = output.subarray(Math.max(0, output.length - maxBytes)).toString('utf8');
        let marker: ResultMarker | undefined;
        try {
          marker = parseResultMarker((await connection.readFile(input.markerPath)).toString('utf8'));
        } catch (err) {
          if ((err as CryoError).type !== ErrorType.OutputMissing) throw err;
        }
        return { marker, outputTail };
      }),
    );
  }

  /**
   * When a pending job became eligible to start (ms), e.g. the moment the jobs it was queued
   * behind completed; undefined when Slurm does not say. Measures a hang from then.
   */
  async function jobEligibleAt(input: { cluster: string; jobId: string }): Promise<number | undefined> {
    return toApplicationFailure(() =>
      whileHeartbeating(async () => {
        const cluster = deps.cluster(input.cluster);
        const argv = buildEligibleTimeArgs(input.jobId);
        const result = await deps.pool
          .get(input.cluster)
          .exec(exportPrefix({ ...cluster.environment, TZ: 'UTC' }) + shellJoin(argv), {
            timeoutMs: cluster.commandTimeoutMs,
          });
        return result.exitCode === 0 ? parseEligibleTime(result.stdout) : undefined;
      }),
    );
  }

  /**
   * Re-points a pending job's dependency at the jobs now given (one of those it was queued
   * behind was replaced), leaving out `exclude`: `updated`, or `ended` when Slurm no longer
   * has it pending.
   */
  async function updateDependency(input: {
    cluster: string;
    jobId: string;
    afterJobs: readonly string[];
    exclude?: readonly string[];
  }): Promise<DependencyUpdate> {
    return toApplicationFailure(() =>
      whileHeartbeating(async () => {
        const cluster = deps.cluster(input.cluster);
        const argv = buildDependencyUpdateArgs(input.jobId, input.afterJobs, input.exclude);
        const result = await deps.pool
          .get(input.cluster)
          .exec(exportPrefix(cluster.environment) + shellJoin(argv), { timeoutMs: cluster.commandTimeoutMs });
        const answer = parseDependencyUpdate(result.exitCode ?? -1, result.stderr);
        if (answer === undefined) {
          throw new CryoError(
            ErrorType.StatusQueryFailed,
            `cluster "${input.cluster}": ${argv.join(' ')} exited ${result.exitCode}: ${tail(result.stderr)}`,
          );
        }
        return answer;
      }),
    );
  }

  /** The state of `nodes` now (`sinfo -N`): tells a job that failed from a node that failed it. */
  async function nodeHealth(input: { cluster: string; nodes: readonly string[] }): Promise<NodeHealth[]> {
    return toApplicationFailure(() =>
      whileHeartbeating(async () => {
        const cluster = deps.cluster(input.cluster);
        if (input.nodes.length === 0) return [];
        for (const node of input.nodes) assertSafeName(node, 'node');
        const argv = ['sinfo', '-h', '-N', '-n', input.nodes.join(','), '-o', '%N|%T|%E'];
        const result = await deps.pool
          .get(input.cluster)
          .exec(exportPrefix(cluster.environment) + shellJoin(argv), { timeoutMs: cluster.commandTimeoutMs });
        if (result.exitCode !== 0)
          throw new CryoError(
            ErrorType.StatusQueryFailed,
            `cluster "${input.cluster}": ${argv.join(' ')} exited ${result.exitCode}: ${tail(result.stderr)}`,
          );
        return parseNodeHealth(result.stdout);
      }),
    );
  }

  return { submitJob, watchJob, cancelJob, readJobResult, nodeHealth, jobEligibleAt, updateDependency };
}
