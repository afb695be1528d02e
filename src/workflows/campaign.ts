/**
 * campaign: the whole pipeline for one dataset.
 *
 *   check maps → stage AreTomo2 → probe it on a node → one tiltSeries child per series
 *   (parallel up to limits.maxParallelTiltSeries) → extract → refine (resumes from its newest
 *   complete iteration after a reclaim) → postprocess → checksums → run record
 *
 * Every cluster step is a clusterJob child (placement ladder, hang relaxation, reclaim
 * recovery, exactly-once submission). A tilt series with bad input fails alone; the
 * campaign goes on while at least limits.minTiltSeries (default: all) succeed.
 * Deterministic: all I/O is in activities and children.
 */
import {
  ApplicationFailure,
  condition,
  executeChild,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CampaignInput } from '../campaign/input.js';
import { summarizeStep, type StepSummary } from '../campaign/job-summary.js';
import { ErrorType, innermostMessage } from '../errors.js';
import { describeLadder } from '../slurm/placement.js';
import { CryoCampaign, CryoCostUsd, CryoIteration, CryoResolution, CryoStage, CryoStatus, CryoTiltSeries } from '../search-attributes.js';
import { extractStep, particlePixelSize, POSTPROCESS_ROOT, postprocessStep, REFINE_ROOT, refineCommands, tomogramFile, type Toolset } from '../tools/toolset.js';
import { clusterJob, type ClusterJobInput } from './cluster-job.js';
import { fileOps, stageOps } from './campaign-activities.js';
import { tiltSeries, type TiltSeriesResult } from './tilt-series.js';
import type { CampaignStage, CampaignStatus, RunRecord } from './campaign-status.js';
import { recordStepUsage } from './metrics.js';
import { approvePicksUpdate, campaignStatusQuery, nodeExcludedSignal } from './operations.js';
import { mergeExclusions } from '../slurm/node-exclusions.js';

export type { CampaignStage, CampaignStatus, RunRecord } from './campaign-status.js';

export async function campaign(input: CampaignInput): Promise<RunRecord> {
  const { spec, layout, cluster } = input;
  const id = workflowInfo().workflowId;
  const startedAt = new Date().toISOString();
  const status: CampaignStatus = {
    id,
    name: spec.name,
    dataset: spec.dataset,
    profile: input.tools.profile,
    startedAt,
    stage: 'inspect',
    tiltSeries: Object.fromEntries(spec.tiltSeries.map((ts) => [ts.name, { status: 'waiting' as const }])),
    picks: { state: spec.approvePicks.required ? 'waiting' : 'not-required' },
    refine: { finished: false, history: [] },
    steps: [],
    running: {},
    costUsd: 0,
    excludedNodes: [],
  };
  setHandler(campaignStatusQuery, () => status);
  // Black-hole nodes reported by any step; the steps started later leave them out.
  setHandler(nodeExcludedSignal, (nodes) => {
    status.excludedNodes = mergeExclusions(status.excludedNodes ?? [], nodes);
  });
  /** What every clusterJob this campaign starts gets: the nodes to leave out, and whom to tell. */
  const placementContext = (): Pick<ClusterJobInput, 'exclude' | 'reportTo'> => ({ exclude: [...(status.excludedNodes ?? [])], reportTo: id });
  // The gate only opens while the campaign waits at it; a decision before or after is refused.
  let atPicksGate = false;
  setHandler(
    approvePicksUpdate,
    (request) => {
      status.picks = {
        state: request.approve ? 'approved' : 'rejected',
        ...(request.by === undefined ? {} : { by: request.by }),
        ...(request.comment === undefined ? {} : { comment: request.comment }),
        decidedAt: new Date().toISOString(),
      };
      return { accepted: request.approve };
    },
    {
      validator: (request) => {
        if (!atPicksGate) throw new Error(`campaign ${id} is not waiting for picks approval (stage ${status.stage}, picks ${status.picks.state})`);
        if (typeof request?.approve !== 'boolean') throw new Error('approvePicks: expected { approve: true | false }');
      },
    },
  );
  try {
    return await run();
  } catch (err) {
    status.error = innermostMessage(err);
    upsertSearchAttributes([{ key: CryoStatus, value: isCancellation(err) ? 'cancelled' : 'failed' }]);
    throw err;
  }

  async function run(): Promise<RunRecord> {
    const enter = (stage: CampaignStage, details: string) => {
      status.stage = stage;
      upsertSearchAttributes([
        { key: CryoCampaign, value: id },
        { key: CryoStage, value: stage },
        { key: CryoStatus, value: stage === 'done' ? 'done' : stage === 'picks' ? 'waiting-approval' : 'running' },
      ]);
      setCurrentDetails(`**${spec.name}** (${spec.dataset}) — ${stage}\n\n${details}\n\ncost so far $${status.costUsd.toFixed(4)}`);
    };
    const childOptions = (suffix: string, extra: { tiltSeries?: string; summary?: string } = {}) => ({
      workflowId: `${id}/${suffix}`,
      staticSummary: `${spec.name} · ${extra.summary ?? suffix}`,
      typedSearchAttributes: [
        { key: CryoCampaign, value: id },
        ...(extra.tiltSeries === undefined ? [] : [{ key: CryoTiltSeries, value: extra.tiltSeries }]),
      ],
    });
    const record = (step: StepSummary) => {
      recordStepUsage((step.runSeconds * step.gpus) / 3600, step.costUsd, { step: step.step, gpu_type: step.gpuType });
      status.steps.push(step);
      status.costUsd = Math.round((status.costUsd + step.costUsd) * 1e6) / 1e6;
      upsertSearchAttributes([{ key: CryoCostUsd, value: status.costUsd }]);
    };
    /** One cluster step as a clusterJob child; its summary joins the record. */
    const runStep = async (job: ClusterJobInput, suffix = job.step) => {
      status.running[suffix] = `${id}/${suffix}`;
      const result = await executeChild(clusterJob, { ...childOptions(suffix, { summary: `${job.step} · ${describeLadder(job.placement.ladder)}` }), args: [{ ...job, ...placementContext() }] }).finally(() => delete status.running[suffix]);
      const summary = summarizeStep(result.record, job.placement.ladder, input.gpuPrices, job.command);
      record(summary);
      return summary;
    };

    // 1. Campaign-wide inputs, before anything is staged or submitted.
    enter('inspect', `checking reference and masks under ${layout.dataDir}`);
    const dataPath = (f: string) => (f.startsWith('/') ? f : `${layout.dataDir}/${f}`);
    await fileOps.inspectMaps({
      cluster,
      maps: [
        { what: 'reference', path: dataPath(spec.reference) },
        ...(spec.masks.solvent ? [{ what: 'masks.solvent', path: dataPath(spec.masks.solvent) }] : []),
        ...(spec.masks.fsc ? [{ what: 'masks.fsc', path: dataPath(spec.masks.fsc) }] : []),
      ],
    });

    // Output folders: a campaign that cannot write its results says so now, naming the folder.
    if (patched('check-output-writable')) await fileOps.checkWritable({ cluster, dirs: [layout.dir, input.tools.stageDir] });

    // 2. Stage the binary and probe it on a node.
    enter('stage', `staging ${input.tools.aretomo2Local} to ${input.tools.stageDir}`);
    const binary = await stageOps.stageBinary({ cluster, localPath: input.tools.aretomo2Local, remoteDir: input.tools.stageDir });
    const tools: Toolset = { profile: input.tools.profile, aretomo2: binary.remotePath, relion: input.tools.relion };
    enter('probe', `probing ${binary.remotePath} (sha256 ${binary.sha256.slice(0, 12)}, ${binary.copied ? 'copied' : 'already there'})`);
    await runStep({ step: 'probe', placement: input.placements.probe, command: [binary.remotePath, ...input.tools.probeArgs], timeLimitMinutes: 10 });

    // 3. Every tilt series, in parallel up to the limit; failures are collected, not fatal yet.
    enter('reconstruct', `${spec.tiltSeries.length} tilt series, ${spec.limits.maxParallelTiltSeries} at a time`);
    const done: TiltSeriesResult[] = [];
    const failed: { name: string; error: string }[] = [];
    const queue = spec.tiltSeries.map((ts) => ts.name);
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        status.tiltSeries[name] = { status: 'running' };
        status.running[name] = `${id}/${name}/reconstruct`;
        try {
          // The child gets the campaign with its own series only: with the whole list, the
          // children's inputs grow as N² (500 series overran Temporal's 4 MB message limit).
          const campaign = patched('tilt-series-child-own-series') ? { ...input, spec: { ...spec, tiltSeries: spec.tiltSeries.filter((ts) => ts.name === name) } } : input;
          const result = await executeChild(tiltSeries, { ...childOptions(name, { tiltSeries: name, summary: `${name} · align+reconstruct · ${describeLadder(input.placements.reconstruct.ladder)}` }), args: [{ campaign, name, aretomo2: binary.remotePath, ...placementContext() }] }).finally(() => delete status.running[name]);
          done.push(result);
          record(result.step);
          status.tiltSeries[name] = { status: 'done', tomogram: result.tomogram };
        } catch (err) {
          const error = innermostMessage(err);
          failed.push({ name, error });
          status.tiltSeries[name] = { status: 'failed', error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(spec.limits.maxParallelTiltSeries, queue.length) }, worker));
    const needed = spec.limits.minTiltSeries ?? spec.tiltSeries.length;
    if (done.length < needed) {
      throw ApplicationFailure.create({
        type: ErrorType.InputInvalid,
        nonRetryable: true,
        message: `${done.length} of ${spec.tiltSeries.length} tilt series reconstructed, ${needed} needed (limits.minTiltSeries):\n` + failed.map((f) => `  ${f.name}: ${f.error}`).join('\n'),
        details: [failed],
      });
    }
    // Campaign order, whatever order the children finished in.
    const series = spec.tiltSeries.filter((ts) => done.some((d) => d.name === ts.name));

    // 4. The picks gate: an operator looks at the tomograms and picks, then approves.
    if (spec.approvePicks.required) {
      enter('picks', `waiting up to ${Math.round(spec.approvePicks.timeout / 60000)} min for \`cryoet approve ${id}\` (tomograms in ${layout.dir}/tomograms)`);
      atPicksGate = true;
      const decided = await condition(() => status.picks.state !== 'waiting', spec.approvePicks.timeout);
      atPicksGate = false;
      if (!decided) {
        status.picks = { state: 'timed-out', decidedAt: new Date().toISOString() };
        if (spec.approvePicks.onTimeout === 'fail') {
          throw ApplicationFailure.create({ type: ErrorType.InputInvalid, nonRetryable: true, message: `picks not approved within ${Math.round(spec.approvePicks.timeout / 60000)} min (approvePicks.onTimeout: fail)` });
        }
      } else if (status.picks.state === 'rejected') {
        throw ApplicationFailure.create({
          type: ErrorType.InputInvalid,
          nonRetryable: true,
          message: `picks rejected${status.picks.by ? ` by ${status.picks.by}` : ''}${status.picks.comment ? `: ${status.picks.comment}` : ''}`,
        });
      }
    }

    // 5. Extraction.
    enter('extract', `extracting particles from ${series.length} tomograms`);
    const extract = extractStep(tools, layout, spec, series);
    if (extract.files.length > 0) await fileOps.writeFiles({ cluster, files: extract.files });
    await runStep({ step: 'extract', placement: input.placements.extract, command: extract.command, cpusPerTask: 1, timeLimitMinutes: 120 });
    status.particles = await fileOps.countParticles({ cluster, path: `${layout.dir}/${extract.particles}` });

    // 6. Refine, with its progress read from the iteration files while it runs.
    enter('refine', `${status.particles} particles, ${spec.refine.symmetry}, starting at ${spec.refine.iniHigh} Å`);
    const refine = refineCommands(tools, layout, spec, extract.particles);
    const refineJob: ClusterJobInput = {
      step: 'refine',
      placement: input.placements.refine,
      command: refine.command,
      resume: { command: refine.resume, fromIteration: { dir: layout.dir, outRoot: REFINE_ROOT } },
      cpusPerTask: 1,
      timeLimitMinutes: spec.refine.timeLimitMinutes,
      ...placementContext(),
    };
    const refineChild = await startChild(clusterJob, { ...childOptions('refine', { summary: `refine · ${describeLadder(refineJob.placement.ladder)}` }), args: [refineJob] });
    status.running['refine'] = refineChild.workflowId;
    let refineDone = false;
    const watchProgress = async () => {
      while (!(await condition(() => refineDone, input.progressEveryMs))) {
        const p = await fileOps.readRefineProgress({ cluster, dir: layout.dir, outRoot: REFINE_ROOT });
        if (p.newestComplete === undefined || p.newestComplete === status.refine.iteration) continue;
        if (p.resolution !== undefined) status.refine.history.push({ iteration: p.newestComplete, resolution: p.resolution });
        status.refine = { ...status.refine, iteration: p.newestComplete, ...(p.resolution === undefined ? {} : { resolution: p.resolution }), finished: p.finished };
        upsertSearchAttributes([
          { key: CryoIteration, value: p.newestComplete },
          ...(p.resolution === undefined ? [] : [{ key: CryoResolution, value: p.resolution }]),
        ]);
        enter('refine', `iteration ${p.newestComplete}${p.resolution === undefined ? '' : `, ${p.resolution.toFixed(2)} Å`}`);
      }
    };
    const progress = watchProgress();
    let refineResult;
    try {
      refineResult = await refineChild.result();
    } finally {
      refineDone = true;
      delete status.running['refine'];
    }
    await progress;
    record(summarizeStep(refineResult.record, refineJob.placement.ladder, input.gpuPrices, refineJob.command));
    // Every iteration's resolution from its files: the polls above may have skipped some.
    const history = await fileOps.readRefineHistory({ cluster, dir: layout.dir, outRoot: REFINE_ROOT });
    const last = history[history.length - 1];
    status.refine = { ...(last ? { iteration: last.iteration, resolution: last.resolution } : {}), finished: true, history };

    // 7. Postprocess.
    enter('postprocess', 'masking, FSC and B-factor');
    await runStep({ step: 'postprocess', placement: input.placements.postprocess, command: postprocessStep(tools, layout, spec), cpusPerTask: 1, timeLimitMinutes: 60 });
    const post = await fileOps.readPostprocess({ cluster, path: `${layout.dir}/${POSTPROCESS_ROOT}.star` });
    upsertSearchAttributes([{ key: CryoResolution, value: post.finalResolution }]);
    status.finalResolution = post.finalResolution;
    status.bfactor = post.bfactor;

    // 8. Checksums and the run record.
    enter('record', 'checksums and run record');
    const outputs = await fileOps.checksumFiles({
      cluster,
      paths: [
        ...series.map((ts) => `${layout.dir}/${tomogramFile(ts.name)}`),
        `${layout.dir}/${extract.particles}`,
        `${layout.dir}/${REFINE_ROOT}_class001.mrc`,
        `${layout.dir}/${REFINE_ROOT}_half1_class001_unfil.mrc`,
        `${layout.dir}/${REFINE_ROOT}_half2_class001_unfil.mrc`,
        `${layout.dir}/${POSTPROCESS_ROOT}.mrc`,
        `${layout.dir}/${POSTPROCESS_ROOT}_masked.mrc`,
        `${layout.dir}/${POSTPROCESS_ROOT}.star`,
      ],
    });
    const recordPath = `${layout.dir}/run-record.json`;
    const runRecord: RunRecord = {
      campaign: id,
      name: spec.name,
      dataset: spec.dataset,
      profile: tools.profile,
      campaignDir: layout.dir,
      startedAt,
      endedAt: new Date().toISOString(),
      binary,
      tiltSeries: spec.tiltSeries.map((ts) => {
        const ok = done.find((d) => d.name === ts.name);
        const bad = failed.find((f) => f.name === ts.name);
        return { name: ts.name, ...(ok ? { tomogram: ok.tomogram } : {}), ...(bad ? { error: bad.error } : {}) };
      }),
      picks: status.picks,
      particles: status.particles,
      pixelSize: particlePixelSize(tools, spec),
      steps: status.steps,
      costUsd: status.costUsd,
      excludedNodes: status.excludedNodes,
      iterations: history,
      finalResolution: post.finalResolution,
      bfactor: post.bfactor,
      fsc: post.fsc,
      outputs,
      parameters: spec,
      recordPath,
    };
    await fileOps.writeFiles({ cluster, files: [{ path: recordPath, text: JSON.stringify(runRecord, null, 2) + '\n' }] });
    enter('done', `final resolution ${post.finalResolution.toFixed(2)} Å, B-factor ${post.bfactor.toFixed(0)} Å², record ${recordPath}`);
    return runRecord;
  }
}
