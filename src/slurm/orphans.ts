/**
 * Orphan jobs: jobs in the queue named `cryoet.<key>` whose owning workflow is not
 * running any more (a campaign that crashed, was terminated, or cancelled while no worker
 * ran its `scancel`). Pure: the squeue call to make and how to read it, who owns each
 * job, the orphan verdict and the scancel to run. `cryoet orphans` (src/cli/orphans.ts)
 * does the I/O.
 *
 * The owner comes from the job name alone: the name carries the idempotency key
 * (`job-key.ts`), `<workflow id>/<step>-<attempt>`, so the workflow id is the key minus
 * its last segment.
 */
import { CryoError, ErrorType } from '../errors.js';
import { malformedLine, present, ROW_JOB_ID } from './rows.js';
import { keyFromJobName } from './job-key.js';
import { assertSafeName } from './names.js';

/**
 * Fields, `|`-separated: job id, long state, submit time, node list, job name. The name
 * comes LAST: the listing covers every job of the user, including ones we did not submit,
 * whose names may hold a `|`; as the last field it is everything after the fourth `|`, and
 * such a name then fails the key grammar (not ours) instead of shifting the other fields.
 * Ids, states, times and node lists never contain a `|`. No reason column: reasons can
 * (test/fixtures/squeue-ugly.txt), and an orphan's story is its workflow, not its reason.
 */
export const ORPHAN_SQUEUE_FORMAT = '%i|%T|%V|%N|%j';

const FIELD_COUNT = 5;
/** A job id `scancel` gets from us: a plain job, never an array expression. */
export const PLAIN_JOB_ID = /^[0-9]+$/;

/**
 * argv for the one listing call: `squeue -h -u <user> -o ORPHAN_SQUEUE_FORMAT`. Without
 * `-t`, squeue lists jobs that are not finished (pending, running, suspended, completing,
 * ...): exactly the ones that still hold or wait for resources. squeue cannot match a
 * name prefix, so the `cryoet.` filter is {@link parseOurJobs}'s. Throws `NameInvalid`
 * for an unsafe user name.
 */
export function buildOrphanSqueueArgs(user: string): string[] {
  assertSafeName(user, 'user');
  return ['squeue', '-h', '-u', user, '-o', ORPHAN_SQUEUE_FORMAT];
}

/** A job of ours in the queue, and the workflow that owns it. */
export interface OurJob {
  readonly jobId: string;
  /** Long state as squeue prints it (`PENDING`, `RUNNING`, ...). */
  readonly state: string;
  /** Cluster-local submit time (`YYYY-MM-DDTHH:MM:SS`); it resets on requeue. */
  readonly submitTime?: string;
  readonly nodes?: string;
  readonly name: string;
  /** The idempotency key the name carries, `<workflow id>/<step>-<attempt>`. */
  readonly key: string;
  /** The workflow that submitted the job: the key minus its last segment. */
  readonly workflowId: string;
}

/**
 * The key and owning workflow id a job name carries, or `undefined` when the name is not
 * ours: no `cryoet.` prefix, a segment outside the key grammar, or a key of one segment
 * (every key we build is `<workflow id>/<step>`, so it has at least two).
 */
export function ownerOf(name: string): { key: string; workflowId: string } | undefined {
  const key = keyFromJobName(name);
  if (key === undefined) return undefined;
  const cut = key.lastIndexOf('/');
  if (cut <= 0) return undefined;
  return { key, workflowId: key.slice(0, cut) };
}

/**
 * Reads {@link ORPHAN_SQUEUE_FORMAT} output and keeps our jobs: those whose name
 * {@link ownerOf} recognises. Blank lines are skipped; other users' names are ignored
 * silently (they are not ours to judge). Throws `StatusQueryFailed` naming the line
 * (number and text) for fewer than five fields, a job id that is not one, or an empty
 * state: a listing we cannot read must never turn into a decision to cancel.
 */
export function parseOurJobs(stdout: string): OurJob[] {
  const jobs: OurJob[] = [];
  const lines = stdout.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const fields = line.split('|');
    if (fields.length < FIELD_COUNT)
      throw malformedLine(
        'squeue',
        i + 1,
        line,
        `${fields.length} fields, expected ${FIELD_COUNT}`,
        ORPHAN_SQUEUE_FORMAT,
      );
    const [jobId = '', state = '', submitTime = '', nodes = ''] = fields.map((f) => f.trim());
    if (!ROW_JOB_ID.test(jobId))
      throw malformedLine('squeue', i + 1, line, `job id ${JSON.stringify(jobId)}`, ORPHAN_SQUEUE_FORMAT);
    if (state === '') throw malformedLine('squeue', i + 1, line, 'empty state', ORPHAN_SQUEUE_FORMAT);
    const name = fields
      .slice(FIELD_COUNT - 1)
      .join('|')
      .trim();
    const owner = ownerOf(name);
    if (owner === undefined) return;
    const submitted = present(submitTime);
    const on = present(nodes);
    jobs.push({
      jobId,
      state,
      ...(submitted === undefined ? {} : { submitTime: submitted }),
      ...(on === undefined ? {} : { nodes: on }),
      name,
      ...owner,
    });
  });
  return jobs;
}

/** What Temporal says about a workflow id (its latest run). */
export type WorkflowLookup = { readonly found: false } | { readonly found: true; readonly status: string };

/**
 * Closed statuses: no run of the workflow is left to watch or cancel the job.
 * CONTINUED_AS_NEW is not here: describing a workflow id gives its latest run, and a run
 * that continued as new has a newer one carrying the job on (seen only in a race).
 */
const CLOSED: ReadonlySet<string> = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TERMINATED', 'TIMED_OUT']);

/** Orphan or not, and why, in words for the table. */
export interface Verdict {
  readonly orphan: boolean;
  readonly why: string;
}

/**
 * The verdict for a job whose workflow's latest run looks like `lookup`: orphan when the
 * workflow does not exist ("no such workflow") or has closed ("workflow COMPLETED").
 * Anything else (RUNNING, CONTINUED_AS_NEW, a status this code does not know, or no
 * lookup at all) leaves the job alone: cancelling is only for what is proven orphan.
 */
export function verdictFor(lookup: WorkflowLookup | undefined): Verdict {
  if (lookup === undefined) return { orphan: false, why: 'workflow not looked up: left alone' };
  if (!lookup.found) return { orphan: true, why: 'no such workflow' };
  if (CLOSED.has(lookup.status)) return { orphan: true, why: `workflow ${lookup.status}` };
  if (lookup.status === 'RUNNING') return { orphan: false, why: 'workflow RUNNING' };
  if (lookup.status === 'CONTINUED_AS_NEW')
    return { orphan: false, why: 'workflow CONTINUED_AS_NEW: a newer run carries it' };
  return { orphan: false, why: `workflow ${lookup.status}: not closed, left alone` };
}

/** True when `workflowId` is selected by `prefix` (every id when there is none). */
export function matchesPrefix(workflowId: string, prefix: string | undefined): boolean {
  return prefix === undefined || workflowId.startsWith(prefix);
}

/** The distinct workflow ids to look up, in first-seen order, restricted to `prefix`. */
export function owningWorkflowIds(jobs: readonly OurJob[], prefix?: string): string[] {
  return [...new Set(jobs.filter((j) => matchesPrefix(j.workflowId, prefix)).map((j) => j.workflowId))];
}

/** A job and its verdict. */
export type JudgedJob = OurJob & Verdict;

/** Our jobs under `prefix`, split into orphans and owned ones by their workflow's lookup. */
export function judgeJobs(
  jobs: readonly OurJob[],
  lookups: ReadonlyMap<string, WorkflowLookup>,
  prefix?: string,
): { orphans: JudgedJob[]; owned: JudgedJob[] } {
  const orphans: JudgedJob[] = [];
  const owned: JudgedJob[] = [];
  for (const job of jobs) {
    if (!matchesPrefix(job.workflowId, prefix)) continue;
    const judged = { ...job, ...verdictFor(lookups.get(job.workflowId)) };
    (judged.orphan ? orphans : owned).push(judged);
  }
  return { orphans, owned };
}

/**
 * argv for the one cancel call: `scancel -u <user> <id>...`. `-u`: scancel touches the
 * listed ids only while they are still this user's jobs. No `--quiet`: Slurm 22.05 exits 1
 * silently with it when a listed job has ended meanwhile, and then a refusal cannot be told
 * from a race ({@link readScancelResult} reads the messages instead). Duplicates are
 * dropped. Throws `NameInvalid` for an empty list, an unsafe user, or an id that is not a
 * plain job id ({@link PLAIN_JOB_ID}: we never submit arrays, and `123_[5-9]` must not
 * reach a command line by accident).
 */
export function buildOrphanScancelArgs(user: string, jobIds: readonly string[]): string[] {
  assertSafeName(user, 'user');
  if (jobIds.length === 0)
    throw new CryoError(ErrorType.NameInvalid, 'scancel job ids: empty list; skip the call when there is no orphan', {
      jobIds,
    });
  const bad = jobIds.find((id) => !PLAIN_JOB_ID.test(id));
  if (bad !== undefined)
    throw new CryoError(ErrorType.NameInvalid, `scancel job id ${JSON.stringify(bad)}: expected digits only`, {
      jobId: bad,
    });
  return ['scancel', '-u', user, ...new Set(jobIds)];
}

/** `scancel: error: Kill job error on job id 58: Invalid job id specified` (Slurm 22.05). */
const KILL_ERROR = /job id ([0-9]+)[^:]*:\s*(.*)$/i;
/** The job ended between the listing and the cancel: gone already, which is what we wanted. */
const ALREADY_ENDED = /Invalid job id specified|already completed|already completing or completed/i;

/** What a scancel run says. */
export interface ScancelResult {
  /** Ids scancel could not find or found finished (ended since the listing). */
  readonly ended: string[];
  /** stderr lines that are real failures (permission denied, controller down, ...); empty when it worked. */
  readonly problems: string[];
}

/**
 * Reads scancel's exit code and stderr. Exit 0: done. Otherwise every stderr line must
 * name a job that has ended (`Invalid job id specified`, `already completed`); any other
 * line, or a non-zero exit with nothing on stderr, is a problem the caller reports.
 */
export function readScancelResult(exitCode: number | null, stderr: string): ScancelResult {
  if (exitCode === 0) return { ended: [], problems: [] };
  const ended: string[] = [];
  const problems: string[] = [];
  for (const line of stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const m = KILL_ERROR.exec(line);
    if (m && ALREADY_ENDED.test(m[2] ?? '')) ended.push(m[1]!);
    else problems.push(line);
  }
  if (ended.length === 0 && problems.length === 0)
    problems.push(`scancel exited ${exitCode ?? 'by a signal'} with nothing on stderr`);
  return { ended, problems };
}
