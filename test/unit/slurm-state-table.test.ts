import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifyJob,
  classifyPendingReason,
  FINAL_STATES,
  isFinalState,
  normaliseState,
  PENDING_REASONS,
  SLURM_STATES,
  type JobMove,
} from '../../src/slurm/state-table.js';
import { parseSqueue } from '../../src/slurm/parse-squeue.js';
import { readFileSync } from 'node:fs';

/** Every job state squeue/sacct print (Slurm 22.05 man pages), with the move we expect. */
const EXPECTED: [string, JobMove][] = [
  ['BOOT_FAIL', 'lost'],
  ['CANCELLED', 'failed-final'],
  ['COMPLETED', 'done'],
  ['COMPLETING', 'running'],
  ['CONFIGURING', 'hang-candidate'],
  ['DEADLINE', 'failed-final'],
  ['FAILED', 'failed-final'],
  ['NODE_FAIL', 'lost'],
  ['OUT_OF_MEMORY', 'failed-retryable'],
  ['PENDING', 'pending'],
  ['PREEMPTED', 'lost'],
  ['RUNNING', 'running'],
  ['REQUEUED', 'pending'],
  ['REQUEUE_FED', 'pending'],
  ['REQUEUE_HOLD', 'pending'],
  ['RESIZING', 'running'],
  ['RESV_DEL_HOLD', 'pending'],
  ['REVOKED', 'pending'],
  ['SIGNALING', 'running'],
  ['SPECIAL_EXIT', 'failed-final'],
  ['STAGE_OUT', 'running'],
  ['STOPPED', 'pending'],
  ['SUSPENDED', 'pending'],
  ['TIMEOUT', 'failed-retryable'],
];

const MOVES: readonly JobMove[] = [
  'pending',
  'hang-candidate',
  'running',
  'done',
  'failed-retryable',
  'failed-final',
  'lost',
];

describe('SLURM_STATES', () => {
  it('has exactly the 24 Slurm job states, no more, no fewer', () => {
    assert.deepEqual(Object.keys(SLURM_STATES).sort(), EXPECTED.map(([s]) => s).sort());
  });

  it('maps every state to one of our moves', () => {
    for (const move of Object.values(SLURM_STATES)) assert.ok(MOVES.includes(move), move);
  });

  for (const [state, move] of EXPECTED) {
    it(`${state} → ${move}`, () => {
      assert.equal(SLURM_STATES[state as keyof typeof SLURM_STATES], move);
      if (state !== 'PENDING') assert.deepEqual(classifyJob(state), { move, state, known: true });
    });
  }
});

describe('normaliseState', () => {
  const rows: [string, string][] = [
    ['RUNNING', 'RUNNING'],
    ['CANCELLED by 0', 'CANCELLED'],
    ['CANCELLED by 1000', 'CANCELLED'],
    ['CANCELLED+', 'CANCELLED'],
    ['COMPLETED+', 'COMPLETED'],
    ['running', 'RUNNING'],
    ['  Pending \n', 'PENDING'],
    ['OUT_OF_ME+', 'OUT_OF_ME'],
    ['', ''],
  ];
  for (const [raw, expected] of rows) {
    it(`${JSON.stringify(raw)} → ${JSON.stringify(expected)}`, () => assert.equal(normaliseState(raw), expected));
  }
});

describe('classifyJob', () => {
  const rows: [string, string | undefined, JobMove, string, boolean][] = [
    ['CANCELLED by 0', undefined, 'failed-final', 'CANCELLED', true],
    ['completed', 'None', 'done', 'COMPLETED', true],
    ['COMPLETING', 'TimeLimit', 'running', 'COMPLETING', true],
    ['PENDING', undefined, 'pending', 'PENDING', true],
    ['PENDING', 'None', 'pending', 'PENDING', true],
    ['PENDING', '(None)', 'pending', 'PENDING', true],
    ['PENDING', 'Priority', 'pending', 'PENDING', true],
    ['PENDING', 'BeginTime', 'pending', 'PENDING', true],
    ['PENDING', 'ReqNodeNotAvail, UnavailableNodes:c1', 'hang-candidate', 'PENDING', true],
    ['PENDING', 'ReqNodeNotAvail, UnavailableNodes:n[1-2],c1', 'hang-candidate', 'PENDING', true],
    ['PENDING', '(ReqNodeNotAvail, UnavailableNodes:c1)', 'hang-candidate', 'PENDING', true],
    ['PENDING', 'DependencyNeverSatisfied', 'failed-final', 'PENDING', true],
    ['RUNNING', 'DependencyNeverSatisfied', 'running', 'RUNNING', true],
    // Unknown states: wait, and let the caller log once.
    ['UNKNOWN', undefined, 'pending', 'UNKNOWN', false],
    ['POWER_UP_NODE', undefined, 'pending', 'POWER_UP_NODE', false],
    ['', undefined, 'pending', '', false],
    ['R', undefined, 'pending', 'R', false],
    ['toString', undefined, 'pending', 'TOSTRING', false],
    ['__proto__', undefined, 'pending', '__PROTO__', false],
    ['constructor', undefined, 'pending', 'CONSTRUCTOR', false],
  ];
  for (const [state, reason, move, normalised, known] of rows) {
    it(`${JSON.stringify(state)} / ${JSON.stringify(reason)} → ${move}${known ? '' : ' (unknown)'}`, () => {
      assert.deepEqual(classifyJob(state, reason), { move, state: normalised, known });
    });
  }

  it('classifies every row of the bulk fixture', () => {
    const text = readFileSync(new URL('../fixtures/squeue-bulk.txt', import.meta.url), 'utf8');
    const moves = parseSqueue(text).map((row) => `${row.jobId}:${classifyJob(row.state, row.reason).move}`);
    assert.deepEqual(moves, [
      '101:running',
      '102:hang-candidate',
      '103:done',
      '104:failed-final',
      '105:failed-final',
      '106:running',
      '107:pending',
      '108:lost',
      '109:hang-candidate',
      '110:pending',
      '111:pending',
      '112:failed-final',
      '113:failed-retryable',
      '114:failed-retryable',
      '115_3:running',
      '115_[4-9%2]:pending',
    ]);
  });
});

describe('classifyPendingReason', () => {
  const rows: [string | undefined, JobMove][] = [
    [undefined, 'pending'],
    ['', 'pending'],
    ['None', 'pending'],
    ['ReqNodeNotAvail', 'hang-candidate'],
    ['ReqNodeNotAvail, UnavailableNodes:c1', 'hang-candidate'],
    ['ReqNodeNotAvail,_May_be_reserved_for_other_job', 'hang-candidate'],
    ['Resources', 'hang-candidate'],
    ['Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions', 'hang-candidate'],
    ['NodeDown', 'hang-candidate'],
    ['PartitionNodeLimit', 'hang-candidate'],
    ['PartitionDown', 'hang-candidate'],
    ['PartitionInactive', 'hang-candidate'],
    ['PartitionConfig', 'hang-candidate'],
    ['JobLaunchFailure', 'hang-candidate'],
    ['launch failed requeued held', 'hang-candidate'],
    ['Priority', 'pending'],
    ['BeginTime', 'pending'],
    ['Dependency', 'pending'],
    ['JobHeldAdmin', 'pending'],
    ['JobHeldUser', 'pending'],
    ['JobArrayTaskLimit', 'pending'],
    ['Licenses', 'pending'],
    ['AssocGrpGRES', 'pending'],
    ['QOSGrpCpuLimit', 'pending'],
    ['QOSMaxJobsPerUserLimit', 'pending'],
    ['AssocMaxJobsLimit', 'pending'],
    ['DependencyNeverSatisfied', 'failed-final'],
    ['BadConstraints', 'failed-final'],
    ['PartitionTimeLimit', 'failed-final'],
    ['InvalidAccount', 'failed-final'],
    ['InvalidQOS', 'failed-final'],
    ['QOSMaxGRESPerJob', 'failed-final'],
    ['QOSMaxWallDurationPerJobLimit', 'failed-final'],
    ['AssocMaxNodePerJobLimit', 'failed-final'],
    ['QOSMinGRES', 'failed-final'],
    ['SomeFutureReason', 'pending'],
    ['toString', 'pending'],
    ['__proto__', 'pending'],
  ];
  for (const [reason, move] of rows) {
    it(`${JSON.stringify(reason)} → ${move}`, () => assert.equal(classifyPendingReason(reason), move));
  }

  it('every table entry is one of our moves', () => {
    for (const move of Object.values(PENDING_REASONS)) assert.ok(MOVES.includes(move), move);
  });
});

describe('isFinalState', () => {
  const finals = [
    'BOOT_FAIL',
    'CANCELLED',
    'COMPLETED',
    'DEADLINE',
    'FAILED',
    'NODE_FAIL',
    'OUT_OF_MEMORY',
    'PREEMPTED',
    'TIMEOUT',
  ];
  it('FINAL_STATES is exactly the terminal states', () => {
    assert.deepEqual([...FINAL_STATES].sort(), finals.sort());
  });
  for (const [state] of EXPECTED) {
    const final = finals.includes(state);
    it(`${state} is ${final ? '' : 'not '}final`, () => assert.equal(isFinalState(state), final));
  }
  const raw: [string, boolean][] = [
    ['CANCELLED by 0', true],
    ['completed+', true],
    ['UNKNOWN', false],
    ['', false],
  ];
  for (const [state, final] of raw) {
    it(`${JSON.stringify(state)} → ${final}`, () => assert.equal(isFinalState(state), final));
  }
});
