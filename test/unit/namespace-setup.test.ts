import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { compareAttributes, requireAttributes, setupAttributes, type OperatorApi } from '../../src/namespace-setup.js';
import { cryoSearchAttributes } from '../../src/search-attributes.js';

const T = proto.temporal.api.enums.v1.IndexedValueType;
const ALL: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = Object.fromEntries(
  cryoSearchAttributes.map((k) => [
    k.name,
    (
      {
        KEYWORD: T.INDEXED_VALUE_TYPE_KEYWORD,
        INT: T.INDEXED_VALUE_TYPE_INT,
        DOUBLE: T.INDEXED_VALUE_TYPE_DOUBLE,
      } as Record<string, number>
    )[k.type]!,
  ]),
);

/** An operator API over a map, recording what was added. */
function fakeApi(
  custom: Record<string, proto.temporal.api.enums.v1.IndexedValueType>,
): OperatorApi & { added: string[][] } {
  const added: string[][] = [];
  return {
    added,
    listSearchAttributes: async () => ({ customAttributes: { ...custom } }),
    addSearchAttributes: async (req) => {
      added.push(Object.keys(req.searchAttributes));
      Object.assign(custom, req.searchAttributes);
      return {};
    },
  };
}

describe('our search attributes on a namespace', () => {
  it('compares by name and type: present, missing, registered with another type', () => {
    const c = compareAttributes({ ...ALL, CryoRung: T.INDEXED_VALUE_TYPE_KEYWORD, Other: T.INDEXED_VALUE_TYPE_TEXT });
    assert.deepEqual(c.wrongType, ['CryoRung (KEYWORD, expected INT)']);
    assert.equal(c.missing.length, 0);
    assert.equal(c.present.length, cryoSearchAttributes.length - 1);
    const { CryoStatus: _s, CryoCostUsd: _c, ...some } = ALL;
    assert.deepEqual(compareAttributes(some).missing, ['CryoCostUsd', 'CryoStatus']);
  });

  it('setup adds only what is missing, and a second run adds nothing', async () => {
    const { CryoStatus: _s, ...some } = ALL;
    const api = fakeApi(some);
    assert.deepEqual((await setupAttributes(api, 'default')).added, ['CryoStatus']);
    assert.deepEqual(await setupAttributes(api, 'default'), {
      added: [],
      present: cryoSearchAttributes.map((k) => k.name),
    });
    assert.deepEqual(api.added, [['CryoStatus']]);
  });

  it('setup refuses a mistyped attribute (it cannot change type), naming the way out', async () => {
    await assert.rejects(
      setupAttributes(fakeApi({ ...ALL, CryoIteration: T.INDEXED_VALUE_TYPE_DOUBLE }), 'prod'),
      /namespace "prod": CryoIteration \(DOUBLE, expected INT\): a search attribute cannot change type; remove it/,
    );
  });

  it('the worker and start check: a clear error naming cryoet setup and the config file', async () => {
    await requireAttributes(fakeApi({ ...ALL }), 'default', 'temporal.yaml');
    await assert.rejects(
      requireAttributes(fakeApi({}), 'prod', '/etc/cryoet/temporal.yaml'),
      new RegExp(
        'namespace "prod" lacks the search attributes cryoet workflows set: CryoCampaign, .*, CryoStatus\\. ' +
          'Run: cryoet setup -c \\/etc\\/cryoet\\/temporal\\.yaml',
      ),
    );
  });
});
