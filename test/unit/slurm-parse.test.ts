import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import { shellJoin } from '../../src/shell/quote.js';
import { classifySbatchError, parseSbatchParsable, type SbatchResult } from '../../src/slurm/parse-sbatch.js';
import { parseSqueue, type SqueueRow } from '../../src/slurm/parse-squeue.js';
import {
  buildEligibleTimeArgs,
  buildSqueueArgs,
  buildSqueueByNameArgs,
  parseEligibleTime,
  SQUEUE_FORMAT,
} from '../../src/slurm/squeue-format.js';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

describe('parseSbatchParsable', () => {
  const good: [string, SbatchResult][] = [
    ['123', { jobId: '123' }],
    ['123\n', { jobId: '123' }],
    ['123;dev\n', { jobId: '123', cluster: 'dev' }],
    ['  123 \r\n', { jobId: '123' }],
    ['\n\n4567\n\n', { jobId: '4567' }],
    ['Welcome to the cluster!\nmodule: loaded defaults\n123;gpu-west\n', { jobId: '123', cluster: 'gpu-west' }],
  ];
  for (const [stdout, expected] of good) {
    it(`reads ${JSON.stringify(stdout)}`, () => assert.deepEqual(parseSbatchParsable(stdout), expected));
  }

  const bad: string[] = [
    '',
    '\n\n',
    'Submitted batch job 123\n',
    '123;\n',
    ';dev\n',
    '123;dev;x\n',
    'abc\n',
    '123abc\n',
    '-1\n',
    '123\nsbatch: warning: something on stdout after the id\n',
  ];
  for (const stdout of bad) {
    it(`throws SubmitOutputUnreadable for ${JSON.stringify(stdout)}, quoting it`, () => {
      assert.throws(
        () => parseSbatchParsable(stdout),
        (err: unknown) =>
          err instanceof CryoError &&
          err.type === ErrorType.SubmitOutputUnreadable &&
          !err.nonRetryable &&
          err.message.includes(JSON.stringify(stdout)),
      );
    });
  }
});

describe('classifySbatchError', () => {
  const rows: [number, string, 'rejected' | 'transient'][] = [
    [1, 'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n', 'transient'],
    [
      1,
      'sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n',
      'transient',
    ],
    [
      1,
      'sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying\n' +
        'sbatch: error: Batch job submission failed: Resource temporarily unavailable\n',
      'transient',
    ],
    [
      1,
      'sbatch: error: slurm_persist_conn_open_without_init: ' +
        'failed to open persistent connection to host:localhost:6819: Connection refused\n',
      'transient',
    ],
    [1, 'sbatch: error: Batch job submission failed: Zero Bytes were transmitted or received\n', 'transient'],
    [1, 'SBATCH: ERROR: SOCKET TIMED OUT ON SEND/RECV OPERATION', 'transient'],
    [1, 'sbatch: error: Batch job submission failed: Requested node configuration is not available\n', 'rejected'],
    [
      1,
      'sbatch: error: invalid partition specified: nope\n' +
        'sbatch: error: Batch job submission failed: Invalid partition name specified\n',
      'rejected',
    ],
    [1, 'sbatch: error: Invalid generic resource (gres) specification\n', 'rejected'],
    [
      1,
      'sbatch: error: Batch job submission failed: Job violates accounting/QOS policy ' +
        "(job submit limit, user's size and/or time limits)\n",
      'rejected',
    ],
    [1, 'sbatch: error: Unable to open file /nonexistent/script.sh\n', 'rejected'],
    [1, '', 'rejected'],
    [137, '', 'transient'],
    [143, 'Terminated\n', 'transient'],
    [255, '', 'transient'],
    [127, 'bash: sbatch: command not found\n', 'rejected'],
  ];
  for (const [exitCode, stderr, expected] of rows) {
    it(`exit ${exitCode} ${JSON.stringify(stderr.slice(0, 70))} → ${expected}`, () => {
      assert.equal(classifySbatchError(exitCode, stderr), expected);
    });
  }
});

describe('buildSqueueArgs / buildSqueueByNameArgs', () => {
  it('builds the bulk call', () => {
    assert.deepEqual(buildSqueueArgs(['101', '102', '115_3']), [
      'squeue',
      '-h',
      '-t',
      'all',
      '-j',
      '101,102,115_3',
      '-o',
      '%i|%j|%T|%r|%N|%S|%V',
    ]);
  });

  it('drops duplicate ids, keeping order', () => {
    assert.deepEqual(buildSqueueArgs(['2', '1', '2'])[5], '2,1');
  });

  it('quotes the format when joined for ssh', () => {
    assert.equal(shellJoin(buildSqueueArgs(['1', '2'])), "squeue -h -t all -j 1,2 -o '%i|%j|%T|%r|%N|%S|%V'");
  });

  const badIds: [string[], RegExp][] = [
    [[], /empty list/],
    [['12a'], /job id "12a"/],
    [['1,2'], /job id "1,2"/],
    [['115_[4-9]'], /job id "115_\[4-9\]"/],
    [['1.batch'], /job id "1.batch"/],
    [[''], /job id ""/],
    [['1;id'], /job id "1;id"/],
  ];
  for (const [ids, message] of badIds) {
    it(`rejects ${JSON.stringify(ids)}`, () => {
      assert.throws(
        () => buildSqueueArgs(ids),
        (err: unknown) => err instanceof CryoError && err.type === ErrorType.NameInvalid && message.test(err.message),
      );
    });
  }

  it('builds the lookup by name', () => {
    assert.deepEqual(buildSqueueByNameArgs('cryoet.cryoet.demo.c1.TS_01.align'), [
      'squeue',
      '-h',
      '-t',
      'all',
      '--name',
      'cryoet.cryoet.demo.c1.TS_01.align',
      '-o',
      SQUEUE_FORMAT,
    ]);
  });

  it('rejects an unsafe name', () => {
    assert.throws(
      () => buildSqueueByNameArgs('a|b'),
      (err: unknown) => err instanceof CryoError && err.type === ErrorType.NameInvalid,
    );
  });
});

describe('parseSqueue', () => {
  const name = (n: string): string => `cryoet.cryoet.demo.c1.TS_${n}.align`;
  const fixtures: [string, SqueueRow[]][] = [
    ['squeue-empty.txt', []],
    [
      'squeue-captured-22.05.txt',
      [
        {
          jobId: '1',
          name: 'wrap',
          state: 'COMPLETED',
          nodes: 'n1',
          startTime: '2026-11-25T10:08:18',
          submitTime: '2026-11-25T10:08:18',
        },
        {
          jobId: '2',
          name: 'wrap',
          state: 'PENDING',
          reason: 'ReqNodeNotAvail, UnavailableNodes:c1',
          submitTime: '2026-11-25T10:08:30',
        },
      ],
    ],
    [
      'squeue-bulk.txt',
      [
        {
          jobId: '101',
          name: name('01'),
          state: 'RUNNING',
          nodes: 'n1',
          startTime: '2026-11-25T10:08:18',
          submitTime: '2026-11-25T10:08:17',
        },
        {
          jobId: '102',
          name: name('02'),
          state: 'PENDING',
          reason: 'ReqNodeNotAvail, UnavailableNodes:c1',
          submitTime: '2026-11-25T10:08:30',
        },
        {
          jobId: '103',
          name: name('03'),
          state: 'COMPLETED',
          nodes: 'n2',
          startTime: '2026-11-25T10:08:18',
          submitTime: '2026-11-25T10:08:18',
        },
        {
          jobId: '104',
          name: name('04'),
          state: 'FAILED',
          reason: 'NonZeroExitCode',
          nodes: 'n1',
          startTime: '2026-11-25T10:09:00',
          submitTime: '2026-11-25T10:08:58',
        },
        {
          jobId: '105',
          name: name('05'),
          state: 'CANCELLED',
          nodes: 'n2',
          startTime: '2026-11-25T10:09:10',
          submitTime: '2026-11-25T10:09:09',
        },
        {
          jobId: '106',
          name: name('06'),
          state: 'COMPLETING',
          reason: 'TimeLimit',
          nodes: 'n1',
          startTime: '2026-11-25T10:09:20',
          submitTime: '2026-11-25T10:09:19',
        },
        {
          jobId: '107',
          name: name('07'),
          state: 'PENDING',
          reason: 'BeginTime',
          startTime: '2026-11-25T10:10:31',
          submitTime: '2026-11-25T10:10:20',
        },
        {
          jobId: '108',
          name: name('08'),
          state: 'NODE_FAIL',
          reason: 'NodeDown',
          nodes: 'n2',
          startTime: '2026-11-25T10:09:40',
          submitTime: '2026-11-25T10:09:39',
        },
        {
          jobId: '109',
          name: name('09'),
          state: 'CONFIGURING',
          nodes: 'c1',
          startTime: '2026-11-25T10:09:50',
          submitTime: '2026-11-25T10:09:50',
        },
        { jobId: '110', name: name('10'), state: 'PENDING', reason: 'Priority', submitTime: '2026-11-25T10:10:00' },
        { jobId: '111', name: name('11'), state: 'PENDING', reason: 'JobHeldAdmin', submitTime: '2026-11-25T10:10:01' },
        {
          jobId: '112',
          name: name('12'),
          state: 'PENDING',
          reason: 'DependencyNeverSatisfied',
          submitTime: '2026-11-25T10:10:02',
        },
        {
          jobId: '113',
          name: name('13'),
          state: 'TIMEOUT',
          reason: 'TimeLimit',
          nodes: 'n1',
          startTime: '2026-11-25T10:08:00',
          submitTime: '2026-11-25T10:07:59',
        },
        {
          jobId: '114',
          name: name('14'),
          state: 'OUT_OF_MEMORY',
          reason: 'OutOfMemory',
          nodes: 'n1',
          startTime: '2026-11-25T10:08:05',
          submitTime: '2026-11-25T10:08:04',
        },
        {
          jobId: '115_3',
          name: 'cryoet.cryoet.demo.c1.sweep',
          state: 'RUNNING',
          nodes: 'n[1-2]',
          startTime: '2026-11-25T10:11:00',
          submitTime: '2026-11-25T10:10:59',
        },
        {
          jobId: '115_[4-9%2]',
          name: 'cryoet.cryoet.demo.c1.sweep',
          state: 'PENDING',
          reason: 'JobArrayTaskLimit',
          startTime: '2026-11-25T11:00:00',
          submitTime: '2026-11-25T10:10:59',
        },
      ],
    ],
    [
      'squeue-ugly.txt',
      [
        {
          jobId: '201',
          name: 'cryoet.a.b',
          state: 'PENDING',
          reason: 'Nodes_required_for_job_are_DOWN,_DRAINED_or_reserved_for_jobs_in_higher_priority_partitions',
          submitTime: '2026-11-25T10:08:30',
        },
        {
          jobId: '202',
          name: 'cryoet.a.c',
          state: 'PENDING',
          reason: 'weird|reason|with pipes',
          submitTime: '2026-11-25T10:08:31',
        },
        {
          jobId: '203',
          name: 'cryoet.a.d',
          state: 'RUNNING',
          nodes: 'n1',
          startTime: '2026-11-25T10:08:32',
          submitTime: '2026-11-25T10:08:32',
        },
        { jobId: '204', name: 'cryoet.a.e', state: 'completed', nodes: 'n2' },
      ],
    ],
  ];
  for (const [file, expected] of fixtures) {
    it(`parses ${file}`, () => assert.deepEqual(parseSqueue(fixture(file)), expected));
  }

  const bad: [string, RegExp][] = [
    ['101|name|RUNNING|None|n1|2026-11-25T10:08:18', /6 fields, expected 7/],
    ['Welcome to the cluster!', /1 fields, expected 7/],
    ['abc|name|RUNNING|None|n1|N/A|N/A', /job id "abc"/],
    ['|name|RUNNING|None|n1|N/A|N/A', /job id ""/],
    ['101|name||None|n1|N/A|N/A', /empty state/],
  ];
  for (const [line, message] of bad) {
    it(`throws StatusQueryFailed for ${JSON.stringify(line)}`, () => {
      assert.throws(
        () => parseSqueue(`101|ok|RUNNING|None|n1|N/A|N/A\n${line}\n`),
        (err: unknown) =>
          err instanceof CryoError &&
          err.type === ErrorType.StatusQueryFailed &&
          message.test(err.message) &&
          err.message.includes(JSON.stringify(line)),
      );
    });
  }
});

describe('buildEligibleTimeArgs / parseEligibleTime', () => {
  it("asks squeue for one job's eligible time", () => {
    assert.deepEqual(buildEligibleTimeArgs('10721'), ['squeue', '-h', '-j', '10721', '-O', 'EligibleTime:40']);
  });
  for (const bad of ['', '12,13', '12;id', '-1']) {
    it(`refuses job id ${JSON.stringify(bad)}`, () => {
      assert.throws(
        () => buildEligibleTimeArgs(bad),
        (err: unknown) => err instanceof CryoError && err.type === ErrorType.NameInvalid,
      );
    });
  }
  const rows: [string, number | undefined][] = [
    ['2026-11-30T10:44:40                     \n', Date.UTC(2026, 10, 30, 10, 44, 40)],
    ['N/A                                     \n', undefined],
    ['Unknown\n', undefined],
    ['', undefined],
    ['2026-11-30T10:44:40\n2026-11-30T10:44:41\n', undefined],
    ['2026-13-40T10:44:40', undefined],
  ];
  for (const [text, ms] of rows) {
    it(`reads ${JSON.stringify(text)} as ${ms}`, () => assert.equal(parseEligibleTime(text), ms));
  }
});
