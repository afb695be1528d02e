/**
 * What every campaign command shares: temporal.yaml loaded, a client connected (closed
 * again afterwards), the campaign's handle described (unknown id → exit 3), Temporal calls
 * bounded by a deadline (a query or update that no worker answers never hangs the CLI),
 * and common options (-c/--config, --timeout, --json).
 */
import { userInfo } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  isGrpcCancelledError,
  isGrpcDeadlineError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { defaultConfigPath, loadConfig, type CryoConfig } from '../config.js';
import { connectClient } from '../client.js';
import { temporalTarget } from '../connection.js';
import { formatDuration, parseDuration } from '../duration.js';
import { CliError, ExitCode, toCliError, type ErrorContext } from './errors.js';

export interface Session {
  readonly config: CryoConfig;
  readonly client: Client;
  readonly address: string;
  readonly namespace: string;
}

/** Options every campaign command has. */
export interface CommonOptions {
  readonly config: string;
}

/** --json: print JSON instead of tables. */
export interface JsonOption {
  readonly json?: boolean;
}

/** Silent exit with `code` (the output already said why). */
export const exitWith = (code: number): CliError => new CliError(code, '');

/** Adds -c/--config. */
export function withConfigOption(cmd: Command): Command {
  return cmd.option(
    '-c, --config <file>',
    'temporal.yaml path ($CRYOET_CONFIG, else ./temporal.yaml)',
    defaultConfigPath(),
  );
}

/** Commander parser for a duration option (`10s`, `2m`): a bad one is a usage error. */
export function durationOption(text: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Adds --timeout <duration> (how long to wait for a worker to answer). */
export function withTimeoutOption(cmd: Command, what: string, fallback: string): Command {
  return cmd.addOption(durationFlag('--timeout <duration>', what, fallback));
}

/** A duration option (`10s`, `2m`) whose value is milliseconds; help shows the default as written. */
export function durationFlag(flags: string, what: string, fallback: string): Option {
  return new Option(flags, `${what} (e.g. 10s, 2m)`)
    .argParser(durationOption)
    .default(parseDuration(fallback), fallback);
}

/** temporal.yaml, or a usage error (exit 2) listing every problem. */
export async function loadCliConfig(file: string): Promise<CryoConfig> {
  try {
    return await loadConfig(file);
  } catch (err) {
    throw toCliError(err);
  }
}

/** Connects, runs `fn`, closes; any error becomes a {@link CliError}. */
export async function withClient<T>(
  config: CryoConfig,
  fn: (s: Session) => Promise<T>,
  ctx: ErrorContext = {},
): Promise<T> {
  let target;
  try {
    target = temporalTarget(config);
  } catch (err) {
    throw new CliError(ExitCode.Usage, `temporal.yaml temporal: ${(err as Error).message}`);
  }
  const address = target.connectionOptions.address ?? '127.0.0.1:7233';
  const where: ErrorContext = { ...ctx, address, namespace: target.namespace };
  let connected;
  try {
    connected = await connectClient(config);
  } catch (err) {
    throw new CliError(
      ExitCode.Failed,
      `cannot reach Temporal at ${address} (namespace ${target.namespace}): ${(err as Error).message}`,
    );
  }
  try {
    return await fn({ config, client: connected.client, address, namespace: target.namespace });
  } catch (err) {
    throw toCliError(err, where);
  } finally {
    await connected.close().catch(() => {});
  }
}

/** Loads the config, connects and runs `fn`. */
export async function withSession<T>(
  opts: CommonOptions,
  fn: (s: Session) => Promise<T>,
  ctx: ErrorContext = {},
): Promise<T> {
  return withClient(await loadCliConfig(opts.config), fn, ctx);
}

/** A workflow's handle and description; unknown id → exit 3. */
export async function describeWorkflow(
  session: Session,
  id: string,
): Promise<{ handle: WorkflowHandle; description: WorkflowExecutionDescription }> {
  const handle = session.client.workflow.getHandle(id);
  const description = await handle.describe(); // WorkflowNotFoundError → exit 3 (toCliError)
  return { handle, description };
}

/** {@link describeWorkflow}, and a usage error unless it is a campaign. */
export async function describeCampaign(
  session: Session,
  id: string,
): Promise<{ handle: WorkflowHandle; description: WorkflowExecutionDescription }> {
  const found = await describeWorkflow(session, id);
  if (found.description.type !== 'campaign') {
    throw new CliError(
      ExitCode.Usage,
      `workflow ${JSON.stringify(id)} is a ${found.description.type} workflow, not a campaign`,
    );
  }
  return found;
}

/**
 * Runs one Temporal call (query, update) with a deadline. When it passes: exit 1 with
 * `what` and a hint that no worker is polling `taskQueue`.
 */
export async function bounded<T>(
  session: Session,
  ms: number,
  what: string,
  taskQueue: string,
  fn: () => Promise<T>,
  note = '',
): Promise<T> {
  try {
    return await session.client.withDeadline(Date.now() + ms, fn);
  } catch (err) {
    // Past the deadline the SDK reports DEADLINE_EXCEEDED, or for updates sometimes a
    // cancelled call (WorkflowUpdateRPCTimeoutOrCancelledError, CANCELLED): nothing else cancels here.
    if (
      isGrpcDeadlineError(err) ||
      isGrpcCancelledError(err) ||
      err instanceof WorkflowUpdateRPCTimeoutOrCancelledError
    ) {
      throw new CliError(
        ExitCode.Failed,
        `${what}: no answer within ${formatDuration(ms)}; is a worker running for task queue ${taskQueue}?${note}`,
      );
    }
    throw err;
  }
}

/** Who runs the command, for `by` fields and reasons. */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? process.env['LOGNAME'] ?? 'unknown';
  }
}

/** Prints JSON (two-space indent). */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** True while the workflow has not closed. */
export function isRunning(description: WorkflowExecutionDescription): boolean {
  return description.status.name === 'RUNNING';
}
