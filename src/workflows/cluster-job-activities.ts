/**
 * Activity proxies for clusterJob, one per profile: short operations (submit, cancel,
 * read a result) with bounded retries, and the long watch that heartbeats.
 * SSH and scheduler faults retry with backoff; bad input never does.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CryoActivities } from '../activities/index.js';
import { nonRetryableErrorTypes } from '../errors.js';

type ClusterJobActivities = CryoActivities;

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  nonRetryableErrorTypes: [...nonRetryableErrorTypes],
};

/**
 * submitJob, cancelJob, readJobResult: up to two minutes each (the SSH command timeout
 * and some), heartbeating, so a worker that dies mid-call is noticed in 10 s; retried
 * for up to 10 attempts. A retried submit re-attaches to the job by its name.
 */
export const clusterOps = proxyActivities<ClusterJobActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  retry: { ...retry, maximumAttempts: 10 },
});

/**
 * watchJob: waits as long as the job does. The heartbeat timeout is what notices a dead
 * worker; the retry re-registers the same job id on the next worker.
 */
export const watchOps = proxyActivities<ClusterJobActivities>({
  startToCloseTimeout: '24 hours',
  heartbeatTimeout: '30 seconds',
  retry,
});
