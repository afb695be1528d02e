/**
 * A campaign's reconstructions: one tiltSeries child per series, in parallel up to
 * limits.maxParallelTiltSeries, each queued in Slurm behind the probe's job (a series started
 * before that job exists waits for the reconstructAfter signal). Failures are collected, not
 * fatal; a series its failed probe job stopped runs again once the probe passed.
 * Deterministic; sandbox-safe.
 */
import { type ChildWorkflowHandle, isCancellation, startChild } from '@temporalio/workflow';
import type { CampaignInput } from '../campaign/input.js';
import { ErrorType, hasErrorType, innermostMessage } from '../errors.js';
import { describeLadder } from '../slurm/placement.js';
import { tiltSeries, type TiltSeriesResult } from './tilt-series.js';
import type { Task } from './tasks.js';
import type { CampaignState } from './campaign-state.js';
import type { CampaignSteps, Launched } from './campaign-steps.js';
import { reconstructAfterSignal, type ReconstructAfter } from './operations.js';

/** The series pool of one campaign run. */
export interface SeriesPool {
  readonly done: TiltSeriesResult[];
  readonly failed: { name: string; error: string }[];
  /** The probe's step, once launched. */
  probe: Launched | undefined;
  /** The pool's task, once started. */
  readonly task: Task<unknown> | undefined;
  start(): void;
  /**
   * What every series queues behind from now on; the series started before (waiting for the
   * probe's job) are told.
   */
  release(after: ReconstructAfter): Promise<void>;
  /** Stops the series (none reconstructed is kept) and waits until each child has closed. */
  stop(): Promise<void>;
}

export function seriesPool(
  input: CampaignInput,
  state: CampaignState,
  steps: Pick<CampaignSteps, 'childOptions' | 'record'>,
  aretomo2: string,
): SeriesPool {
  const { spec } = input;
  const { id, status, tasks, endedAs, placementContext, isCancelled } = state;
  const { childOptions, record } = steps;
  const done: TiltSeriesResult[] = [];
  const failed: { name: string; error: string }[] = [];
  const queue = spec.tiltSeries.map((ts) => ts.name);
  /** What a series started now queues behind; undefined until the probe is submitted. */
  let released: ReconstructAfter | undefined;
  const waiting: ChildWorkflowHandle<typeof tiltSeries>[] = [];
  const runSeries = async (name: string, suffix: string): Promise<TiltSeriesResult> => {
    // The child gets the campaign with its own series only: with the whole list, the
    // children's inputs grow as N² (500 series overran Temporal's 4 MB message limit).
    const campaign = { ...input, spec: { ...spec, tiltSeries: spec.tiltSeries.filter((ts) => ts.name === name) } };
    const early = released === undefined;
    const after = early
      ? { waitForProbe: true }
      : pool.probe?.task.ended || !released!.afterJobs
        ? {}
        : { afterJobs: released!.afterJobs };
    const handle = await startChild(tiltSeries, {
      ...childOptions(suffix, {
        tiltSeries: name,
        summary: `${name} · align+reconstruct · ${describeLadder(input.placements.reconstruct.ladder)}`,
      }),
      args: [{ campaign, name, aretomo2, ...placementContext(), ...after }],
    });
    if (early) {
      // A child that already ended (bad input) needs no signal; its result says why.
      if (released) await handle.signal(reconstructAfterSignal, released).catch(() => undefined);
      else waiting.push(handle);
    }
    return await handle.result();
  };
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      // Cancelled (the campaign, or the series by a failed probe): start no more.
      if (isCancelled()) {
        status.tiltSeries[name] = { status: 'cancelled' };
        continue;
      }
      status.tiltSeries[name] = { status: 'running' };
      status.running[name] = `${id}/${name}/reconstruct`;
      try {
        let result: TiltSeriesResult;
        try {
          result = await runSeries(name, name);
        } catch (err) {
          // Queued behind a probe job that did not complete: once the probe has passed, again.
          const probe = pool.probe;
          if (!probe || !hasErrorType(err, ErrorType.DependencyFailed) || 'err' in (await probe.task.outcome))
            throw err;
          result = await runSeries(name, `${name}-again`);
        }
        done.push(result);
        record(result.step);
        status.tiltSeries[name] = { status: 'done', tomogram: result.tomogram };
      } catch (err) {
        if (isCancellation(err) && isCancelled()) {
          endedAs[`${id}/${name}/reconstruct`] = 'cancelled';
          status.tiltSeries[name] = { status: 'cancelled' };
          continue;
        }
        const error = innermostMessage(err);
        failed.push({ name, error });
        status.tiltSeries[name] = { status: 'failed', error };
      } finally {
        delete status.running[name];
      }
    }
  };
  let task: Task<unknown> | undefined;
  const pool: SeriesPool = {
    done,
    failed,
    probe: undefined,
    get task() {
      return task;
    },
    start() {
      task = tasks.start(() =>
        Promise.all(Array.from({ length: Math.min(spec.limits.maxParallelTiltSeries, queue.length) }, worker)),
      );
    },
    async release(after) {
      released = after;
      await Promise.all(
        waiting.splice(0).map((handle) => handle.signal(reconstructAfterSignal, after).catch(() => undefined)),
      );
    },
    async stop() {
      task?.scope.cancel();
      await task?.outcome;
    },
  };
  return pool;
}
