/** The activity factory: every cryoet activity, over injected worker resources. */
import type { ActivityDeps } from './deps.js';
import { createClusterJobActivities } from './cluster-job.js';

/** All activities the plugin registers. */
export function createActivities(deps: ActivityDeps) {
  return { ...createClusterJobActivities(deps) };
}

/** The activity interface workflows proxy (`import type` only). */
export type CryoActivities = ReturnType<typeof createActivities>;
