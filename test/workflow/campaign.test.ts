/**
 * The campaign end to end on the embedded profile, against the real stack: Temporal dev
 * server, the dev Slurm cluster over sshd, the CPU AreTomo2 stand-in and RELION 3.1 on a
 * small synthetic dataset with ground truth. Four more tilt series have bad input (41
 * images but 40 angles, a missing stack, a truncated MRC header, truncated MRC data) and
 * must each fail alone, naming the file and the problem, before any job; the refine's node is set DOWN mid-refine
 * (FAKE spot reclaim) and the refine must resume from its newest complete iteration. The
 * results are checked against the ground truth, not against what RELION prints.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { campaignInput, type CampaignInput } from '../../src/campaign/input.js';
import { parseCampaign } from '../../src/campaign/load.js';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import { startCampaign } from '../../src/client.js';
import { reclaimDuringRefine, type ReclaimReport } from '../../src/cli/spot-reclaim.js';
import { CHECK_TRUTH, EMBEDDED_CAMPAIGN, EMBEDDED_PYTHON, MAKE_DATASET } from '../../src/embedded.js';
import { CryoIteration, CryoResolution } from '../../src/search-attributes.js';
import { campaignStatusQuery } from '../../src/workflows/operations.js';
import type { RunRecord } from '../../src/model/campaign-status.js';
import { uniqueId } from '../helpers/env.js';
import { PNG } from 'pngjs';
import { clusterPictures } from '../../src/cli/report-pictures.js';
import { MAX_PICTURE_SIDE } from '../../src/pictures/views.js';
import { ladder, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';
import {
  describeHits,
  findSecrets,
  GENERIC_SECRETS,
  keyFileSecrets,
  listHistories,
} from '../helpers/history-secrets.js';

/** Tolerances, stated: see README "Science checks". */
const TOMOGRAM_CC_MIN = 0.35; // vs noise-free truth, both low-passed to 40 Å (measured 0.50–0.58)
const MAP_CC_MIN = 0.9; // refined map vs truth particle (measured 0.99)
const HAND_MARGIN_MIN = 0.03; // cc(truth) − cc(mirror image), best over turns about the axis (measured 0.09)
const RESOLUTION_TOLERANCE = 0.3; // |truth FSC 0.5 − RELION's FSC 0.143| / RELION's

function checkTruth(args: string[]): Record<string, number> {
  return JSON.parse(execFileSync(EMBEDDED_PYTHON, [CHECK_TRUTH, ...args], { encoding: 'utf8' })) as Record<
    string,
    number
  >;
}

describe('campaign on the embedded profile', () => {
  let h: WorkerHarness;
  let dataDir: string;
  let badDir: string;
  let input: CampaignInput;
  let record: RunRecord;
  let reclaim: ReclaimReport;

  before(async () => {
    h = await startWorkerHarness();
    dataDir = join(h.config.paths.data, 'synthetic-10164-fast');
    execFileSync(EMBEDDED_PYTHON, [MAKE_DATASET, '--out', dataDir, '--size', '128,128,48', '--particles', '8'], {
      stdio: 'ignore',
    });
    // A sixth tilt series whose angle file is one line short of its stack.
    badDir = join(h.config.paths.data, 'bad-input');
    mkdirSync(badDir, { recursive: true });
    copyFileSync(join(dataDir, 'TS_01.mrc'), join(badDir, 'TS_99.mrc'));
    writeFileSync(
      join(badDir, 'TS_99.rawtlt'),
      readFileSync(join(dataDir, 'TS_01.rawtlt'), 'utf8').trim().split('\n').slice(1).join('\n') + '\n',
    );
    const stack = readFileSync(join(dataDir, 'TS_01.mrc'));
    writeFileSync(join(badDir, 'TS_97.mrc'), stack.subarray(0, 600)); // header cut short
    writeFileSync(join(badDir, 'TS_96.mrc'), stack.subarray(0, stack.length - 4096)); // data cut short

    const parsed = parseCampaign(readFileSync(EMBEDDED_CAMPAIGN, 'utf8'), 'embedded');
    assert.ok(parsed.ok);
    const base = parsed.spec;
    const spec: CampaignSpec = {
      ...base,
      dataDir: 'synthetic-10164-fast',
      tiltSeries: [
        ...base.tiltSeries,
        {
          name: 'TS_99',
          stack: join(badDir, 'TS_99.mrc'),
          angles: join(badDir, 'TS_99.rawtlt'),
          pixelSize: 10,
          dosePerTilt: 3,
          picks: 'TS_01_picks.star',
        },
        {
          name: 'TS_98',
          stack: join(badDir, 'TS_98.mrc'),
          angles: 'TS_01.rawtlt',
          pixelSize: 10,
          dosePerTilt: 3,
          picks: 'TS_01_picks.star',
        },
        {
          name: 'TS_97',
          stack: join(badDir, 'TS_97.mrc'),
          angles: 'TS_01.rawtlt',
          pixelSize: 10,
          dosePerTilt: 3,
          picks: 'TS_01_picks.star',
        },
        {
          name: 'TS_96',
          stack: join(badDir, 'TS_96.mrc'),
          angles: 'TS_01.rawtlt',
          pixelSize: 10,
          dosePerTilt: 3,
          picks: 'TS_01_picks.star',
        },
      ],
      reconstruction: { ...base.reconstruction, volZ: 48 },
      refine: { ...base.refine, autoLocalHealpixOrder: 2 },
      limits: { maxParallelTiltSeries: 3, minTiltSeries: 5 },
    };
    const id = uniqueId('campaign');
    const built = campaignInput(h.config, spec, id);
    // As in the demo: the refine's first rung pins A10G, whose pool is empty (relaxed after
    // 5 s), and its node is then lost mid-refine. The postprocess, queued behind the refine's
    // first job, follows each replacement.
    input = {
      ...built,
      placements: { ...built.placements, refine: ladder(['gpu:a10g:4', 'gpu:4', 'gpu:1'], 5_000) },
      progressEveryMs: 1000,
    };
    const handle = await startCampaign(
      h.env.client,
      { ...h.config, temporal: { ...h.config.temporal, taskQueue: h.taskQueue } },
      input,
    );
    const injected = reclaimDuringRefine({
      pool: h.plugin.resources.pool,
      cluster: 'dev',
      campaignId: id,
      campaignDir: input.layout.dir,
      atIteration: 2,
      timeoutMs: 240_000,
    });
    // Awaited together: a failed injection fails the set-up at once, with its own error, rather
    // than as a rejection nobody is waiting on yet (which cancels every test of the file).
    const [result, injectedReport] = await Promise.all([handle.result(), injected]);
    record = result as RunRecord;
    reclaim = injectedReport;
  });

  after(async () => {
    if (reclaim) await h.slurm(['scontrol', 'update', `NodeName=${reclaim.node}`, 'State=RESUME']).catch(() => {});
    await h?.stop();
  });

  test('each bad tilt series fails alone with the file and the problem named, before any job', async () => {
    const expected: Record<string, RegExp> = {
      TS_99: /TS_99\.mrc has 41 tilt images but TS_99\.rawtlt has 40 angles/,
      TS_98: /TS_98: tilt stack .*TS_98\.mrc: file not found/,
      TS_97: /TS_97\.mrc: MRC header truncated: 600 of 1024 bytes/,
      TS_96: /TS_96\.mrc: data truncated: file is \d+ bytes, header promises \d+/,
    };
    const jobs = await h.slurm(['sacct', '-X', '-n', '-P', '-S', 'now-1hour', '-o', 'JobName%200']);
    for (const [name, pattern] of Object.entries(expected)) {
      const bad = record.tiltSeries.find((t) => t.name === name)!;
      assert.match(bad.error ?? '', pattern, name);
      assert.ok(!jobs.includes(`${input.id}.${name}.`), `a job was submitted for ${name}`);
    }
    assert.deepEqual(
      record.tiltSeries.filter((t) => t.tomogram).map((t) => t.name),
      ['TS_01', 'TS_03', 'TS_43', 'TS_45', 'TS_54'],
    );
  });

  test('each tomogram matches its ground truth', () => {
    for (const ts of ['TS_01', 'TS_03', 'TS_43', 'TS_45', 'TS_54']) {
      const r = checkTruth([
        'tomogram',
        '--recon',
        join(input.layout.dir, 'tomograms', `${ts}.mrc`),
        '--truth',
        join(dataDir, 'truth', `${ts}_tomogram.mrc`),
      ]);
      assert.ok(r['cc']! > TOMOGRAM_CC_MIN, `${ts}: cc ${r['cc']} with truth`);
      assert.ok(
        r['cc']! > r['ccFlippedZ']! + 0.2,
        `${ts}: cc ${r['cc']} not clearly above the Z-flipped truth's ${r['ccFlippedZ']}`,
      );
    }
  });

  test('the refine lost its node, resumed from its newest complete iteration and redid at most one', () => {
    const refine = record.steps.find((s) => s.step === 'refine')!;
    const lost = refine.events.find((e) => e.kind === 'lost');
    const resumed = refine.events.find((e) => e.kind === 'resumed');
    assert.ok(lost && resumed, `events: ${refine.events.map((e) => e.kind).join(', ')}`);
    assert.ok(
      resumed.iteration !== undefined && resumed.iteration >= reclaim.iteration,
      `resumed from ${resumed.iteration}, reclaimed at ${reclaim.iteration}`,
    );
    assert.ok((resumed.redone ?? []).length <= 1, `redone: ${resumed.redone}`);
    assert.equal(refine.reclaims, 1);
    assert.notEqual(refine.node, reclaim.node);
    // Iteration files after the resume continue the numbering: nothing before the resume point was redone.
    const names = execFileSync('ls', [join(input.layout.dir, 'Refine3D')], { encoding: 'utf8' });
    assert.match(names, new RegExp(`run_it${String(resumed.iteration! + 1).padStart(3, '0')}_optimiser\\.star`));
  });

  test('the reclaimed node is a black hole for the rest of the campaign: postprocess leaves it out', () => {
    assert.deepEqual(
      record.excludedNodes?.map((e) => [e.node, e.step, e.reason]),
      [[reclaim.node, 'refine', 'NODE_FAIL']],
    );
    const post = record.steps.find((s) => s.step === 'postprocess')!;
    // Queued before the reclaim, it was re-pointed with the node left out (scontrol update).
    assert.match(
      post.events.filter((e) => e.kind === 'moved').at(-1)?.note ?? '',
      new RegExp(`excluding ${reclaim.node}$`),
    );
    assert.notEqual(post.node, reclaim.node);
  });

  test(
    'each step is queued in Slurm behind the jobs it needs; ' +
      'the postprocess followed the relaxed and the reclaimed refine: one Slurm job',
    async () => {
      const queuedBehind = (s: RunRecord['steps'][number]) =>
        /queued behind job\(s\) ([0-9,]+)/.exec(s.events.find((e) => e.kind === 'submitted')?.note ?? '')?.[1];
      const step = (name: string) => record.steps.find((s) => s.step === name)!;
      const probeJob = step('probe').jobIds.at(-1);
      const reconstructs = record.steps.filter((s) => s.step === 'reconstruct');
      assert.ok(
        reconstructs.some((s) => queuedBehind(s) === probeJob),
        `no reconstruction queued behind the probe's job ${probeJob}: ${reconstructs.map(queuedBehind).join(' ')}`,
      );
      assert.equal(queuedBehind(step('refine')), step('extract').jobIds.at(-1));
      // The refine: hung on A10G (cancelled), relaxed, lost its node, resumed: three jobs.
      const refine = step('refine');
      assert.deepEqual(
        refine.events.filter((e) => ['hung', 'relaxed', 'lost', 'resumed'].includes(e.kind)).map((e) => e.kind),
        ['hung', 'relaxed', 'lost', 'resumed'],
      );
      assert.equal(refine.jobIds.length, 3, `refine jobs ${refine.jobIds.join(',')}`);
      // The postprocess was queued behind the first, and moved behind each replacement.
      const post = step('postprocess');
      assert.equal(queuedBehind(post), refine.jobIds[0]);
      const moves = post.events.filter((e) => e.kind === 'moved').map((e) => e.note ?? '');
      assert.deepEqual(
        moves.map((m) => /queued behind job\(s\) (\d+) now, not (\d+)/.exec(m)?.slice(1)),
        [
          [refine.jobIds[1], refine.jobIds[0]],
          [refine.jobIds[2], refine.jobIds[1]],
        ],
      );
      assert.equal(post.jobIds.length, 1, `postprocess jobs ${post.jobIds.join(',')}`);
      const [state, start] = (await h.slurm(['sacct', '-X', '-n', '-P', '-j', post.jobIds[0]!, '-o', 'State,Start']))
        .trim()
        .split('|');
      assert.equal(state, 'COMPLETED');
      const [refineEnd] = (await h.slurm(['sacct', '-X', '-n', '-P', '-j', refine.jobIds[2]!, '-o', 'End']))
        .trim()
        .split('|');
      assert.ok(start! >= refineEnd!, `postprocess started ${start}, before the refine ended ${refineEnd}`);
    },
  );

  test(
    'no false alarm in Temporal: every workflow of the campaign COMPLETED but the four bad tilt series, ' +
      'FAILED with their input errors',
    async () => {
      const statuses: Record<string, string> = {};
      for await (const w of h.env.client.workflow.list({ query: `CryoCampaign = ${JSON.stringify(input.id)}` }))
        statuses[w.workflowId] = w.status.name;
      const bad = ['TS_99', 'TS_98', 'TS_97', 'TS_96'].map((ts) => `${input.id}/${ts}`);
      const notCompleted = Object.entries(statuses).filter(([, status]) => status !== 'COMPLETED');
      assert.deepEqual(
        notCompleted.map(([id, status]) => `${id} ${status}`).sort(),
        bad.map((id) => `${id} FAILED`).sort(),
      );
      assert.ok(
        !Object.keys(statuses).some((id) => id.endsWith('-again')),
        `a step ran again: ${Object.keys(statuses).join(', ')}`,
      );
      assert.equal(statuses[`${input.id}/postprocess`], 'COMPLETED');
      // What the operator reads (cryoet watch, the demo): one line per event, in order.
      const status = await h.env.client.workflow.getHandle(input.id).query(campaignStatusQuery);
      const [a, b, c] = record.steps.find((s) => s.step === 'refine')!.jobIds;
      const lines = (status.events ?? []).map((e) => e.text);
      const expected = [
        new RegExp(`^refine: job ${a} replaced by job ${b} \\(relaxed: now rung 2`),
        new RegExp(`^postprocess: queued behind job ${b} now, not ${a}$`),
        new RegExp(`^refine: node ${reclaim.node} left out of later jobs until .* \\(NODE_FAIL`),
        new RegExp(`^refine: job ${b} replaced by job ${c} \\(lost: `),
        new RegExp(`^postprocess: queued behind job ${c} now, not ${b}$`),
      ];
      assert.equal(lines.length, expected.length, lines.join('\n'));
      expected.forEach((pattern, i) => assert.match(lines[i]!, pattern));
    },
  );

  test('the refined map matches the ground truth: resolution, correlation and hand', () => {
    const r = checkTruth([
      'map',
      '--map',
      join(input.layout.dir, 'Refine3D', 'run_class001.mrc'),
      '--truth',
      join(dataDir, 'truth', 'particle_refine.mrc'),
    ]);
    assert.ok(r['ccTruth']! > MAP_CC_MIN, `cc with truth ${r['ccTruth']}`);
    assert.ok(
      r['handTruth']! - r['handMirror']! > HAND_MARGIN_MIN,
      `hand: truth ${r['handTruth']} vs mirror ${r['handMirror']}`,
    );
    const truth05 = r['resolutionAtFsc05']!;
    const final = record.finalResolution;
    assert.ok(final !== null, 'RELION found no resolution');
    assert.ok(
      Math.abs(truth05 - final) <= RESOLUTION_TOLERANCE * final,
      `truth FSC 0.5 at ${truth05} Å vs RELION ${record.finalResolution} Å`,
    );
    assert.ok(record.bfactor < 0, `B-factor ${record.bfactor}`);
  });

  test("the report's pictures, read over SFTP from the files the run record names", async () => {
    const pictures = await clusterPictures(h.config, record);
    assert.deepEqual(pictures.notes, []);
    assert.deepEqual(
      pictures.tiltSeries.map((t) => t.name),
      record.tiltSeries.filter((t) => t.tomogram).map((t) => t.name),
    );
    for (const ts of pictures.tiltSeries)
      assert.deepEqual(
        ts.pictures.map((p) => p.view.split(/[ ,]/)[0]),
        ['XY', 'XZ'],
      );
    assert.match(pictures.map?.file ?? '', /PostProcess\/postprocess_masked\.mrc$/);
    assert.equal(pictures.map?.pictures.length, 4);
    for (const p of [...pictures.tiltSeries.flatMap((t) => t.pictures), ...pictures.map!.pictures]) {
      const png = PNG.sync.read(Buffer.from(p.png, 'base64'));
      assert.ok(
        png.width === p.width && png.height === p.height && Math.max(p.width, p.height) <= MAX_PICTURE_SIDE,
        p.view,
      );
      const grey = [...png.data].filter((_, i) => i % 4 === 0);
      assert.ok(Math.max(...grey) - Math.min(...grey) > 100, `${p.view}: not a flat picture`);
    }
  });

  test('the run record is written, with every step, cost and output checksums', async () => {
    const onDisk = JSON.parse(readFileSync(record.recordPath, 'utf8')) as RunRecord;
    assert.equal(onDisk.finalResolution, record.finalResolution);
    assert.deepEqual(onDisk.steps.map((s) => s.step).sort(), [
      'extract',
      'postprocess',
      'probe',
      'reconstruct',
      'reconstruct',
      'reconstruct',
      'reconstruct',
      'reconstruct',
      'refine',
    ]);
    for (const s of onDisk.steps) assert.ok(s.command.length > 0 && s.jobIds.length > 0 && s.costUsd >= 0, `${s.step}`);
    assert.ok(onDisk.costUsd > 0);
    // Priced by what Slurm granted (sacct AllocTRES), not the rung: the dev nodes that run are T4.
    for (const s of onDisk.steps) {
      assert.match(
        s.priceBasis ?? '',
        /^t4 as granted \(sacct AllocTRES of job \d+ on n[12]\)$/,
        `${s.step} ${s.gres}: ${s.priceBasis}`,
      );
      assert.equal(s.gpuType, 't4');
      assert.equal(s.pricePerGpuHour, input.gpuPrices['t4']);
    }
    for (const out of onDisk.outputs) {
      assert.ok(existsSync(out.path), out.path);
      assert.equal(createHash('sha256').update(readFileSync(out.path)).digest('hex'), out.sha256, out.path);
    }
    // One Slurm job per refine attempt: nothing submitted twice.
    const refine = onDisk.steps.find((s) => s.step === 'refine')!;
    assert.equal(refine.jobIds.length, refine.attempts);
  });

  test('iteration and resolution reached the campaign search attributes', async () => {
    const description = await h.env.client.workflow.getHandle(input.id).describe();
    const iteration = description.typedSearchAttributes.get(CryoIteration);
    assert.ok(iteration !== undefined && iteration >= 2, `CryoIteration ${iteration}`);
    assert.equal(description.typedSearchAttributes.get(CryoResolution), record.finalResolution);
  });

  test(
    'no history of the campaign or its children carries the SSH private key, ' + 'a key marker or a password',
    async () => {
      const histories = await listHistories(h.env.client, `CryoCampaign = ${JSON.stringify(input.id)}`);
      const ids = histories.map((x) => x.workflowId);
      // The campaign, a tiltSeries child per series (and its reconstruct), probe, extract, refine, postprocess.
      for (const id of [
        input.id,
        ...input.spec.tiltSeries.map((ts) => `${input.id}/${ts.name}`),
        ...['probe', 'extract', 'refine', 'postprocess'].map((s) => `${input.id}/${s}`),
      ]) {
        assert.ok(ids.includes(id), `${id} not listed: ${ids.join(', ')}`);
      }
      assert.ok(ids.length >= 1 + input.spec.tiltSeries.length + record.steps.length, `${ids.length} histories`);
      const secrets = [...keyFileSecrets(h.config.clusters['dev']!.ssh.keyFile), ...GENERIC_SECRETS];
      const hits = findSecrets(histories, secrets);
      assert.deepEqual(hits, [], describeHits(hits));
    },
  );

  test('each tiltSeries child is handed its own series only, so inputs stay linear in the series count', async () => {
    for (const ts of input.spec.tiltSeries) {
      const handle = h.env.client.workflow.getHandle(`${input.id}/${ts.name}`);
      const history = await handle.fetchHistory();
      const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
      const payload = started?.input?.payloads?.[0];
      assert.ok(payload?.data, `${ts.name}: no input in the start event`);
      const arg = JSON.parse(Buffer.from(payload.data).toString('utf8')) as { name: string; campaign: CampaignInput };
      assert.equal(arg.name, ts.name);
      assert.deepEqual(
        arg.campaign.spec.tiltSeries.map((t) => t.name),
        [ts.name],
      );
    }
  });
});
