/**
 * The peers benchmark's harness (bench/peers.bench.ts, `npm run bench`), its pure parts:
 * reading the tool and scheduler-call logs, the critical path, iterations redone,
 * duplicate submissions, the tables; the Snakefile and sbatch chain it generates from our
 * own command lines; and the SLEEP refine stand-in resuming from its newest complete
 * iteration the way our refine resume reads it. The full benchmark is not part of npm test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  classifyCall,
  criticalPath,
  eventsIn,
  iterationsRedone,
  listScheduleMs,
  markdownTable,
  newestIteration,
  parseCallLog,
  parseToolLog,
  pipelineDag,
  stepWorkMs,
  submissionReport,
  summarizeCalls,
} from '../../bench/peers/metrics.js';
import { sleepSpec, stepCommands, type PipelineVariant } from '../../bench/peers/pipeline.js';
import { nominalCriticalPathS, writeSleepDataset, writeSleepTools } from '../../bench/peers/sleep-tools.js';
import { chainScript, snakefileText, snakemakeJobKeys, type RunSpec } from '../../bench/peers/ways.js';
import { devConfig } from '../helpers/env.js';
import { refineProgress } from '../../src/tools/refine-iterations.js';
import { parseMrcHeader } from '../../src/tools/mrc.js';

const DIR = '/w/run1';
const line = (step: string, event: string, item: string, ms: number, job = '7', dir = DIR) =>
  `${step} ${event} ${item} ${ms} ${job} n1 ${dir}`;

describe('bench harness: logs and figures', () => {
  test('tool log → step work, critical path, iterations redone', () => {
    const log = [
      line('probe', 'end', '-', 900, '1'),
      line('reconstruct', 'start', 'TS_01', 1000, '2'),
      line('reconstruct', 'end', 'TS_01', 11_000, '2'),
      line('reconstruct', 'start', 'TS_02', 1000, '3'),
      line('reconstruct', 'end', 'TS_02', 13_000, '3'),
      line('extract', 'start', '-', 14_000, '4'),
      line('extract', 'end', '-', 19_000, '4'),
      line('refine', 'run-start', '-', 20_000, '5'),
      line('refine', 'start', '1', 20_000, '5'),
      line('refine', 'end', '1', 25_000, '5'),
      line('refine', 'start', '2', 25_000, '5'), // node lost mid-iteration 2
      line('refine', 'run-start', '-', 40_000, '6'),
      line('refine', 'start', '2', 40_000, '6'),
      line('refine', 'end', '2', 45_000, '6'),
      line('postprocess', 'start', '-', 46_000, '8'),
      line('postprocess', 'end', '-', 51_000, '8'),
      line('extract', 'start', '-', 1, '9', '/w/other'),
      'garbage line',
    ].join('\n');
    const events = eventsIn(parseToolLog(log), DIR);
    assert.equal(events.length, 16);
    const work = stepWorkMs(events);
    assert.deepEqual(Object.fromEntries(work), {
      probe: 0,
      'reconstruct:TS_01': 10_000,
      'reconstruct:TS_02': 12_000,
      extract: 5000,
      postprocess: 5000,
      refine: 10_000,
    });
    const cp = criticalPath(pipelineDag(['TS_01', 'TS_02'], true), work);
    assert.equal(cp.ms, 12_000 + 5000 + 10_000 + 5000);
    assert.deepEqual(cp.path, ['probe', 'reconstruct:TS_02', 'extract', 'refine', 'postprocess']);
    assert.equal(iterationsRedone(events), 1);
    assert.equal(newestIteration(events), 2);
  });

  test('scheduler calls: parsed, classified, counted per minute', () => {
    const log = [
      '1000 squeue - r1 -h -t all --name cryoet.r1.refine.refine-1 -o %i',
      '1001 sacct - r1 -X -n -P --name cryoet.r1.refine.refine-1 -S now-30days -o JobIDRaw',
      '1002 sbatch - r1 --parsable /w/jobs/cryoet.r1.refine.refine-1/job.sbatch',
      '2000 squeue - r1 -h -t all -j 5,6 -o %i|%j|%T',
      '3000 sacct - r1 -X --parsable2 --noheader --format=JobIdRaw,State --name 0f21d364',
      '4000 scancel - r1 --name x 5',
      '5000 srun 17 r1 --jobid 17 python -m snakemake',
      '6000 sinfo - r1 -h -N',
    ].join('\n');
    const calls = parseCallLog(log);
    assert.deepEqual(calls.map(classifyCall), [
      'submit-lookup',
      'submit-lookup',
      'submit',
      'status',
      'status',
      'cancel',
      'in-job',
      'other',
    ]);
    const summary = summarizeCalls(calls, 60_000);
    assert.equal(summary.driver, 7);
    assert.equal(summary.byKind.status, 2);
    assert.equal(summary.statusPerMinute, 2);
    assert.equal(summary.byCommand['srun'], undefined);
  });

  test('duplicates and completed jobs re-run', () => {
    const report = submissionReport([
      { jobId: '1', key: 'refine', state: 'NODE_FAIL', submitMs: 0, startMs: 1, endMs: 10 },
      // resubmission after loss: fine
      { jobId: '2', key: 'refine', state: 'COMPLETED', submitMs: 11, startMs: 12, endMs: 20 },
      { jobId: '3', key: 'extract', state: 'COMPLETED', submitMs: 0, startMs: 1, endMs: 5 },
      { jobId: '4', key: 'extract', state: 'COMPLETED', submitMs: 8, startMs: 9, endMs: 12 }, // re-ran a completed step
      { jobId: '5', key: 'postprocess', state: 'RUNNING', submitMs: 0, startMs: 1 },
      { jobId: '6', key: 'postprocess', state: 'PENDING', submitMs: 5 }, // submitted while the first still runs
    ]);
    assert.deepEqual(report, { submitted: 6, duplicates: 2, completedRerun: 1 });
  });

  test('list schedule and the table', () => {
    assert.equal(listScheduleMs([2, 2, 2, 2, 2], 2), 6);
    assert.equal(listScheduleMs([], 8), 0);
    assert.equal(
      markdownTable(
        ['a', 'b'],
        [
          [1, undefined],
          ['x|y', 'z'],
        ],
      ),
      '| a | b |\n|---|---|\n| 1 | — |\n| x\\|y | z |',
    );
  });
});

describe('bench harness: the three ways run our command lines', async () => {
  const config = await devConfig();
  const tmp = mkdtempSync(join(tmpdir(), 'cryoet-bench-smoke-'));
  const data = writeSleepDataset(join(tmp, 'data'));
  const durations = { reconstruct: 0, extract: 0, refineIterations: 4, refineIteration: 0, postprocess: 0 };
  const toolLog = join(tmp, 'tools.log');
  const tools = writeSleepTools(join(tmp, 'tools'), durations, toolLog);
  const variant: PipelineVariant = {
    name: 'sleep',
    spec: sleepSpec(3, { dir: join(tmp, 'data'), ...data }),
    tools: {
      aretomo2: tools.aretomo2,
      relionBinDir: tools.relionBinDir,
      mpirun: [tools.mpirun],
      stageDir: join(tmp, 'stage'),
    },
  };
  const dir = join(tmp, 'work', 'run1');
  const commands = stepCommands(variant, config, dir, {
    cluster: 'dev',
    partition: 'gpu',
    gres: 'gpu:4',
    timeScale: 1,
  });
  const run: RunSpec = {
    id: 'run1',
    way: 'chain',
    scenario: 'clean',
    variant,
    dir,
    driverDir: join(dir, '.driver'),
    refinePinned: false,
    commands,
    shimDir: '/shim',
    callsLog: '/calls.log',
  };

  test("the commands are the campaign builders' lines (staged AreTomo2; the embedded profile's 3 MPI ranks)", () => {
    assert.equal(commands.reconstruct.size, 3);
    assert.match(
      commands.reconstruct.get('TS_01')!.at(-1)!,
      new RegExp(`${join(tmp, 'stage')}/AreTomo2-sleep -InMrc ${data.stack} -OutMrc tomograms/TS_01\\.mrc`),
    );
    assert.match(
      commands.refine.at(-1)!,
      new RegExp(`${tools.mpirun} -n 3 ${tools.relionBinDir}/relion_refine_mpi --o Refine3D/run --auto_refine`),
    );
    assert.match(commands.postprocess.at(-1)!, /relion_postprocess --i Refine3D\/run_half1_class001_unfil\.mrc/);
    assert.equal(
      nominalCriticalPathS({ reconstruct: 10, extract: 5, refineIterations: 8, refineIteration: 5, postprocess: 5 }),
      60,
    );
  });

  test('the Snakefile and the chain carry the same lines, GPU requests and dependencies', () => {
    const snakefile = snakefileText({ ...run, refinePinned: true });
    assert.match(snakefile, /gres="gpu:a10g:4"/);
    assert.match(snakefile, /rule refine:/);
    assert.ok(
      snakefile.includes(JSON.stringify(`bash -c '${commands.refine.at(-1)!.replaceAll("'", `'\\''`)}'`)),
      'refine line',
    );
    const chain = chainScript(run);
    assert.match(chain, /extract=\$\(sbatch .*--dependency=afterok:\$\{r0%%;\*\}:\$\{r1%%;\*\}:\$\{r2%%;\*\}/);
    assert.match(chain, /refine=\$\(sbatch .*--gres=gpu:4 .*--dependency=afterok:\$\{extract%%;\*\}/);
    assert.match(chain, /post=\$\(sbatch .*--dependency=afterok:\$\{refine%%;\*\}/);
    assert.equal(snakemakeJobKeys(join(tmp, 'nowhere')).size, 0);
  });

  test('the SLEEP refine writes RELION-named iterations and resumes after the newest complete one', () => {
    const work = join(tmp, 'refine');
    execFileSync('bash', [
      '-c',
      `mkdir -p ${work} && cd ${work} && ${tools.mpirun} -n 3 ` +
        `${tools.relionBinDir}/relion_refine_mpi --o Refine3D/run --auto_refine --i x.star`,
    ]);
    let names = readdirSync(join(work, 'Refine3D'));
    assert.deepEqual(refineProgress(names, 'run'), {
      started: [0, 1, 2, 3, 4],
      newestComplete: 4,
      partial: [],
      finished: true,
    });
    execFileSync('bash', [
      '-c',
      `cd ${work} && ${tools.relionBinDir}/relion_refine_mpi ` +
        '--continue Refine3D/run_it002_optimiser.star --o Refine3D/run',
    ]);
    const events = eventsIn(parseToolLog(readFileSync(toolLog, 'utf8')), work);
    assert.deepEqual(
      events.filter((e) => e.event === 'start').map((e) => e.item),
      ['1', '2', '3', '4', '3', '4'],
    );
    assert.equal(iterationsRedone(events), 2);
    names = readdirSync(join(work, 'Refine3D'));
    const map = readFileSync(join(work, 'Refine3D', 'run_half1_class001_unfil.mrc'));
    assert.equal(parseMrcHeader(map, map.length, 'map').nx, 8);
    assert.ok(names.includes('run_it004_half2_model.star'));
  });
});
