/** The activity factory: every cryoet activity, over injected worker resources. */
import type { ActivityDeps } from './deps.js';
import { createCampaignFileActivities } from './campaign-files.js';
import { createClusterJobActivities } from './cluster-job.js';
import { createStageBinaryActivities } from './stage-binary.js';
import { createTruthCheckActivities } from './truth-check.js';
import { createGrantedGpusActivities } from './granted-gpus.js';

/** All activities the plugin registers. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createClusterJobActivities(deps),
    ...createStageBinaryActivities(deps),
    ...createCampaignFileActivities(deps),
    ...createTruthCheckActivities(deps),
    ...createGrantedGpusActivities(deps),
  };
}

/** The activity interface workflows proxy (`import type` only). */
export type CryoActivities = ReturnType<typeof createActivities>;
