/**
 * Property-based tests (fast-check) for the scheduler's output readers (squeue, sacct, sbatch,
 * submit, sinfo, orphans) and the result marker: any input parses, or raises the documented error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ErrorType } from '../../src/errors.js';
import { jobNameFor } from '../../src/slurm/job-key.js';
import { parseNodeHealth } from '../../src/slurm/node-exclusions.js';
import { ownerOf, parseOurJobs } from '../../src/slurm/orphans.js';
import { parseSbatchParsable } from '../../src/slurm/parse-sbatch.js';
import { parseSqueue } from '../../src/slurm/parse-squeue.js';
import { parseSacct } from '../../src/slurm/sacct.js';
import { parseResultMarker } from '../../src/slurm/sbatch-script.js';
import { parseSubmitOutput } from '../../src/slurm/submit-command.js';
import { classifyJob } from '../../src/slurm/state-table.js';
import {
  check,
  parsesOr,
  nasty,
  anyText,
  damaged,
  safeName,
  squeueOut,
  sacctOut,
  orphanOut,
  sinfoOut,
} from '../helpers/arbitraries.js';

describe('parsers: any input parses or raises the documented error', () => {
  it('squeue (parseSqueue): rows with a job id and a state, or StatusQueryFailed; clean output is read whole', () => {
    check(
      fc.property(damaged(squeueOut), ([stdout, clean]) => {
        const rows = parsesOr(ErrorType.StatusQueryFailed, () => parseSqueue(stdout));
        if (clean) assert.equal(rows?.length, stdout.split('\n').filter((l) => l.trim() !== '').length);
        for (const row of rows ?? []) {
          assert.match(row.jobId, /^[0-9]+([_+][0-9[\]%,-]+)?$/);
          assert.notEqual(row.state, '');
          // An unknown state is never success.
          const c = classifyJob(row.state, row.reason);
          if (!c.known) assert.equal(c.move, 'pending');
        }
      }),
      200,
    );
  });

  it('sacct (parseSacct): rows with a job id and a state, or StatusQueryFailed; clean output is read whole', () => {
    check(
      fc.property(damaged(sacctOut), ([stdout, clean]) => {
        const rows = parsesOr(ErrorType.StatusQueryFailed, () => parseSacct(stdout));
        if (clean) assert.equal(rows?.length, stdout.split('\n').filter((l) => l.trim() !== '').length);
        for (const row of rows ?? []) {
          assert.match(row.jobId, /^[0-9]+([_+][0-9[\]%,-]+)?$/);
          assert.notEqual(row.state.trim(), '');
        }
      }),
      200,
    );
  });

  it('sbatch --parsable (parseSbatchParsable): a numeric id, or SubmitOutputUnreadable', () => {
    const sbatchOut = fc.oneof(
      fc
        .tuple(fc.array(nasty(12), { maxLength: 3 }), fc.stringMatching(/^[0-9]{1,8}(;[A-Za-z0-9._-]{1,8})?$/))
        .map(([chatter, last]) => [...chatter, last].join('\n')),
      anyText(60),
    );
    check(
      fc.property(sbatchOut, (stdout) => {
        const result = parsesOr(ErrorType.SubmitOutputUnreadable, () => parseSbatchParsable(stdout));
        if (result) assert.match(result.jobId, /^[0-9]+$/);
      }),
      200,
    );
  });

  it('submit command output (parseSubmitOutput): existing/submitted with an id, or SubmitOutputUnreadable', () => {
    const out = fc.oneof(
      fc
        .tuple(
          nasty(12),
          fc.constantFrom('existing:', 'submitted:', ''),
          fc.oneof(fc.stringMatching(/^[0-9]{1,6}(;c1)?$/), nasty(4)),
        )
        .map(([a, b, c]) => `${a}\n${b}${c}\n`),
      anyText(60),
    );
    check(
      fc.property(out, (stdout) => {
        const result = parsesOr(ErrorType.SubmitOutputUnreadable, () => parseSubmitOutput(stdout));
        if (result) assert.match(result.jobId, /^[0-9]+$/);
      }),
      200,
    );
  });

  it('sinfo node health (parseNodeHealth): rows with a node and a state, or StatusQueryFailed', () => {
    check(
      fc.property(damaged(sinfoOut), ([stdout, clean]) => {
        const rows = parsesOr(ErrorType.StatusQueryFailed, () => parseNodeHealth(stdout));
        if (clean)
          assert.equal(
            rows?.length,
            new Set(
              stdout
                .split('\n')
                .filter((l) => l.trim() !== '')
                .map((l) => l.split('|')[0]),
            ).size,
          );
        for (const row of rows ?? []) {
          assert.notEqual(row.node, '');
          assert.notEqual(row.state, '');
          assert.equal(typeof row.unhealthy, 'boolean');
        }
      }),
      200,
    );
  });

  it('orphan listing (parseOurJobs): our jobs with their owner, or StatusQueryFailed', () => {
    check(
      fc.property(damaged(orphanOut), ([stdout, clean]) => {
        const jobs = parsesOr(ErrorType.StatusQueryFailed, () => parseOurJobs(stdout));
        if (clean)
          assert.equal(
            jobs?.length,
            stdout.split('\n').filter((l) => ownerOf(l.split('|').slice(4).join('|').trim()) !== undefined).length,
          );
        for (const job of jobs ?? []) {
          assert.match(job.jobId, /^[0-9]+([_+][0-9[\]%,-]+)?$/);
          assert.deepEqual(ownerOf(job.name), { key: job.key, workflowId: job.workflowId });
          assert.equal(jobNameFor(job.key), job.name);
        }
      }),
      200,
    );
  });

  it('result marker (parseResultMarker): exit code 0..255, or ResultMarkerMissing', () => {
    const marker = fc
      .tuple(
        fc.integer({ min: 0, max: 255 }),
        fc.stringMatching(/^[0-9]{1,6}$/),
        safeName,
        fc.constantFrom('2026-11-25T10:08:18Z', ''),
        fc.boolean(),
      )
      .map(
        ([code, id, node, at, extra]) =>
          [
            `exit_code=${code}`,
            `job_id=${id}`,
            `node=${node}`,
            `finished_at=${at}`,
            ...(extra ? ['future_key=1'] : []),
          ].join('\n') + '\n',
      );
    check(
      fc.property(damaged(marker), ([text, clean]) => {
        const parsed = parsesOr(ErrorType.ResultMarkerMissing, () => parseResultMarker(text));
        if (clean) assert.equal(parsed?.exitCode, Number(/exit_code=(\d+)/.exec(text)![1]));
        if (parsed) assert.ok(Number.isInteger(parsed.exitCode) && parsed.exitCode >= 0 && parsed.exitCode <= 255);
      }),
      200,
    );
  });
});
