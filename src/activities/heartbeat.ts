/**
 * Heartbeats for short activities. Submit, cancel and read take well under a second
 * normally but can wait up to the SSH command timeout on a busy controller; beating
 * every two seconds lets a short heartbeat timeout notice a dead worker quickly without
 * cutting off a slow but live command.
 */
import { Context } from '@temporalio/activity';

/** Runs body while heartbeating every `everyMs`. */
export async function whileHeartbeating<T>(body: () => Promise<T>, everyMs = 2000): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), everyMs);
  try {
    return await body();
  } finally {
    clearInterval(timer);
  }
}
