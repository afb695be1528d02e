/**
 * Concurrent branches of a workflow, settled when they are created.
 *
 * A workflow task fails (and is retried for ever, with every command it carried lost)
 * when a promise rejects and nothing is attached to it by the end of the activation: a
 * child's result nobody awaits yet, a poller beside the main line, a pool of series. So
 * every branch a workflow runs beside its main line is a Task: its own cancellation scope,
 * and an `outcome` that never rejects ({ ok } or { err }). The main line reads the outcome
 * when it needs it, or never; nothing can reject unobserved.
 *
 * `drain()` is the one way out of a workflow that started tasks: it cancels the ones
 * still running and waits, uncancellable, until each has ended (children closed, their
 * Slurm jobs cancelled), so a workflow never closes over work of its own still in flight.
 * Sandbox-safe.
 */
import { CancellationScope } from '@temporalio/workflow';

export type Outcome<T> = { readonly ok: T } | { readonly err: unknown };

/** One branch: its scope, whether it has ended, and how (never rejects). */
export interface Task<T> {
  readonly scope: CancellationScope;
  readonly outcome: Promise<Outcome<T>>;
  readonly ended: boolean;
}

export class TaskGroup {
  readonly #tasks: Task<unknown>[] = [];

  /** Runs `body` now in a scope of its own, a child of the current scope. */
  start<T>(body: () => Promise<T>): Task<T> {
    const scope = new CancellationScope();
    return this.adopt(scope, scope.run(body));
  }

  /**
   * Tracks `result`, already running in `scope` (e.g. a started child's result). `onEnd`
   * runs as it ends, before anyone reading `outcome` (an error it throws becomes the outcome).
   */
  adopt<T>(scope: CancellationScope, result: Promise<T>, onEnd?: (outcome: Outcome<T>) => void): Task<T> {
    const task = { scope, ended: false, outcome: undefined as unknown as Promise<Outcome<T>> };
    const settled = result.then(
      (ok): Outcome<T> => ({ ok }),
      (err: unknown): Outcome<T> => ({ err }),
    );
    task.outcome = settled.then((outcome): Outcome<T> => {
      task.ended = true;
      try {
        onEnd?.(outcome);
      } catch (err) {
        return { err };
      }
      return outcome;
    });
    this.#tasks.push(task);
    return task;
  }

  /** The tasks still running. */
  get open(): readonly Task<unknown>[] {
    return this.#tasks.filter((t) => !t.ended);
  }

  /** Cancels every task still running, then waits (uncancellable) until all have ended. */
  async drain(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      // A task may start another as it ends (a step run again): until none is left.
      for (let open = this.open; open.length > 0; open = this.open) {
        for (const task of open) task.scope.cancel();
        await Promise.all(open.map((t) => t.outcome));
      }
    });
  }
}
