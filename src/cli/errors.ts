/**
 * Exit codes of the `cryoet` command and the translation of whatever a command throws
 * (config errors, Temporal client errors, gRPC status codes) into one clear line and a code:
 *
 *   0 ok · 1 campaign failed or operation refused · 2 usage or config error · 3 not found
 */
import {
  isGrpcDeadlineError,
  isGrpcServiceError,
  NamespaceNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { CryoError, ErrorType } from '../errors.js';

export const ExitCode = { Ok: 0, Failed: 1, Usage: 2, NotFound: 3 } as const;

/** An error the CLI prints as is (one line unless it lists problems) and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** `message: cause: cause…` on one line, each message once. */
export function oneLine(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    for (const piece of message
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean)) {
      if (!parts.some((p) => p.includes(piece))) parts.push(piece);
    }
    e = e instanceof Error ? (e as Error & { cause?: unknown }).cause : undefined;
  }
  return parts.join(': ');
}

/** The gRPC status code in `err` or its causes (14 UNAVAILABLE, 3 INVALID_ARGUMENT, ...). */
export function grpcCode(err: unknown): number | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; depth++) {
    if (isGrpcServiceError(e)) return e.code;
    e = (e as Error & { cause?: unknown }).cause;
  }
  return undefined;
}

/** Where the command was talking to, for messages. */
export interface ErrorContext {
  readonly workflowId?: string;
  readonly address?: string;
  readonly namespace?: string;
}

/** Translates anything a command threw into a {@link CliError}. */
export function toCliError(err: unknown, ctx: ErrorContext = {}): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof CryoError) {
    const usage =
      err.type === ErrorType.ConfigInvalid || err.type === ErrorType.NameInvalid || err.type === ErrorType.InputInvalid;
    return new CliError(usage ? ExitCode.Usage : ExitCode.Failed, err.message);
  }
  if (err instanceof WorkflowNotFoundError) {
    const id = ctx.workflowId ?? err.workflowId;
    return new CliError(
      ExitCode.NotFound,
      `workflow ${JSON.stringify(id)} not found${ctx.namespace ? ` in namespace ${ctx.namespace}` : ''}`,
    );
  }
  if (err instanceof NamespaceNotFoundError) {
    const at = ctx.address ? ` at ${ctx.address}` : '';
    return new CliError(
      ExitCode.Usage,
      `namespace ${JSON.stringify(err.namespace)} not found${at}: check temporal.namespace in temporal.yaml`,
    );
  }
  if (err instanceof WorkflowExecutionAlreadyStartedError) {
    return new CliError(
      ExitCode.Failed,
      `a workflow with id ${JSON.stringify(err.workflowId)} already exists and its id cannot be reused:` +
        ' pass another --id',
    );
  }
  if (isGrpcDeadlineError(err))
    return new CliError(ExitCode.Failed, `Temporal did not answer in time: ${oneLine(err)}`);
  const code = grpcCode(err);
  const where = ctx.address ? ` at ${ctx.address}${ctx.namespace ? ` (namespace ${ctx.namespace})` : ''}` : '';
  if (code === 14) return new CliError(ExitCode.Failed, `cannot reach Temporal${where}: ${oneLine(err)}`);
  if (code === 3) return new CliError(ExitCode.Usage, `Temporal refused the request: ${oneLine(err)}`);
  if (code === 5) {
    // NOT_FOUND of a namespace is a config error; of a workflow, a wrong id.
    const text = oneLine(err);
    return new CliError(/namespace/i.test(text) ? ExitCode.Usage : ExitCode.NotFound, text);
  }
  if (code === 7 || code === 16)
    return new CliError(ExitCode.Usage, `Temporal refused the credentials${where}: ${oneLine(err)}`);
  return new CliError(ExitCode.Failed, oneLine(err));
}
