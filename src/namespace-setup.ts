/**
 * Our search attributes on a Temporal namespace, through the operator API: which are there,
 * and registering the missing ones (`cryoet setup`). Without them every workflow's
 * upsertSearchAttributes fails its workflow task and the campaign retries forever, so the
 * worker and `cryoet start` check first and stop, naming `cryoet setup`.
 * (Temporal Cloud namespaces take search attributes from the Cloud UI or `tcld`, not this API.)
 */
import proto from '@temporalio/proto';
import { CryoError, ErrorType } from './errors.js';
import { cryoSearchAttributes } from './search-attributes.js';

const IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;
type IndexedValueType = proto.temporal.api.enums.v1.IndexedValueType;

/** Our attribute types (@temporalio/common's names) as the operator API's enum. */
const INDEXED: Record<string, IndexedValueType> = {
  KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** The operator service calls we use (a client Connection's or a NativeConnection's). */
export interface OperatorApi {
  listSearchAttributes(req: {
    namespace: string;
  }): Promise<{ customAttributes?: Record<string, IndexedValueType> | null }>;
  addSearchAttributes(req: { namespace: string; searchAttributes: Record<string, IndexedValueType> }): Promise<unknown>;
}

export interface AttributeCheck {
  readonly present: readonly string[];
  readonly missing: readonly string[];
  /** Registered under our name with another type: `CryoRung (KEYWORD, expected INT)`. */
  readonly wrongType: readonly string[];
}

function typeName(t: IndexedValueType | undefined): string {
  return Object.entries(INDEXED).find(([, v]) => v === t)?.[0] ?? `type ${String(t)}`;
}

/** Compares the namespace's custom search attributes with ours. Pure. */
export function compareAttributes(custom: Record<string, IndexedValueType>): AttributeCheck {
  const present: string[] = [];
  const missing: string[] = [];
  const wrongType: string[] = [];
  for (const key of cryoSearchAttributes) {
    const have = custom[key.name];
    if (have === undefined) missing.push(key.name);
    else if (have !== INDEXED[key.type]) wrongType.push(`${key.name} (${typeName(have)}, expected ${key.type})`);
    else present.push(key.name);
  }
  return { present, missing, wrongType };
}

export async function checkAttributes(api: OperatorApi, namespace: string): Promise<AttributeCheck> {
  const listed = await api.listSearchAttributes({ namespace });
  return compareAttributes(listed.customAttributes ?? {});
}

/** Registers the missing attributes; idempotent. Returns what it added and what was there. */
export async function setupAttributes(
  api: OperatorApi,
  namespace: string,
): Promise<{ added: string[]; present: string[] }> {
  const before = await checkAttributes(api, namespace);
  if (before.wrongType.length > 0) {
    throw new CryoError(
      ErrorType.ConfigInvalid,
      `namespace "${namespace}": ${before.wrongType.join(', ')}: ` +
        'a search attribute cannot change type; ' +
        'remove it (temporal operator search-attribute remove) and run cryoet setup again',
    );
  }
  if (before.missing.length > 0) {
    const searchAttributes: Record<string, IndexedValueType> = {};
    for (const key of cryoSearchAttributes)
      if (before.missing.includes(key.name)) searchAttributes[key.name] = INDEXED[key.type]!;
    await api.addSearchAttributes({ namespace, searchAttributes });
  }
  return { added: [...before.missing], present: [...before.present] };
}

/** Throws a ConfigInvalid naming `cryoet setup` when any of our attributes is missing or mistyped. */
export async function requireAttributes(api: OperatorApi, namespace: string, configFile: string): Promise<void> {
  const check = await checkAttributes(api, namespace);
  const bad = [...check.missing, ...check.wrongType];
  if (bad.length === 0) return;
  throw new CryoError(
    ErrorType.ConfigInvalid,
    `namespace "${namespace}" lacks the search attributes cryoet workflows set: ` +
      `${bad.join(', ')}. Run: cryoet setup -c ${configFile} (registers them; without them every workflow task fails)`,
  );
}
