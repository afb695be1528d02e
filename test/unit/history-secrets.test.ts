/**
 * test/helpers/history-secrets.ts finds a secret wherever an event carries it: a JSON
 * payload (even with the secret behind a \u escape), a binary payload, payload metadata,
 * a failure's stack trace, a Buffer serialised into JSON; and a hit names the secret,
 * never its value.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import {
  describeHits,
  findSecrets,
  GENERIC_SECRETS,
  keyFileSecrets,
  type NamedHistory,
} from '../helpers/history-secrets.js';

const { EventType } = proto.temporal.api.enums.v1;

const dir = mkdtempSync(join(tmpdir(), 'cryoet-history-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = join(dir, 'id_ed25519');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
const keyText = readFileSync(keyFile, 'utf8');
const keyBody = keyText
  .split('\n')
  .filter((l) => l && !l.startsWith('-----'))
  .join('');
const secrets = [...keyFileSecrets(keyFile), ...GENERIC_SECRETS];

const bytes = (s: string) => new TextEncoder().encode(s);
const payload = (encoding: string, data: string, extra: Record<string, string> = {}) => ({
  metadata: Object.fromEntries(Object.entries({ encoding, ...extra }).map(([k, v]) => [k, bytes(v)])),
  data: bytes(data),
});
const started = (p: ReturnType<typeof payload>): NamedHistory => ({
  workflowId: 'wf',
  history: {
    events: [
      {
        eventId: 1 as never,
        eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        workflowExecutionStartedEventAttributes: { input: { payloads: [p] } },
      },
    ],
  },
});
/** A slice of the key body as a JSON string literal, one of its letters written as \u00XX. */
const slice = keyBody.slice(37, 57);
const escaped = JSON.stringify(slice).replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
assert.ok(!escaped.includes(slice), 'the escape hides the slice from a plain text search');

const cases: Array<{ name: string; history: NamedHistory; expect?: RegExp }> = [
  {
    name: 'a clean input (the key file path is fine)',
    history: started(payload('json/plain', JSON.stringify({ command: ['echo', 'ok'], keyFile }))),
  },
  {
    name: 'the whole key file in a JSON payload',
    history: started(payload('json/plain', JSON.stringify({ key: keyText }))),
    expect: /'PRIVATE KEY'/,
  },
  {
    name: 'a 20-character slice of the key body behind a \\u escape',
    history: started(payload('json/plain', `{"x":${escaped}}`)),
    expect: /base64 slice/,
  },
  {
    name: 'a slice in a binary payload',
    history: started(payload('binary/plain', `xx${keyBody.slice(100, 130)}xx`)),
    expect: /base64 slice/,
  },
  {
    name: 'a Buffer serialised into JSON',
    history: started(
      payload('json/plain', JSON.stringify({ b: { type: 'Buffer', data: [...bytes(keyBody.slice(60, 90))] } })),
    ),
    expect: /base64 slice/,
  },
  {
    name: "'password' in payload metadata, any case",
    history: started(payload('json/plain', '{}', { note: 'PassWord=1' })),
    expect: /'password'/,
  },
  {
    name: 'a failure stack trace',
    history: {
      workflowId: 'wf',
      history: {
        events: [
          {
            eventId: 2 as never,
            eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
            workflowExecutionFailedEventAttributes: {
              failure: { message: 'x', stackTrace: 'at -----BEGIN OPENSSH PRIVATE KEY-----' },
            },
          },
        ],
      },
    },
    expect: /'BEGIN OPENSSH'/,
  },
];

for (const c of cases) {
  test(`findSecrets: ${c.name}`, () => {
    const hits = findSecrets([c.history], secrets);
    const report = describeHits(hits);
    if (!c.expect) return assert.deepEqual(hits, [], report);
    assert.match(report, c.expect);
    assert.match(report, /^wf event \d+ \(EVENT_TYPE_WORKFLOW_EXECUTION_(STARTED|FAILED)\): /);
    for (let i = 0; i + 20 <= keyBody.length; i += 10)
      assert.ok(!report.includes(keyBody.slice(i, i + 20)), 'the report names the secret, never its value');
  });
}
