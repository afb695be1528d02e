import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import {
  activeExclusions,
  expandHostList,
  mergeExclusions,
  nodeIsUnhealthy,
  parseNodeHealth,
} from '../../src/slurm/node-exclusions.js';
import type { ExcludedNode } from '../../src/model/excluded-node.js';

const at = (iso: string) => Date.parse(iso);
const entry = (node: string, until: string, cluster = 'dev'): ExcludedNode => ({
  cluster,
  node,
  until,
  reason: 'NODE_FAIL',
});

describe('black-hole node exclusions', () => {
  it('activeExclusions: only this cluster, only until the entry ends, sorted, each once', () => {
    const list = [
      entry('n2', '2026-01-01T01:00:00Z'),
      entry('n1', '2026-01-01T01:00:00Z'),
      entry('n1', '2026-01-01T00:30:00Z'),
      entry('n3', '2026-01-01T00:10:00Z'),
      entry('x1', '2026-01-01T05:00:00Z', 'other'),
    ];
    assert.deepEqual(activeExclusions(list, 'dev', at('2026-01-01T00:20:00Z')), ['n1', 'n2']);
    assert.deepEqual(activeExclusions(list, 'dev', at('2026-01-01T01:00:00Z')), [], 'an entry ends at its until');
    assert.deepEqual(activeExclusions(list, 'other', at('2026-01-01T00:00:00Z')), ['x1']);
    assert.deepEqual(activeExclusions([], 'dev', 0), []);
  });

  it('mergeExclusions keeps one entry per cluster and node, the one that ends last', () => {
    const merged = mergeExclusions(
      [entry('n1', '2026-01-01T01:00:00Z'), entry('n1', '2026-01-01T01:00:00Z', 'other')],
      [entry('n1', '2026-01-01T02:00:00Z'), entry('n2', '2026-01-01T00:00:00Z')],
    );
    assert.deepEqual(merged.map((e) => `${e.cluster}/${e.node}@${e.until}`).sort(), [
      'dev/n1@2026-01-01T02:00:00Z',
      'dev/n2@2026-01-01T00:00:00Z',
      'other/n1@2026-01-01T01:00:00Z',
    ]);
    assert.deepEqual(
      mergeExclusions([entry('n1', '2026-01-01T03:00:00Z')], [entry('n1', '2026-01-01T02:00:00Z')])[0]!.until,
      '2026-01-01T03:00:00Z',
    );
  });

  const hostLists: [string | undefined, string[]][] = [
    ['n1', ['n1']],
    ['n1,n2', ['n1', 'n2']],
    ['n[1-3,5]', ['n1', 'n2', 'n3', 'n5']],
    ['gpu-a[01-02],gpu-b1', ['gpu-a01', 'gpu-a02', 'gpu-b1']],
    ['rack[1-2]-gpu', ['rack1-gpu', 'rack2-gpu']],
    ['', []],
    [undefined, []],
    ['(null)', []],
    ['(Resources)', []],
    ['n[a-b]', []],
    ['n[1-99999]', []],
    ['n1;id', []],
  ];
  for (const [list, names] of hostLists) {
    it(`expandHostList(${JSON.stringify(list)}) → ${JSON.stringify(names)}`, () =>
      assert.deepEqual(expandHostList(list), names));
  }

  const states: [string, boolean][] = [
    ['idle', false],
    ['mixed', false],
    ['allocated', false],
    ['completing', false],
    ['idle~', false],
    ['planned', false],
    ['down', true],
    ['down*', true],
    ['drained', true],
    ['draining', true],
    ['drain', true],
    ['fail', true],
    ['failing', true],
    ['idle*', true],
    ['maint', true],
    ['DOWN', true],
    ['unknown', true],
    ['drained~', true],
  ];
  for (const [state, bad] of states) {
    it(`node state ${state} is ${bad ? 'unhealthy' : 'healthy'}`, () => assert.equal(nodeIsUnhealthy(state), bad));
  }

  it('parseNodeHealth reads node|state|reason, one row per node, "none" as no reason', () => {
    const rows = parseNodeHealth('n1|drained|bad gpu|really\nn1|drained|bad gpu|really\nn2|idle|none\n\n');
    assert.deepEqual(rows, [
      { node: 'n1', state: 'drained', reason: 'bad gpu|really', unhealthy: true },
      { node: 'n2', state: 'idle', reason: '', unhealthy: false },
    ]);
    assert.deepEqual(parseNodeHealth(''), []);
  });

  it('parseNodeHealth: a line without a state is StatusQueryFailed naming the line', () => {
    assert.throws(
      () => parseNodeHealth('n1\n'),
      (err: unknown) =>
        err instanceof CryoError && err.type === ErrorType.StatusQueryFailed && /sinfo line "n1"/.test(err.message),
    );
  });
});
