/**
 * The CLI's tables: formatting basics, the campaign list, status and run record.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TypedSearchAttributes } from '@temporalio/common';
import {
  CryoCampaign,
  CryoCostUsd,
  CryoIteration,
  CryoResolution,
  CryoStage,
  CryoStatus,
} from '../../src/search-attributes.js';
import type { CampaignCancellation } from '../../src/model/campaign-status.js';
import {
  campaignRow,
  cancellationLines,
  closedText,
  defaultCampaignId,
  fileNameFor,
  formatSeconds,
  formatTable,
  formatTime,
  listQuery,
  listTable,
  runRecordText,
  statusText,
  stepName,
  stepsTable,
} from '../../src/cli/tables.js';
import { step, status, record } from '../helpers/cli-records.js';

describe('cli tables: basics', () => {
  test('formatTable pads columns two apart, no trailing blanks', () => {
    assert.equal(
      formatTable(
        ['A', 'LONGER'],
        [
          ['xyz', '1'],
          ['b', ''],
        ],
      ),
      'A    LONGER\nxyz  1\nb',
    );
    assert.equal(formatTable(['A'], [['x']], '  '), '  A\n  x');
  });

  test('times, durations, ids and file names', () => {
    assert.equal(formatTime('2025-03-01T12:00:05.123Z'), '2025-03-01 12:00:05Z');
    assert.equal(formatTime(new Date('2025-03-01T12:00:05Z')), '2025-03-01 12:00:05Z');
    assert.equal(formatTime(undefined), '');
    assert.equal(formatTime('not a date'), 'not a date');
    assert.equal(formatSeconds(45), '45s');
    assert.equal(formatSeconds(725), '12m05s');
    assert.equal(formatSeconds(3 * 3600 + 125), '3h02m');
    assert.equal(
      defaultCampaignId('embedded-10164', new Date('2025-03-01T02:03:04.999Z')),
      'embedded-10164-20250301-020304',
    );
    assert.equal(fileNameFor('lab/run-1', '-report.html'), 'lab_run-1-report.html');
    assert.equal(fileNameFor('c1', '-run-record.json'), 'c1-run-record.json');
  });

  test('listQuery ANDs an extra filter in parentheses', () => {
    assert.equal(listQuery(), "WorkflowType = 'campaign'");
    assert.equal(listQuery('  '), "WorkflowType = 'campaign'");
    assert.equal(
      listQuery("CryoStage = 'refine' OR CryoStage = 'extract'"),
      "WorkflowType = 'campaign' AND (CryoStage = 'refine' OR CryoStage = 'extract')",
    );
  });
});

describe('cli tables: list', () => {
  test('campaignRow reads the cryo search attributes', () => {
    const row = campaignRow({
      workflowId: 'c1',
      status: { name: 'RUNNING' },
      startTime: new Date('2025-03-01T12:00:05Z'),
      typedSearchAttributes: new TypedSearchAttributes([
        { key: CryoCampaign, value: 'c1' },
        { key: CryoStage, value: 'refine' },
        { key: CryoIteration, value: 4 },
        { key: CryoResolution, value: 22.5 },
        { key: CryoCostUsd, value: 0.0123 },
        { key: CryoStatus, value: 'running' },
      ]),
    });
    assert.deepEqual(row, {
      id: 'c1',
      status: 'RUNNING',
      cryoStatus: 'running',
      stage: 'refine',
      iteration: 4,
      resolution: 22.5,
      costUsd: 0.0123,
      startTime: '2025-03-01T12:00:05.000Z',
    });
    const bare = campaignRow({
      workflowId: 'c2',
      status: { name: 'FAILED' },
      startTime: new Date(0),
      closeTime: new Date(1000),
      typedSearchAttributes: new TypedSearchAttributes(),
    });
    assert.deepEqual(bare, {
      id: 'c2',
      status: 'FAILED',
      startTime: '1970-01-01T00:00:00.000Z',
      closeTime: '1970-01-01T00:00:01.000Z',
    });
  });

  test('listTable: id, status, stage, iteration, resolution, cost, start time', () => {
    const text = listTable([
      {
        id: 'c1',
        status: 'RUNNING',
        stage: 'refine',
        iteration: 4,
        resolution: 22.5,
        costUsd: 0.0123,
        startTime: '2025-03-01T12:00:05.000Z',
      },
      { id: 'campaign-two', status: 'FAILED', cryoStatus: 'failed', startTime: '2025-03-02T08:00:00.000Z' },
      {
        id: 'c3',
        status: 'RUNNING',
        cryoStatus: 'waiting-approval',
        stage: 'picks',
        costUsd: 0.001,
        startTime: '2025-03-02T09:00:00.000Z',
      },
    ]);
    assert.equal(
      text,
      [
        'ID            STATUS                    STAGE   ITER  RESOLUTION  COST     STARTED',
        'c1            RUNNING                   refine  4     22.50 Å     $0.0123  2025-03-01 12:00:05Z',
        'campaign-two  FAILED                                                       2025-03-02 08:00:00Z',
        'c3            RUNNING waiting-approval  picks                     $0.0010  2025-03-02 09:00:00Z',
      ].join('\n'),
    );
    assert.equal(listTable([]), 'no campaigns match');
  });
});

describe('cli tables: status', () => {
  test('stepsTable: rung, GPU, node, attempts, pending, run, cost', () => {
    assert.equal(stepName({ step: 'reconstruct', tiltSeries: 'TS_01' }), 'reconstruct TS_01');
    assert.equal(stepName({ step: 'refine' }), 'refine');
    const text = stepsTable([
      step({ step: 'reconstruct', tiltSeries: 'TS_01', rung: 1, gres: 'gpu:1', gpuType: 't4', node: undefined }),
    ]);
    const lines = text.split('\n');
    assert.match(lines[0]!, /^ {2}STEP\s+RUNG\s+GPU\s+NODE\s+ATTEMPTS\s+PENDING\s+RUN\s+COST$/);
    assert.match(lines[1]!, /^ {2}reconstruct TS_01\s+1 dev\/gpu gpu:1\s+t4\s+2\s+21s\s+12m34s\s+\$0\.3351$/);
    assert.equal(stepsTable([]), '  (none finished yet)');
  });

  test('statusText shows stage, each tilt series, particles, refine, steps and running children', () => {
    const text = statusText(status());
    assert.match(text, /^campaign\s+embedded-10164-20250301-120005$/m);
    assert.match(text, /^workflow\s+RUNNING$/m);
    assert.match(text, /^started\s+2025-03-01 12:00:05Z$/m);
    assert.match(text, /^stage\s+refine$/m);
    assert.match(text, /^picks\s+approved by alice at 2025-03-01 12:10:00Z: fine$/m);
    assert.match(text, /^particles\s+120$/m);
    assert.match(text, /^refine\s+iteration 3, 31\.25 Å$/m);
    assert.match(text, /^cost\s+\$0\.3354$/m);
    assert.doesNotMatch(text, /^final|^error/m);
    assert.match(text, /^tilt series \(4: 1 waiting, 1 running, 1 done, 1 failed\)$/m);
    assert.match(text, /^ {2}TS_01\s+done\s+tomograms\/TS_01\.mrc$/m);
    assert.match(text, /^ {2}TS_03\s+failed\s+TS_03\.rawtlt: 40 angles, stack has 41 images$/m);
    assert.match(text, /^ {2}TS_43\s+running$/m);
    assert.match(text, /^steps \(2 finished\)$/m);
    assert.match(text, /^ {2}probe\s+1 dev\/gpu gpu:1\s+any\s+n1\s+1\s+1s\s+3s\s+\$0\.0003$/m);
    assert.match(text, /^ {2}reconstruct TS_01\s/m);
    assert.match(text, /^ {2}refine\s+embedded-10164-20250301-120005\/refine$/m);
    assert.match(text, /^ {2}TS_43\s+embedded-10164-20250301-120005\/TS_43\/reconstruct$/m);
  });

  test('statusText lists excluded (black-hole) nodes with when, which job and why; none: no section', () => {
    assert.doesNotMatch(statusText(status()), /excluded nodes/);
    const text = statusText({
      ...status(),
      excludedNodes: [
        { cluster: 'dev', node: 'n1', until: '2025-03-01T13:00:00Z', reason: 'NODE_FAIL', jobId: '42', step: 'refine' },
      ],
    });
    assert.match(text, /^excluded nodes \(1\)$/m);
    assert.match(text, /^ {2}dev\s+n1\s+2025-03-01 13:00:00Z\s+refine\s+42\s+NODE_FAIL$/m);
  });

  test('statusText of a campaign at its end and of one that failed', () => {
    const done = statusText(
      status({
        stage: 'done',
        running: {},
        refine: { iteration: 9, resolution: 25, finished: true, history: [] },
        finalResolution: 24.81,
        bfactor: -900.4,
      }),
    );
    assert.match(done, /^refine\s+iteration 9, 25\.00 Å \(finished\)$/m);
    assert.match(done, /^final\s+24\.81 Å, B-factor -900 Å²$/m);
    assert.match(done, /^running\n {2}\(nothing\)$/m);
    const failed = statusText(
      status({ error: 'picks rejected by bob', refine: { finished: false, history: [] }, particles: undefined }),
    );
    assert.match(failed, /^error\s+picks rejected by bob$/m);
    assert.match(failed, /^refine\s+not started$/m);
    assert.doesNotMatch(failed, /^particles/m);
  });

  test('runRecordText: the completed campaign from its run record', () => {
    const text = runRecordText(record());
    assert.match(text, /^workflow\s+COMPLETED$/m);
    assert.match(text, /^ended\s+2025-03-01 12:40:00Z$/m);
    assert.match(text, /^particles\s+240 at 10.000 Å\/px$/m);
    // Three decimals, as the report and the field write it (4 × 10 Å / 3 binned: 13.333…).
    assert.match(runRecordText({ ...record(), pixelSize: 40 / 3 }), /^particles\s+240 at 13.333 Å\/px$/m);
    // A refine that found no structure: RELION's postprocess writes inf, the record null.
    assert.match(
      runRecordText({ ...record(), finalResolution: null }),
      /^final\s+none \(the half maps agree at no shell\) \(FSC 0\.143\)/m,
    );
    assert.match(text, /^refine\s+2 iteration\(s\), last 40\.50 Å$/m);
    assert.match(text, /^final\s+28\.40 Å \(FSC 0\.143\), B-factor -812 Å²$/m);
    assert.match(text, /^tilt series \(2, 1 failed\)$/m);
    assert.match(text, /^ {2}TS_03\s+failed\s+bad angles$/m);
    assert.match(text, /^ {2}refine\s+2 dev\/gpu gpu:4\s+any\s+n2\s+2\s+21s\s+12m34s\s+\$0\.3351$/m);
    assert.match(
      text,
      /^ {2}\/work\/campaigns\/c1\/PostProcess\/postprocess\.mrc {2}55296 bytes {2}sha256 cdcdcdcdcdcd$/m,
    );
  });

  test('closedText: a campaign that ended without a record', () => {
    assert.equal(
      closedText('c1', 'TERMINATED', 'stuck', '2025-03-01T13:00:00Z'),
      'campaign  c1\nworkflow  TERMINATED\nclosed    2025-03-01 13:00:00Z\nfailure   stuck',
    );
    assert.equal(closedText('c1', 'CANCELLED', undefined), 'campaign  c1\nworkflow  CANCELLED');
  });

  test('closedText: a cancelled campaign lists what was running and the Slurm jobs cancelled', () => {
    const cancellation: CampaignCancellation = {
      requestedAt: '2025-03-01T13:00:00Z',
      endedAt: '2025-03-01T13:00:03Z',
      stage: 'refine',
      running: { refine: 'c1/refine', postprocess: 'c1/postprocess' },
      jobsCancelled: [
        { workflowId: 'c1/refine', step: 'refine', jobId: '41', cluster: 'dev' },
        { workflowId: 'c1/postprocess', step: 'postprocess', jobId: '42' },
      ],
      stepsCompleted: 6,
      costUsd: 0.5,
    };
    const text = closedText('c1', 'CANCELLED', 'Workflow cancelled', '2025-03-01T13:00:03Z', cancellation);
    assert.match(text, /^failure   Workflow cancelled$/m);
    assert.match(
      text,
      new RegExp(
        '^cancelled at stage refine \\(2025-03-01 13:00:00Z; everything stopped by 2025-03-01 13:00:03Z\\), ' +
          '6 step\\(s\\) completed, \\$0\\.50+$',
        'm',
      ),
    );
    assert.match(text, /^was running \(2\)$/m);
    assert.match(text, /^ {2}refine +c1\/refine$/m);
    assert.match(text, /^Slurm jobs cancelled \(2\)$/m);
    assert.match(text, /^ {2}refine +41 +dev +c1\/refine$/m);
    assert.match(text, /^ {2}postprocess +42 +c1\/postprocess$/m);
    assert.deepEqual(cancellationLines(undefined), []);
    const idle = cancellationLines({ ...cancellation, running: {}, jobsCancelled: [] }).join('\n');
    assert.match(idle, /was running \(0\)\n {2}\(nothing\)\nSlurm jobs cancelled \(0\)\n {2}\(none\)/);
  });
});
