import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import { jobKey, jobNameFor } from '../../src/slurm/job-key.js';
import {
  buildOrphanScancelArgs,
  buildOrphanSqueueArgs,
  judgeJobs,
  matchesPrefix,
  ORPHAN_SQUEUE_FORMAT,
  ownerOf,
  owningWorkflowIds,
  parseOurJobs,
  readScancelResult,
  verdictFor,
  type OurJob,
  type WorkflowLookup,
} from '../../src/slurm/orphans.js';
import { orphansText } from '../../src/cli/orphans.js';

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
}

const isError =
  (type: string, ...parts: string[]) =>
  (err: unknown) =>
    err instanceof CryoError && err.type === type && parts.every((p) => err.message.includes(p));

describe('buildOrphanSqueueArgs', () => {
  it('lists the user’s unfinished jobs with the name last', () => {
    assert.deepEqual(buildOrphanSqueueArgs('root'), ['squeue', '-h', '-u', 'root', '-o', '%i|%T|%V|%N|%j']);
    assert.ok(ORPHAN_SQUEUE_FORMAT.endsWith('|%j'));
  });
  for (const user of ['', 'a b', 'x;rm', 'a|b']) {
    it(`refuses the user ${JSON.stringify(user)}`, () =>
      assert.throws(() => buildOrphanSqueueArgs(user), isError(ErrorType.NameInvalid, 'user')));
  }
});

describe('ownerOf', () => {
  const rows: [string, { key: string; workflowId: string } | undefined][] = [
    [
      'cryoet.cryoet.demo.c1.TS_01.reconstruct-1',
      { key: 'cryoet/demo/c1/TS_01/reconstruct-1', workflowId: 'cryoet/demo/c1/TS_01' },
    ],
    ['cryoet.wf.step-2', { key: 'wf/step-2', workflowId: 'wf' }],
    [
      'cryoet.embedded-10164-20261130-020000.refine.refine-3',
      { key: 'embedded-10164-20261130-020000/refine/refine-3', workflowId: 'embedded-10164-20261130-020000/refine' },
    ],
    ['cryoet.only-one-segment', undefined], // a key always has <workflow id>/<step>
    ['cryoet.', undefined],
    ['cryoet.a..b', undefined], // empty segment
    ['cryoet.a.b c', undefined],
    ['cryoet.a.b|PENDING', undefined],
    ['cryoetx.a.b', undefined],
    ['Cryoet.a.b', undefined],
    ['relion_refine', undefined],
    ['', undefined],
  ];
  for (const [name, expected] of rows) {
    it(`${JSON.stringify(name)} → ${expected ? expected.workflowId : 'not ours'}`, () =>
      assert.deepEqual(ownerOf(name), expected));
  }
  it('inverts jobNameFor(jobKey(...)) for the keys the workflow builds', () => {
    for (const [wf, step] of [
      ['cryoet/test/e2e-x', 'hello-1'],
      ['a', 'b-12'],
      ['c-1/TS_03/reconstruct', 'reconstruct-2'],
    ] as const) {
      assert.deepEqual(ownerOf(jobNameFor(jobKey(wf, step))), { key: `${wf}/${step}`, workflowId: wf });
    }
  });
});

describe('parseOurJobs', () => {
  it('reads captured Slurm 22.05 output, keeping only our names (a name with a | stays whole and is ignored)', () => {
    assert.deepEqual(parseOurJobs(fixture('squeue-orphans-22.05.txt')), [
      {
        jobId: '52',
        state: 'PENDING',
        submitTime: '2026-11-30T03:12:39',
        name: 'cryoet.fixture-x.hung.step-1',
        key: 'fixture-x/hung/step-1',
        workflowId: 'fixture-x/hung',
      },
      {
        jobId: '53',
        state: 'PENDING',
        submitTime: '2026-11-30T03:12:40',
        name: 'cryoet.cryoet.test.e2e-mx2p0852-6fdc43.hello-1',
        key: 'cryoet/test/e2e-mx2p0852-6fdc43/hello-1',
        workflowId: 'cryoet/test/e2e-mx2p0852-6fdc43',
      },
      {
        jobId: '50',
        state: 'RUNNING',
        submitTime: '2026-11-30T03:12:39',
        nodes: 'n1',
        name: 'cryoet.fixture-x.gone.step-1',
        key: 'fixture-x/gone/step-1',
        workflowId: 'fixture-x/gone',
      },
    ]);
  });

  it('empty output (no jobs) and blank lines give nothing', () => {
    assert.deepEqual(parseOurJobs(''), []);
    assert.deepEqual(parseOurJobs('\n\n  \n'), []);
  });

  it('accepts CRLF, N/A and (null) fields, array and het ids', () => {
    const jobs = parseOurJobs(
      '7_[1-3]|PENDING|N/A|(null)|cryoet.w.s-1\r\n8+0|RUNNING|2026-11-30T03:12:39|n[1-2]|cryoet.w.s-2\r\n',
    );
    assert.deepEqual(jobs, [
      { jobId: '7_[1-3]', state: 'PENDING', name: 'cryoet.w.s-1', key: 'w/s-1', workflowId: 'w' },
      {
        jobId: '8+0',
        state: 'RUNNING',
        submitTime: '2026-11-30T03:12:39',
        nodes: 'n[1-2]',
        name: 'cryoet.w.s-2',
        key: 'w/s-2',
        workflowId: 'w',
      },
    ]);
  });

  it('ignores names that are not ours, whatever their shape', () => {
    assert.deepEqual(
      parseOurJobs('1|RUNNING|N/A|n1|bash\n2|PENDING|N/A||cryoet.single\n3|PENDING|N/A||my job|with|pipes\n'),
      [],
    );
  });

  const bad: [string, string, string][] = [
    ['1|RUNNING|N/A|cryoet.w.s-1\n', 'line 1', '4 fields, expected 5'],
    ['\n1|RUNNING|N/A|n1|cryoet.w.s-1\nsqueue: error: Invalid user\n', 'line 3', '1 fields'],
    ['x1|RUNNING|N/A|n1|cryoet.w.s-1\n', 'line 1', 'job id "x1"'],
    ['|RUNNING|N/A|n1|cryoet.w.s-1\n', 'line 1', 'job id ""'],
    ['1| |N/A|n1|cryoet.w.s-1\n', 'line 1', 'empty state'],
    // A malformed line fails the whole listing even if its name is not ours: never cancel from a half-read queue.
    ['1|RUNNING|N/A|n1|cryoet.w.s-1\n2|RUNNING\n', 'line 2', '2 fields'],
  ];
  for (const [stdout, where, why] of bad) {
    it(`throws StatusQueryFailed naming ${where} (${why})`, () => {
      const line = stdout.split('\n')[Number(where.slice(5)) - 1]!;
      assert.throws(() => parseOurJobs(stdout), isError(ErrorType.StatusQueryFailed, where, why, JSON.stringify(line)));
    });
  }
});

describe('verdictFor', () => {
  const rows: [WorkflowLookup | undefined, boolean, string][] = [
    [{ found: false }, true, 'no such workflow'],
    [{ found: true, status: 'COMPLETED' }, true, 'workflow COMPLETED'],
    [{ found: true, status: 'FAILED' }, true, 'workflow FAILED'],
    [{ found: true, status: 'CANCELLED' }, true, 'workflow CANCELLED'],
    [{ found: true, status: 'TERMINATED' }, true, 'workflow TERMINATED'],
    [{ found: true, status: 'TIMED_OUT' }, true, 'workflow TIMED_OUT'],
    [{ found: true, status: 'RUNNING' }, false, 'workflow RUNNING'],
    [{ found: true, status: 'CONTINUED_AS_NEW' }, false, 'workflow CONTINUED_AS_NEW: a newer run carries it'],
    [{ found: true, status: 'PAUSED' }, false, 'workflow PAUSED: not closed, left alone'],
    [{ found: true, status: 'UNSPECIFIED' }, false, 'workflow UNSPECIFIED: not closed, left alone'],
    [undefined, false, 'workflow not looked up: left alone'],
  ];
  for (const [lookup, orphan, why] of rows) {
    it(`${JSON.stringify(lookup)} → ${orphan ? 'orphan' : 'owned'} (${why})`, () =>
      assert.deepEqual(verdictFor(lookup), { orphan, why }));
  }
});

describe('prefix, owners and judging', () => {
  const job = (jobId: string, workflowId: string): OurJob => ({
    jobId,
    state: 'PENDING',
    name: jobNameFor(`${workflowId}/s-1`),
    key: `${workflowId}/s-1`,
    workflowId,
  });
  const jobs = [job('1', 'p/a'), job('2', 'p/b'), job('3', 'p/a'), job('4', 'q/c'), job('5', 'p/d'), job('6', 'p/e')];
  const lookups = new Map<string, WorkflowLookup>([
    ['p/a', { found: true, status: 'RUNNING' }],
    ['p/b', { found: false }],
    ['q/c', { found: false }],
    ['p/d', { found: true, status: 'TERMINATED' }],
    // p/e not looked up
  ]);

  it('matchesPrefix: everything without a prefix, a plain string prefix otherwise', () => {
    assert.equal(matchesPrefix('p/a', undefined), true);
    assert.equal(matchesPrefix('p/a', 'p/'), true);
    assert.equal(matchesPrefix('pq/a', 'p/'), false);
    assert.equal(matchesPrefix('pq/a', 'p'), true);
  });

  it('owningWorkflowIds: distinct, first-seen order, under the prefix', () => {
    assert.deepEqual(owningWorkflowIds(jobs), ['p/a', 'p/b', 'q/c', 'p/d', 'p/e']);
    assert.deepEqual(owningWorkflowIds(jobs, 'p/'), ['p/a', 'p/b', 'p/d', 'p/e']);
    assert.deepEqual(owningWorkflowIds(jobs, 'zzz'), []);
  });

  it('judgeJobs: orphans are the not-found and closed ones; jobs outside the prefix are not judged', () => {
    const { orphans, owned } = judgeJobs(jobs, lookups, 'p/');
    assert.deepEqual(
      orphans.map((j) => [j.jobId, j.why]),
      [
        ['2', 'no such workflow'],
        ['5', 'workflow TERMINATED'],
      ],
    );
    assert.deepEqual(
      owned.map((j) => [j.jobId, j.why]),
      [
        ['1', 'workflow RUNNING'],
        ['3', 'workflow RUNNING'],
        ['6', 'workflow not looked up: left alone'],
      ],
    );
    assert.ok(orphans.every((j) => j.orphan) && owned.every((j) => !j.orphan));
    assert.deepEqual(
      judgeJobs(jobs, lookups).orphans.map((j) => j.jobId),
      ['2', '4', '5'],
    );
  });
});

describe('buildOrphanScancelArgs', () => {
  it('one scancel for every id, restricted to the user, duplicates dropped', () => {
    assert.deepEqual(buildOrphanScancelArgs('root', ['12', '7', '12']), ['scancel', '-u', 'root', '12', '7']);
  });
  const bad: [string, string[], string][] = [
    ['root', [], 'empty list'],
    ['root', ['12', '7_3'], '"7_3"'],
    ['root', ['123_[5-9]'], '"123_[5-9]"'],
    ['root', ['1;reboot'], '"1;reboot"'],
    ['root', ['-1'], '"-1"'],
    ['root', [' 1'], '" 1"'],
    ['ro ot', ['1'], 'user'],
  ];
  for (const [user, ids, part] of bad) {
    it(`refuses ${JSON.stringify(user)} ${JSON.stringify(ids)}`, () =>
      assert.throws(() => buildOrphanScancelArgs(user, ids), isError(ErrorType.NameInvalid, part)));
  }
});

describe('readScancelResult', () => {
  it('exit 0: done', () => assert.deepEqual(readScancelResult(0, ''), { ended: [], problems: [] }));
  it('exit 1 for jobs that ended since the listing (captured, Slurm 22.05): ended, no problem', () => {
    assert.deepEqual(readScancelResult(1, fixture('scancel-ended-22.05.txt')), {
      ended: ['58', '987654'],
      problems: [],
    });
  });
  it('"already completed" counts as ended too', () => {
    assert.deepEqual(
      readScancelResult(1, 'scancel: error: Kill job error on job id 9: Job/step already completing or completed\n'),
      { ended: ['9'], problems: [] },
    );
  });
  it('any other message is a problem, kept whole', () => {
    const stderr =
      'scancel: error: Kill job error on job id 58: Invalid job id specified\n' +
      'scancel: error: Kill job error on job id 59: Access/permission denied\n';
    assert.deepEqual(readScancelResult(1, stderr), {
      ended: ['58'],
      problems: ['scancel: error: Kill job error on job id 59: Access/permission denied'],
    });
    assert.deepEqual(
      readScancelResult(1, 'scancel: error: Unable to contact slurm controller (connect failure)\n').problems,
      ['scancel: error: Unable to contact slurm controller (connect failure)'],
    );
  });
  it('a failure with nothing on stderr, or a signal, is a problem', () => {
    assert.deepEqual(readScancelResult(1, '  \n'), {
      ended: [],
      problems: ['scancel exited 1 with nothing on stderr'],
    });
    assert.deepEqual(readScancelResult(null, ''), {
      ended: [],
      problems: ['scancel exited by a signal with nothing on stderr'],
    });
  });
});

describe('orphansText', () => {
  const row = {
    cluster: 'dev',
    jobId: '50',
    state: 'RUNNING',
    submitTime: '2026-11-30T03:12:39',
    nodes: 'n1',
    name: 'cryoet.p.gone.step-1',
    key: 'p/gone/step-1',
    workflowId: 'p/gone',
    why: 'no such workflow',
  };
  it('a count line, then one table row per orphan', () => {
    assert.equal(
      orphansText([row], 2, ' on cluster dev'),
      '3 job(s) named cryoet.* on cluster dev: 2 owned by an open workflow, 1 orphan(s)\n' +
        'CLUSTER  JOB  STATE    SUBMITTED            WORKFLOW  WHY\n' +
        'dev      50   RUNNING  2026-11-30T03:12:39  p/gone    no such workflow',
    );
  });
  it('no orphans: the count line alone', () =>
    assert.equal(orphansText([], 0, ''), '0 job(s) named cryoet.*: 0 owned by an open workflow, 0 orphan(s)'));
});
