/**
 * `cryoet orphans`: jobs in the queue named `cryoet.*` whose workflow is not running any
 * more (left by a crashed worker, a terminated campaign, a cancel no worker processed),
 * listed and, with --cancel, cancelled with one `scancel` per cluster.
 *
 * Per cluster: one `squeue` for the SSH user's jobs over the project's SSH pool (host keys
 * checked against known_hosts), each owning workflow id described in Temporal (latest run;
 * not found → orphan), then the table. The logic is in src/slurm/orphans.ts.
 *
 * Every `cryoet.*` job on a cluster is judged against this config's Temporal namespace:
 * where several namespaces or servers share a cluster, restrict with --prefix.
 *
 * Exit codes: 0 listed (orphans or not) and, with --cancel, cancelled · 1 a cluster or
 * Temporal could not be reached, or scancel failed · 2 usage or config error.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Command } from 'commander';
import type { CryoConfig } from '../config.js';
import { WorkerResources } from '../worker-resources.js';
import { shellJoin } from '../shell/quote.js';
import { tail, type ExecResult } from '../ssh/connection.js';
import { exportPrefix } from '../slurm/submit-command.js';
import { KEY_SEGMENT } from '../slurm/job-key.js';
import {
  buildOrphanScancelArgs,
  buildOrphanSqueueArgs,
  judgeJobs,
  owningWorkflowIds,
  parseOurJobs,
  PLAIN_JOB_ID,
  readScancelResult,
  type JudgedJob,
  type OurJob,
  type WorkflowLookup,
} from '../slurm/orphans.js';
import { CryoError, ErrorType } from '../errors.js';
import { CliError, ExitCode, oneLine } from './errors.js';
import { loadCliConfig, printJson, withClient, withConfigOption, type CommonOptions, type Session } from './session.js';
import { formatTable } from './tables.js';

interface OrphansOptions extends CommonOptions {
  readonly cluster?: string;
  readonly prefix?: string;
  readonly cancel?: boolean;
  readonly json?: boolean;
}

/** A job as the output shows it. */
type Row = Omit<JudgedJob, 'orphan'> & { readonly cluster: string };

/** What one cluster gave. */
interface ClusterOutcome {
  readonly cluster: string;
  jobs: OurJob[];
  /** Orphan ids scancel was run on (with --cancel). */
  cancelled: string[];
  /** Orphans not cancelled: not a plain job id (arrays, het jobs are never ours to guess at). */
  leftAlone: string[];
  /** Orphans that ended between the listing and the scancel. */
  ended: string[];
  error?: string;
}

/** Describes with at most this many calls in flight. */
const DESCRIBE_CONCURRENCY = 16;

/** The clusters to look at: --cluster, else all of temporal.yaml; an unknown name is a usage error. */
function selectClusters(config: CryoConfig, name: string | undefined): string[] {
  const all = Object.keys(config.clusters);
  if (name === undefined) return all;
  if (!all.includes(name))
    throw new CliError(
      ExitCode.Usage,
      `--cluster ${JSON.stringify(name)}: not in temporal.yaml (clusters: ${all.join(', ')})`,
    );
  return [name];
}

/** A workflow id prefix that some job name could carry; anything else matches nothing and is a usage error. */
function checkPrefix(prefix: string | undefined): void {
  if (prefix === undefined) return;
  const segments = prefix.split('/');
  // The last segment may be partial or empty (`cryoet/demo/` or `cryoet/de`); the others must be whole.
  const ok =
    prefix !== '' &&
    segments.every((s, i) => (i === segments.length - 1 ? s === '' || KEY_SEGMENT.test(s) : KEY_SEGMENT.test(s)));
  if (!ok)
    throw new CliError(
      ExitCode.Usage,
      `--prefix ${JSON.stringify(prefix)}: expected the start of a workflow id` +
        " ('/'-separated letters, digits, '_' or '-')",
    );
}

/** Runs argv on a cluster's login node (its environment exported first). */
async function exec(resources: WorkerResources, cluster: string, argv: string[]): Promise<ExecResult> {
  const settings = resources.cluster(cluster);
  return resources.pool
    .get(cluster)
    .exec(exportPrefix(settings.environment) + shellJoin(argv), { timeoutMs: settings.commandTimeoutMs });
}

/** {@link exec}; a non-zero exit is an error naming the command and the stderr tail. */
async function stdoutOf(resources: WorkerResources, cluster: string, argv: string[]): Promise<string> {
  const result = await exec(resources, cluster, argv);
  if (result.exitCode !== 0)
    throw new Error(
      `${argv.join(' ')} exited ${result.exitCode ?? result.signal}: ${tail(result.stderr) || '(no stderr)'}`,
    );
  return result.stdout;
}

/** Latest run of each id; not found → `{ found: false }`. Any other error propagates: never guess. */
async function lookUp(session: Session, ids: readonly string[]): Promise<Map<string, WorkflowLookup>> {
  const lookups = new Map<string, WorkflowLookup>();
  for (let i = 0; i < ids.length; i += DESCRIBE_CONCURRENCY) {
    await Promise.all(
      ids.slice(i, i + DESCRIBE_CONCURRENCY).map(async (id) => {
        try {
          const d = await session.client.workflow.getHandle(id).describe();
          lookups.set(id, { found: true, status: d.status.name });
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          lookups.set(id, { found: false });
        }
      }),
    );
  }
  return lookups;
}

const isConfigError = (err: unknown) =>
  err instanceof CryoError && (err.type === ErrorType.ConfigInvalid || err.type === ErrorType.NameInvalid);

const rowOf = (cluster: string, { orphan: _, ...job }: JudgedJob): Row => ({ cluster, ...job });

/** The text output: a count line, then the orphans' table. */
export function orphansText(orphans: readonly Row[], ownedCount: number, scope: string): string {
  const breakdown = `${ownedCount} owned by an open workflow, ${orphans.length} orphan(s)`;
  const head = `${orphans.length + ownedCount} job(s) named cryoet.*${scope}: ${breakdown}`;
  if (orphans.length === 0) return head;
  const table = formatTable(
    ['CLUSTER', 'JOB', 'STATE', 'SUBMITTED', 'WORKFLOW', 'WHY'],
    orphans.map((o) => [o.cluster, o.jobId, o.state, o.submitTime ?? '', o.workflowId, o.why]),
  );
  return `${head}\n${table}`;
}

/**
 * One squeue on the cluster; a failure is kept on the outcome (exit 1 at the end), a config
 * problem thrown (exit 2).
 */
async function listJobs(resources: WorkerResources, config: CryoConfig, o: ClusterOutcome): Promise<void> {
  try {
    o.jobs = parseOurJobs(
      await stdoutOf(resources, o.cluster, buildOrphanSqueueArgs(config.clusters[o.cluster]!.ssh.user)),
    );
  } catch (err) {
    if (isConfigError(err)) throw err; // a missing key file or known_hosts, an unsafe user name
    o.error = `cluster "${o.cluster}": cannot list jobs: ${oneLine(err)}`;
  }
}

/** One scancel for the cluster's orphans with a plain job id; the others are left alone. */
async function cancelOrphans(
  resources: WorkerResources,
  config: CryoConfig,
  o: ClusterOutcome,
  orphans: readonly JudgedJob[],
): Promise<void> {
  const ids = orphans.map((j) => j.jobId);
  o.leftAlone = ids.filter((id) => !PLAIN_JOB_ID.test(id));
  const plain = ids.filter((id) => PLAIN_JOB_ID.test(id));
  if (plain.length === 0) return;
  const argv = buildOrphanScancelArgs(config.clusters[o.cluster]!.ssh.user, plain);
  try {
    const r = await exec(resources, o.cluster, argv);
    const result = readScancelResult(r.exitCode, r.stderr);
    // A job that ended between the listing and the cancel is gone, as wanted: not an error.
    o.ended = result.ended;
    o.cancelled = plain.filter((id) => !result.ended.includes(id));
    if (result.problems.length > 0)
      o.error = `cluster "${o.cluster}": ${argv.join(' ')}: ${result.problems.join('; ')}`;
  } catch (err) {
    o.error = `cluster "${o.cluster}": ${argv.join(' ')} failed: ${oneLine(err)}`;
  }
}

/** Per cluster, the jobs in `pick` as `{ cluster, jobId }`. */
const idsOf = (outcomes: readonly ClusterOutcome[], pick: (o: ClusterOutcome) => string[]) =>
  outcomes.flatMap((o) => pick(o).map((jobId) => ({ cluster: o.cluster, jobId })));

function printText(
  opts: OrphansOptions,
  clusters: readonly string[],
  outcomes: readonly ClusterOutcome[],
  orphans: readonly Row[],
  owned: readonly Row[],
): void {
  const where = clusters.length === 1 ? ` on cluster ${clusters[0]}` : ` on clusters ${clusters.join(', ')}`;
  console.log(
    orphansText(
      orphans,
      owned.length,
      `${where}${opts.prefix === undefined ? '' : ` with workflow ids under ${JSON.stringify(opts.prefix)}`}`,
    ),
  );
  if (!opts.cancel) {
    if (orphans.length > 0) {
      const clusterFlag = opts.cluster ? ` --cluster ${opts.cluster}` : '';
      const prefixFlag = opts.prefix ? ` --prefix ${opts.prefix}` : '';
      console.log(`cancel them with: cryoet orphans${clusterFlag}${prefixFlag} --cancel`);
    }
    return;
  }
  if (orphans.length === 0) console.log('nothing to cancel');
  for (const o of outcomes) {
    if (o.cancelled.length > 0)
      console.log(`cancelled ${o.cancelled.length} orphan job(s) on cluster ${o.cluster}: ${o.cancelled.join(' ')}`);
    if (o.ended.length > 0)
      console.log(`already ended on cluster ${o.cluster} before the cancel: ${o.ended.join(' ')}`);
    if (o.leftAlone.length > 0)
      console.log(
        `left alone on cluster ${o.cluster} (not a plain job id; we never submit arrays): ${o.leftAlone.join(' ')}`,
      );
  }
}

async function orphans(opts: OrphansOptions): Promise<void> {
  checkPrefix(opts.prefix);
  const config = await loadCliConfig(opts.config);
  const clusters = selectClusters(config, opts.cluster);
  const resources = new WorkerResources(config, () => {});
  try {
    await withClient(config, async (session) => {
      const outcomes: ClusterOutcome[] = clusters.map((cluster) => ({
        cluster,
        jobs: [],
        cancelled: [],
        leftAlone: [],
        ended: [],
      }));
      await Promise.all(outcomes.map((o) => listJobs(resources, config, o)));
      const lookups = await lookUp(
        session,
        owningWorkflowIds(
          outcomes.flatMap((o) => o.jobs),
          opts.prefix,
        ),
      );
      const orphanRows: Row[] = [];
      const ownedRows: Row[] = [];
      for (const o of outcomes) {
        const judged = judgeJobs(o.jobs, lookups, opts.prefix);
        orphanRows.push(...judged.orphans.map((j) => rowOf(o.cluster, j)));
        ownedRows.push(...judged.owned.map((j) => rowOf(o.cluster, j)));
        if (opts.cancel && judged.orphans.length > 0) await cancelOrphans(resources, config, o, judged.orphans);
      }
      const errors = outcomes.flatMap((o) => (o.error === undefined ? [] : [{ cluster: o.cluster, message: o.error }]));
      if (opts.json) {
        printJson({
          namespace: session.namespace,
          clusters,
          ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
          orphans: orphanRows,
          owned: ownedRows,
          ...(opts.cancel
            ? {
                cancelled: idsOf(outcomes, (o) => o.cancelled),
                ended: idsOf(outcomes, (o) => o.ended),
                leftAlone: idsOf(outcomes, (o) => o.leftAlone),
              }
            : {}),
          errors,
        });
      } else {
        printText(opts, clusters, outcomes, orphanRows, ownedRows);
      }
      for (const e of errors) console.error(e.message);
      if (errors.length > 0) throw new CliError(ExitCode.Failed, ''); // the lines above said why
    });
  } finally {
    resources.close();
  }
}

/** Adds `cryoet orphans` to `program`. */
export function registerOrphansCommand(program: Command): void {
  withConfigOption(
    program
      .command('orphans')
      .description(
        'list queued or running jobs named cryoet.* whose workflow is not running (no such workflow, or closed);' +
          ' --cancel scancels them',
      )
      .option('--cluster <name>', 'only this cluster of temporal.yaml (default: all)')
      .option(
        '--prefix <workflow-id-prefix>',
        'only jobs whose workflow id starts with this (needed where other namespaces or servers share the cluster)',
      )
      .option('--cancel', 'scancel the orphans: one scancel per cluster, then print what was cancelled')
      .option('--json', 'print JSON'),
  ).action((opts: OrphansOptions) => orphans(opts));
}
