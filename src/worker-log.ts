/**
 * The worker's log lines: one line per entry, with what happened and where (workflow,
 * activity) and the error's message chain, never a stack trace. The SDK's default logger
 * prints a multi-line object with every stack, so an expected event (a step cancelled by
 * design, an activity retried while sshd restarts) read like a crash. At DEBUG or TRACE
 * the full entry follows its line, stacks included, for whoever needs the detail.
 */
import { DefaultLogger, type LogEntry, type LogLevel } from '@temporalio/worker';
import { inspect } from 'node:util';

/** The error's message and its causes', innermost last: `a: b (caused by c)`. */
function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (
    let e = err as { message?: unknown; cause?: unknown; type?: unknown } | undefined;
    e && parts.length < 6;
    e = e.cause as typeof e
  ) {
    const message = typeof e.message === 'string' ? e.message : String(e);
    const type = typeof e.type === 'string' ? ` [${e.type}]` : '';
    if (message || type) parts.push(`${message}${type}`);
  }
  return parts.join(' ← ');
}

const WHERE_KEYS = ['workflowType', 'workflowId', 'activityType', 'activityId', 'attempt'] as const;

/** One line for an SDK log entry: time, level, message, where, and the error chain. */
export function formatLogLine(entry: Pick<LogEntry, 'level' | 'message' | 'meta' | 'timestampNanos'>): string {
  const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = (entry.meta ?? {}) as Record<string, unknown>;
  const where = WHERE_KEYS.filter((k) => meta[k] !== undefined)
    .map((k) => `${k}=${String(meta[k])}`)
    .join(' ');
  const err = meta['error'] ?? meta['failure'];
  const cause = err === undefined ? '' : `: ${errorChain(err)}`;
  return `${at} [${entry.level}] ${entry.message}${where ? ` (${where})` : ''}${cause}`.replace(/\s*\n\s*/g, ' ');
}

/** The worker's logger at `level`: one line an entry; at DEBUG and TRACE, the whole entry after it. */
export function conciseLogger(
  level: LogLevel,
  write: (text: string) => void = (t) => process.stderr.write(t),
): DefaultLogger {
  const detail = level === 'DEBUG' || level === 'TRACE';
  return new DefaultLogger(level, (entry) => {
    write(`${formatLogLine(entry)}\n`);
    if (detail && entry.meta && Object.keys(entry.meta).length > 0) write(`${inspect(entry.meta, { depth: 6 })}\n`);
  });
}

/** `CRYOET_LOG_LEVEL` (TRACE, DEBUG, INFO, WARN, ERROR), else `fallback`. */
export function logLevelFromEnv(fallback: LogLevel, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const value = env['CRYOET_LOG_LEVEL']?.toUpperCase();
  return value === 'TRACE' || value === 'DEBUG' || value === 'INFO' || value === 'WARN' || value === 'ERROR'
    ? value
    : fallback;
}
