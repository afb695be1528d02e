/**
 * The border between our errors and Temporal's: a CryoError leaves an activity as an
 * ApplicationFailure with the same type, non-retryable when its type says so.
 */
import { ApplicationFailure } from '@temporalio/common';
import { CryoError } from '../errors.js';

/** Runs an activity body, converting CryoErrors into typed ApplicationFailures. */
export async function toApplicationFailure<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof CryoError) {
      throw ApplicationFailure.create({
        type: err.type,
        message: err.message,
        nonRetryable: err.nonRetryable,
        details: err.details ? [err.details] : undefined,
      });
    }
    throw err;
  }
}
