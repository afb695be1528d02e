/**
 * How the campaign commands turn errors into one line and an exit code (0 ok, 1 failed or
 * refused, 2 usage or config, 3 not found), and the Temporal UI base (--ui, CRYOET_UI).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ApplicationFailure,
  NamespaceNotFoundError,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { RetryState } from '@temporalio/common';
import { CryoError, ErrorType } from '../../src/errors.js';
import { CliError, ExitCode, grpcCode, oneLine, toCliError } from '../../src/cli/errors.js';
import { uiBase, uiLink } from '../../src/cli/describe.js';
import { failureMessage } from '../../src/cli/outcome.js';
import type { CryoConfig } from '../../src/config.js';

/** A gRPC error as @grpc/grpc-js makes them. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

describe('cli errors', () => {
  test('oneLine joins the cause chain once, on one line', () => {
    const err = new Error('Failed to query Workflow', {
      cause: new Error('4 DEADLINE_EXCEEDED: Deadline exceeded\nafter 3s'),
    });
    assert.equal(oneLine(err), 'Failed to query Workflow: 4 DEADLINE_EXCEEDED: Deadline exceeded: after 3s');
    assert.equal(oneLine(new Error('same', { cause: new Error('same') })), 'same');
    assert.equal(oneLine('text'), 'text');
  });

  test('grpcCode finds the status code in the causes', () => {
    assert.equal(grpcCode(new ServiceError('Failed to list workflows', { cause: grpcError(3, 'invalid query') })), 3);
    assert.equal(grpcCode(new Error('plain')), undefined);
  });

  test('exit codes: not found 3, usage/config 2, refused 1', () => {
    const notFound = toCliError(new WorkflowNotFoundError('workflow not found for ID: x', 'x', undefined), {
      namespace: 'default',
    });
    assert.equal(notFound.exitCode, ExitCode.NotFound);
    assert.equal(notFound.message, 'workflow "x" not found in namespace default');

    assert.equal(toCliError(new CryoError(ErrorType.ConfigInvalid, 'temporal.yaml: bad')).exitCode, ExitCode.Usage);
    assert.equal(toCliError(new CryoError(ErrorType.InputInvalid, 'campaign.yaml: bad')).exitCode, ExitCode.Usage);
    assert.equal(toCliError(new CryoError(ErrorType.NameInvalid, 'bad id')).exitCode, ExitCode.Usage);
    assert.equal(toCliError(new CryoError(ErrorType.SshUnavailable, 'ssh')).exitCode, ExitCode.Failed);
    assert.equal(toCliError(new NamespaceNotFoundError('lab')).exitCode, ExitCode.Usage);

    const exists = toCliError(new WorkflowExecutionAlreadyStartedError('exists', 'c1', 'campaign'));
    assert.equal(exists.exitCode, ExitCode.Failed);
    assert.match(exists.message, /"c1" already exists .*--id/);

    const badQuery = toCliError(new ServiceError('Failed to list workflows', { cause: grpcError(3, 'invalid query') }));
    assert.equal(badQuery.exitCode, ExitCode.Usage);
    assert.equal(badQuery.message, 'Temporal refused the request: Failed to list workflows: 3 invalid query');

    const down = toCliError(
      new ServiceError('Failed to describe workflow', { cause: grpcError(14, 'No connection established') }),
      { address: '127.0.0.1:7233', namespace: 'default' },
    );
    assert.equal(down.exitCode, ExitCode.Failed);
    assert.match(down.message, /^cannot reach Temporal at 127\.0\.0\.1:7233 \(namespace default\): /);

    const deadline = toCliError(
      new ServiceError('Failed to query Workflow', { cause: grpcError(4, 'Deadline exceeded') }),
    );
    assert.equal(deadline.exitCode, ExitCode.Failed);
    assert.match(deadline.message, /did not answer in time/);

    const passthrough = new CliError(7, 'kept');
    assert.equal(toCliError(passthrough), passthrough);
    assert.equal(toCliError(new Error('boom')).exitCode, ExitCode.Failed);
  });

  test('failureMessage drops the client wrapper and keeps the cause', () => {
    const err = new WorkflowFailedError(
      'Workflow execution failed',
      ApplicationFailure.create({ message: 'picks rejected by bob' }),
      RetryState.NON_RETRYABLE_FAILURE,
    );
    assert.equal(failureMessage(err), 'picks rejected by bob');
    assert.equal(failureMessage(new Error('other')), 'other');
  });
});

describe('cli UI link', () => {
  const config = {
    temporal: { ui: 'http://127.0.0.1:8233', namespace: 'default', taskQueue: 'cryoet' },
  } as unknown as CryoConfig;

  test('--ui wins over CRYOET_UI, which wins over temporal.yaml; empty CRYOET_UI is unset', () => {
    const saved = process.env['CRYOET_UI'];
    try {
      delete process.env['CRYOET_UI'];
      assert.equal(uiBase(config), 'http://127.0.0.1:8233');
      process.env['CRYOET_UI'] = '';
      assert.equal(uiBase(config), 'http://127.0.0.1:8233');
      process.env['CRYOET_UI'] = 'https://temporal.lab.org';
      assert.equal(uiBase(config), 'https://temporal.lab.org');
      assert.equal(uiBase(config, 'http://ui:8080/'), 'http://ui:8080/');
      assert.throws(
        () => uiBase(config, 'ftp://x'),
        (e: unknown) => e instanceof CliError && e.exitCode === ExitCode.Usage,
      );
      assert.throws(
        () => uiBase(config, 'not a url'),
        (e: unknown) => e instanceof CliError && /--ui: expected an http\(s\) URL/.test(e.message),
      );
    } finally {
      if (saved === undefined) delete process.env['CRYOET_UI'];
      else process.env['CRYOET_UI'] = saved;
    }
  });

  test('links the workflow under the namespace; ids with / are encoded', () => {
    assert.equal(
      uiLink(config, 'c1', 'http://127.0.0.1:8233'),
      'http://127.0.0.1:8233/namespaces/default/workflows/c1',
    );
    assert.equal(
      uiLink(config, 'lab/c1', 'https://ui.example/'),
      'https://ui.example/namespaces/default/workflows/lab%2Fc1',
    );
  });
});
