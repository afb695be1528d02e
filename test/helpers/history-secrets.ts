/**
 * Looks for secrets in workflow histories: every string in every event (failure messages,
 * stack traces, identities, ...) and every payload decoded (JSON parsed, so escapes hide
 * nothing; other encodings read as UTF-8; metadata too), searched for each secret string.
 * A hit names the workflow, the event and the secret's NAME, never the secret itself.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

const { temporal } = proto; // CommonJS: no named export under ESM
type History = proto.temporal.api.history.v1.IHistory;

/** A history to search, with the workflow it belongs to. */
export interface NamedHistory {
  readonly workflowId: string;
  readonly history: History;
}

/** Something that must never appear in a history. `name` is what a hit reports. */
export interface Secret {
  readonly name: string;
  readonly value: string;
  readonly ignoreCase?: boolean;
}

/** A secret found in a history. */
export interface SecretHit {
  readonly workflowId: string;
  readonly eventId: string;
  readonly eventType: string;
  readonly secret: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** Strings in a parsed JSON value, keys included; `{ type: 'Buffer', data: [...] }` decoded. */
function jsonStrings(value: unknown, out: string[]): void {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) jsonStrings(v, out);
  else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o['type'] === 'Buffer' && Array.isArray(o['data']))
      out.push(utf8.decode(Uint8Array.from(o['data'] as number[])));
    for (const [k, v] of Object.entries(o)) {
      out.push(k);
      jsonStrings(v, out);
    }
  }
}

/** A payload's text: its metadata, its raw bytes as UTF-8 and, for JSON, every string in it. */
function payloadStrings(
  payload: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null },
  out: string[],
): void {
  for (const [k, v] of Object.entries(payload.metadata ?? {})) out.push(k, isBytes(v) ? utf8.decode(v) : String(v));
  if (!payload.data || payload.data.length === 0) return;
  const raw = utf8.decode(payload.data);
  out.push(raw);
  try {
    jsonStrings(JSON.parse(raw), out);
  } catch {
    // not JSON: the raw text above is what there is
  }
}

function isPayload(o: Record<string, unknown>): boolean {
  return (
    isBytes(o['data']) && (o['metadata'] === undefined || (typeof o['metadata'] === 'object' && o['metadata'] !== null))
  );
}

/** Every string an event carries, payloads decoded. */
export function eventStrings(event: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (value: unknown) => {
    if (typeof value === 'string') out.push(value);
    else if (isBytes(value)) out.push(utf8.decode(value));
    else if (value !== null && typeof value === 'object' && !seen.has(value)) {
      seen.add(value);
      const o = value as Record<string, unknown>;
      if (isPayload(o)) payloadStrings(o as Parameters<typeof payloadStrings>[0], out);
      else if (Array.isArray(value)) value.forEach(walk);
      else for (const v of Object.values(o)) walk(v);
    }
  };
  walk(event);
  return out;
}

/** Hits of any secret in any event of any history; empty when clean. */
export function findSecrets(histories: readonly NamedHistory[], secrets: readonly Secret[]): SecretHit[] {
  const hits: SecretHit[] = [];
  const exact = secrets.filter((s) => !s.ignoreCase);
  const folded = secrets.filter((s) => s.ignoreCase).map((s) => ({ ...s, value: s.value.toLowerCase() }));
  for (const { workflowId, history } of histories) {
    for (const event of history.events ?? []) {
      const text = eventStrings(event).join('\n');
      const lower = folded.length > 0 ? text.toLowerCase() : '';
      const found = new Set<string>();
      for (const s of exact) if (text.includes(s.value)) found.add(s.name);
      for (const s of folded) if (lower.includes(s.value)) found.add(s.name);
      for (const secret of found) {
        hits.push({
          workflowId,
          eventId: String(event.eventId ?? '?'),
          eventType: temporal.api.enums.v1.EventType[event.eventType ?? 0] ?? String(event.eventType),
          secret,
        });
      }
    }
  }
  return hits;
}

/** One line per hit, for an assertion message. */
export function describeHits(hits: readonly SecretHit[]): string {
  return hits.map((h) => `${h.workflowId} event ${h.eventId} (${h.eventType}): ${h.secret}`).join('\n');
}

/**
 * The secrets of a PEM-style key file (OpenSSH or PKCS#8/PKCS#1 private key): every
 * `sliceLength`-character slice of its base64 body (line breaks removed), named by file,
 * not by content.
 */
export function keyFileSecrets(file: string, sliceLength = 20): Secret[] {
  const body = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !line.startsWith('-----') && !/^[A-Za-z-]+:/.test(line))
    .join('')
    .replace(/\s+/g, '');
  if (body.length < sliceLength) throw new Error(`${file}: no base64 body of ${sliceLength}+ characters`);
  const slices = new Set<string>();
  for (let i = 0; i + sliceLength <= body.length; i++) slices.add(body.slice(i, i + sliceLength));
  return [...slices].map((value, i) => ({ name: `${file} (base64 slice ${i})`, value }));
}

/** The markers of any private key, and the word `password` in any case. */
export const GENERIC_SECRETS: readonly Secret[] = [
  { name: "'PRIVATE KEY'", value: 'PRIVATE KEY' },
  { name: "'BEGIN OPENSSH'", value: 'BEGIN OPENSSH' },
  { name: "'password' (any case)", value: 'password', ignoreCase: true },
];

/** Histories of the given workflows (latest run each). */
export async function fetchHistories(client: Client, workflowIds: readonly string[]): Promise<NamedHistory[]> {
  return Promise.all(
    workflowIds.map(async (workflowId) => ({
      workflowId,
      history: await client.workflow.getHandle(workflowId).fetchHistory(),
    })),
  );
}

/** Histories of every workflow a visibility query lists (e.g. `CryoCampaign = "c1"`). */
export async function listHistories(client: Client, query: string): Promise<NamedHistory[]> {
  const out: NamedHistory[] = [];
  for await (const { workflowId, history } of client.workflow.list({ query }).intoHistories())
    out.push({ workflowId, history: history as History });
  return out;
}
