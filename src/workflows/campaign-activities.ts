/**
 * Activity proxies for campaign workflows: file checks and small reads/writes on the
 * cluster (bounded retries; bad input never retried), and staging a binary (longer).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CryoActivities } from '../activities/index.js';
import { nonRetryableErrorTypes } from '../errors.js';

const retry = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 10,
  nonRetryableErrorTypes: [...nonRetryableErrorTypes],
};

export const fileOps = proxyActivities<CryoActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry,
});

export const stageOps = proxyActivities<CryoActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry,
});
