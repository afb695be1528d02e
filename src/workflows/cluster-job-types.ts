/**
 * clusterJob's input, durable state and result, and the small shapes its parts share.
 * Types and constants only; sandbox-safe.
 */
import type { JobResult, SubmittedJob } from '../activities/cluster-job.js';
import type { JobObservation } from '../scheduler/watcher.js';
import type { Placement } from '../slurm/placement.js';
import type { GrantedGpus, HungRung, JobEvent, JobEventKind, JobRecord, RefusedRung } from '../model/job-record.js';
import type { ExcludedNode } from '../model/excluded-node.js';
import type { RelionGeneration } from '../tools/refine-iterations.js';
import type { RelaxRequest, RelaxResult } from './operations.js';

/** An operator's `relax` between the update handler and the follow loop. */
export interface RelaxControl {
  /** The latest observation of the current job. */
  seen?: JobObservation;
  request?: RelaxRequest;
  answer?: RelaxResult | { readonly refused: string };
}

/** What to run, and the ladder of places to run it. */
export interface ClusterJobInput {
  /** Step name, part of the idempotency key (letters, digits, '_' or '-'). */
  readonly step: string;
  readonly placement: Placement;
  readonly command: readonly string[];
  /**
   * Replaces `command` when resubmitting after the job lost its node. With `fromIteration`,
   * the newest complete RELION iteration under `<dir>/<outRoot>` fills in `{{continue_from}}`
   * (none complete: the original command runs again).
   */
  readonly resume?: {
    readonly command: readonly string[];
    readonly fromIteration?: { readonly dir: string; readonly outRoot: string; readonly relion?: RelionGeneration };
  };
  readonly cpusPerTask?: number;
  readonly memMb?: number;
  /** Time limit on the first rung; each rung scales it by its timeScale. */
  readonly timeLimitMinutes?: number;
  readonly environment?: Readonly<Record<string, string>>;
  /** Let Slurm requeue the job under the same id (`--requeue`); followed, never copied. */
  readonly requeue?: boolean;
  /** Nodes to leave out (from the campaign's black-hole list); expired entries are ignored. */
  readonly exclude?: readonly ExcludedNode[];
  /**
   * Workflow id told (signals `nodeExcluded`, `jobSubmitted`) when this job excludes a node or
   * submits: the campaign.
   */
  readonly reportTo?: string;
  /**
   * Slurm job ids (on the first rung's cluster) this job waits for: it is queued at once
   * with `--dependency=afterok` and Slurm starts it the moment they have all COMPLETED.
   * Used until the job leaves that wait. If one of them ends otherwise, the workflow fails
   * with DependencyFailed (its job cancelled, if Slurm kept it pending); the caller runs the
   * step again. With `followMovedDependencies`, see there.
   */
  readonly afterJobs?: readonly string[];
  /**
   * The caller (the campaign) signals `dependencyMoved` when a job in `afterJobs` is
   * replaced. The job is queued with `--kill-on-invalid-dep=no`, so it stays pending when
   * the old job ends, and is re-pointed at the new one (`scontrol update`): the same Slurm
   * job runs (submitted again behind it only if Slurm ended it anyway). A dependency that
   * can no longer be satisfied is waited on, not failed, until the move comes or the
   * caller cancels the step. No FAILED workflow, no second step.
   */
  readonly followMovedDependencies?: boolean;
  /** Carried across continueAsNew; never set by callers. */
  readonly carried?: ClusterJobState;
}

/** Everything a run needs to pick up where the previous one stopped. */
export interface ClusterJobState {
  rung: number;
  attempt: number;
  reclaims: number;
  hung: HungRung[];
  refused: RefusedRung[];
  /** TIMEOUTs resubmitted so far, and the time-limit factor they added. */
  timeouts: number;
  timeFactor: number;
  /** Nodes this job found bad. */
  excluded: ExcludedNode[];
  events: JobEvent[];
  job?: SubmittedJob;
  /** Set once the current job has lost a node: resubmissions use the resume command. */
  resuming: boolean;
  /**
   * Set once a job has left the wait for `afterJobs` (ran, or waits for capacity): later
   * submissions need no dependency.
   */
  released?: boolean;
  /** The jobs to wait for now: `afterJobs` with every `dependencyMoved` applied. */
  after?: string[];
  /** The jobs the current Slurm job is queued behind (as submitted or last re-pointed). */
  jobAfter?: string[];
  /** The campaign's black-hole nodes as its newest `dependencyMoved` gave them; else `input.exclude`. */
  exclude?: ExcludedNode[];
  /** What Slurm granted the jobs, read once the job completed. */
  granted?: GrantedGpus[];
}

/** How the job ended. */
export interface ClusterJobResult {
  readonly job: SubmittedJob;
  readonly final: JobObservation;
  readonly result: JobResult;
  readonly record: JobRecord;
}

export type FollowOutcome =
  | { kind: 'done' | 'failed' | 'lost' | 'hung'; seen: JobObservation; pendingMs?: number; operator?: RelaxRequest }
  /** A job this one is queued behind was replaced (`dependencyMoved`). */
  | { kind: 'moved' };
export type Note = (kind: JobEventKind, fields?: Partial<JobEvent>) => void;

export const WAITING_MOVES = new Set(['pending', 'hang-candidate']);
export const MOVED = 'moved' as const;
/** Events that send a job back to be submitted again: a resubmission's reason. */
export const REPLACING: ReadonlySet<string> = new Set(['relaxed', 'lost', 'timeout', 'requeued', 'moved']);

/** Workflow time; deterministic inside the sandbox (replayed from history). */
export const now = (): number => new Date().getTime();
