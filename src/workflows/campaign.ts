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
  CancelledFailure,
  condition,
  isCancellation,
  setCurrentDetails,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { CampaignInput } from '../campaign/input.js';
import { ErrorType, innermostMessage } from '../errors.js';
import { CryoIteration, CryoResolution, CryoStatus } from '../search-attributes.js';
import {
  dataPath,
  alignmentImport,
  extractStep,
  importsAlignment,
  postprocessStep,
  REFINE_ROOT,
  refineCommands,
  relionGeneration,
  stagedPath,
  type Toolset,
} from '../tools/toolset.js';
import type { ImportedAlignment } from '../model/results.js';
import type { ClusterJobInput, ClusterJobResult } from './cluster-job.js';
import { fileOps, stageOps } from './campaign-activities.js';
import type { RunRecord } from '../model/campaign-status.js';
import { campaignState, type CampaignState } from './campaign-state.js';
import { campaignSteps, type Launched } from './campaign-steps.js';
import { seriesPool } from './campaign-series.js';
import { recordCampaign } from './campaign-record.js';
import { type ReconstructAfter } from './operations.js';

export async function campaign(input: CampaignInput): Promise<RunRecord> {
  const state = campaignState(input);
  const { spec } = input;
  const { status, tasks, isCancelled, cancellationOf } = state;
  try {
    return await run(input, state);
  } catch (err) {
    // Whatever ended the run, nothing it started stays running: cancel what is left (their
    // Slurm jobs with them) and wait until every child has closed.
    await tasks.drain();
    if (isCancelled()) {
      const cancellation = cancellationOf();
      status.cancellation = cancellation;
      status.error = `cancelled at stage ${cancellation.stage}`;
      upsertMemo({ cancellation });
      upsertSearchAttributes([{ key: CryoStatus, value: 'cancelled' }]);
      const jobs = cancellation.jobsCancelled.map((j) => `${j.step} ${j.jobId}`).join(', ') || 'none';
      setCurrentDetails(
        `**${spec.name}** (${spec.dataset}) — cancelled at stage ${cancellation.stage}\n\n` +
          `Slurm jobs cancelled: ${jobs}\n\ncost $${status.costUsd.toFixed(4)}`,
      );
      // Closes CANCELLED, not FAILED, whatever the interrupted line threw.
      throw isCancellation(err) ? err : new CancelledFailure(`campaign cancelled at stage ${cancellation.stage}`);
    }
    status.error = innermostMessage(err);
    upsertSearchAttributes([{ key: CryoStatus, value: isCancellation(err) ? 'cancelled' : 'failed' }]);
    throw err;
  }
}

async function run(input: CampaignInput, state: CampaignState): Promise<RunRecord> {
  const { spec, layout, cluster } = input;
  const { id, status, tasks, event, jobOf, isCancelled } = state;
  const { forwardMoves, extractJobFor, enter, childOptions, record, launch, jobIdOf, recordStep, finishStep } =
    campaignSteps(input, state);
  tasks.start(forwardMoves);
  // 1. Campaign-wide inputs, before anything is staged or submitted.
  enter('inspect', `checking reference and masks under ${layout.dataDir}`);
  const inspectMaps = () =>
    fileOps.inspectMaps({
      cluster,
      maps: [
        ...(spec.reference === undefined || spec.refine.startFrom === 'featureless'
          ? []
          : [{ what: 'reference', path: dataPath(layout, spec.reference) }]),
        ...(spec.masks.solvent ? [{ what: 'masks.solvent', path: dataPath(layout, spec.masks.solvent) }] : []),
        ...(spec.masks.fsc ? [{ what: 'masks.fsc', path: dataPath(layout, spec.masks.fsc) }] : []),
        ...(spec.truth ? [{ what: 'truth.map', path: dataPath(layout, spec.truth.map) }] : []),
      ],
    });
  // Output folders: a campaign that cannot write its results says so now, naming the folder.
  const checkWritable = () => fileOps.checkWritable({ cluster, dirs: [layout.dir, input.tools.stageDir] });
  const stageBinary = () =>
    stageOps.stageBinary({ cluster, localPath: input.tools.aretomo2Local, remoteDir: input.tools.stageDir });
  const aretomo2 = stagedPath(input.tools.stageDir, input.tools.aretomo2Local);

  // 3 (declared here: queued ahead, the series start now). Every tilt series, in parallel up
  // to the limit; failures are collected, not fatal yet. Each child checks its input at once;
  // one started before the probe's job exists waits for it (signal reconstructAfter) and
  // queues its reconstruction behind it.
  const reconstructions = seriesPool(input, state, { childOptions, record }, aretomo2);
  const { done, failed } = reconstructions;
  let probe: Launched | undefined;
  let probeJobId: string | undefined;
  reconstructions.start();

  let binary: Awaited<ReturnType<typeof stageBinary>>;
  let probeJob: ClusterJobInput;
  try {
    // The checks and the staging at once (staging is idempotent and submits nothing): any
    // failure still stops the campaign before the first job.
    enter(
      'stage',
      `checking reference, masks and output folders; staging ${input.tools.aretomo2Local} to ${input.tools.stageDir}`,
    );
    [, , binary] = await Promise.all([inspectMaps(), checkWritable(), stageBinary()]);
    enter(
      'probe',
      `probing ${binary.remotePath} ` +
        `(sha256 ${binary.sha256.slice(0, 12)}, ${binary.copied ? 'copied' : 'already there'})`,
    );
    probeJob = {
      step: 'probe',
      placement: input.placements.probe,
      command: [binary.remotePath, ...input.tools.probeArgs],
      timeLimitMinutes: 10,
    };
    probe = await launch(probeJob, 'probe');
    reconstructions.probe = probe;
    // The reconstructions wait in Slurm for the probe (afterok), not here.
    probeJobId = await jobIdOf(probe);
    if (probe.task.ended) {
      const probed = await probe.task.outcome;
      if ('err' in probed) throw probed.err;
    }
    const go: ReconstructAfter = probe.task.ended || probeJobId === undefined ? {} : { afterJobs: [probeJobId] };
    enter(
      'reconstruct',
      `${spec.tiltSeries.length} tilt series, ${spec.limits.maxParallelTiltSeries} at a time, ` +
        'queued behind the probe',
    );
    await reconstructions.release(go);
  } catch (err) {
    // Bad campaign-wide input, staging or the probe failed: the series submitted nothing
    // (or only jobs queued behind the probe, which Slurm cancels); stop them and say why.
    await reconstructions.stop();
    throw err;
  }
  const tools: Toolset = { profile: input.tools.profile, aretomo2: binary.remotePath, relion: input.tools.relion };

  // The probe failed: its queued reconstructions never run; stop them and say why.
  const probed = await probe.task.outcome;
  if ('err' in probed) {
    await reconstructions.stop();
    throw probed.err;
  }
  recordStep(probed.ok, probeJob);
  // Extraction queued behind every reconstruction, once each has its job (all series at
  // once, no picks gate in between).
  let extractRun: Launched | undefined;
  // (Not when extraction reads the campaign's own alignment: that is imported once the
  // reconstructions are done, and the extract job must not start before it.)
  const ownAlignment = importsAlignment(tools, spec);
  if (!ownAlignment && !spec.approvePicks.required && spec.limits.maxParallelTiltSeries >= spec.tiltSeries.length) {
    const reconstructJob = (name: string) => jobOf(`${id}/${name}/reconstruct`);
    await condition(
      () => reconstructions.task!.ended || spec.tiltSeries.every((ts) => reconstructJob(ts.name) !== undefined),
    );
    if (!reconstructions.task!.ended) {
      const queued = extractStep(tools, layout, spec, spec.tiltSeries);
      if (queued.files.length > 0) await fileOps.writeFiles({ cluster, files: queued.files });
      extractRun = await launch(
        extractJobFor(queued.command),
        'extract',
        spec.tiltSeries.map((ts) => reconstructJob(ts.name)!),
      );
    }
  }
  const reconstructed = await reconstructions.task!.outcome;
  if ('err' in reconstructed) throw reconstructed.err;
  // Cancelled while the series ran: the catch below says so (not "0 of 5 reconstructed").
  if (isCancelled()) throw new CancelledFailure('campaign cancelled while reconstructing');
  const needed = spec.limits.minTiltSeries ?? spec.tiltSeries.length;
  if (done.length < needed) {
    if (extractRun) {
      extractRun.task.scope.cancel();
      await extractRun.task.outcome;
    }
    throw ApplicationFailure.create({
      type: ErrorType.InputInvalid,
      nonRetryable: true,
      message:
        `${done.length} of ${spec.tiltSeries.length} tilt series reconstructed, ` +
        `${needed} needed (limits.minTiltSeries):\n` +
        failed.map((f) => `  ${f.name}: ${f.error}`).join('\n'),
      details: [failed],
    });
  }
  // Campaign order, whatever order the children finished in.
  const series = spec.tiltSeries.filter((ts) => done.some((d) => d.name === ts.name));

  // 4. The picks gate: an operator looks at the tomograms and picks, then approves.
  if (spec.approvePicks.required) {
    enter(
      'picks',
      `waiting up to ${Math.round(spec.approvePicks.timeout / 60000)} min for \`cryoet approve ${id}\` ` +
        `(tomograms in ${layout.dir}/tomograms)`,
    );
    state.picksGate.open = true;
    const decided = await condition(() => status.picks.state !== 'waiting', spec.approvePicks.timeout);
    state.picksGate.open = false;
    if (!decided) {
      status.picks = { state: 'timed-out', decidedAt: new Date().toISOString() };
      if (spec.approvePicks.onTimeout === 'fail') {
        throw ApplicationFailure.create({
          type: ErrorType.InputInvalid,
          nonRetryable: true,
          message:
            `picks not approved within ${Math.round(spec.approvePicks.timeout / 60000)} min ` +
            '(approvePicks.onTimeout: fail)',
        });
      }
    } else if (status.picks.state === 'rejected') {
      throw ApplicationFailure.create({
        type: ErrorType.InputInvalid,
        nonRetryable: true,
        message:
          `picks rejected${status.picks.by ? ` by ${status.picks.by}` : ''}` +
          `${status.picks.comment ? `: ${status.picks.comment}` : ''}`,
      });
    }
  }

  // 5. Extraction. Queued ahead: the refine waits behind it in Slurm, the postprocess behind the refine.
  let aligned: ImportedAlignment[] | undefined;
  if (ownAlignment) {
    enter('extract', `importing AreTomo2's alignment of ${series.length} tilt series into RELION 5`);
    aligned = await fileOps.importAlignments(
      alignmentImport(
        layout,
        spec,
        series,
        done.map((d) => d.facts),
        cluster,
      ),
    );
    for (const a of aligned) {
      event(
        'align',
        `${a.name}: AreTomo2 tilt axis ${a.tiltAxis.toFixed(2)}°, ` +
          `shifts up to ${a.maxShiftAngst.toFixed(1)} Å, ${a.tilts} tilts imported`,
      );
    }
  }
  enter('extract', `extracting particles from ${series.length} tomograms`);
  const extract = extractStep(tools, layout, spec, series);
  const extractJob = extractJobFor(extract.command);
  const writeExtractFiles = async () => {
    if (extract.files.length > 0) await fileOps.writeFiles({ cluster, files: extract.files });
  };
  if (!extractRun) {
    await writeExtractFiles();
    extractRun = await launch(extractJob, 'extract');
  }
  const refine = refineCommands(tools, layout, spec, extract.particles);
  const refineFolder = { dir: layout.dir, outRoot: REFINE_ROOT, relion: relionGeneration(tools.profile) };
  const refineJob: ClusterJobInput = {
    step: 'refine',
    placement: input.placements.refine,
    command: refine.command,
    resume: { command: refine.resume, fromIteration: refineFolder },
    cpusPerTask: 1,
    timeLimitMinutes: spec.refine.timeLimitMinutes,
  };
  const postprocessJob: ClusterJobInput = {
    step: 'postprocess',
    placement: input.placements.postprocess,
    command: postprocessStep(tools, layout, spec),
    cpusPerTask: 1,
    timeLimitMinutes: 60,
  };
  let refineRun: Launched | undefined;
  let postprocessRun: Launched | undefined;
  const extractJobId = await jobIdOf(extractRun);
  if (extractJobId !== undefined) refineRun = await launch(refineJob, 'refine', [extractJobId]);
  const refineJobId = refineRun && (await jobIdOf(refineRun));
  if (refineJobId !== undefined) postprocessRun = await launch(postprocessJob, 'postprocess', [refineJobId]);
  const inputsFrom = series.map((ts) => done.find((d) => d.name === ts.name)!.step.jobIds.at(-1) ?? '');
  const extracted = await finishStep(extractRun, extractJob, inputsFrom, writeExtractFiles);
  recordStep(extracted, extractJob);
  status.particles = await fileOps.countParticles({ cluster, path: `${layout.dir}/${extract.particlesTable}` });

  // 6. Refine, with its progress read from the iteration files while it runs.
  enter('refine', `${status.particles} particles, ${spec.refine.symmetry}, starting at ${spec.refine.iniHigh} Å`);
  if (!refineRun) refineRun = await launch(refineJob, 'refine');
  let refineDone = false;
  const watchProgress = async () => {
    while (!(await condition(() => refineDone, input.progressEveryMs))) {
      const p = await fileOps.readRefineProgress({ cluster, ...refineFolder });
      if (p.newestComplete === undefined || p.newestComplete === status.refine.iteration) continue;
      if (p.resolution !== undefined)
        status.refine.history.push({ iteration: p.newestComplete, resolution: p.resolution });
      status.refine = {
        ...status.refine,
        iteration: p.newestComplete,
        ...(p.resolution === undefined ? {} : { resolution: p.resolution }),
        finished: p.finished,
      };
      upsertSearchAttributes([
        { key: CryoIteration, value: p.newestComplete },
        ...(p.resolution === undefined ? [] : [{ key: CryoResolution, value: p.resolution }]),
      ]);
      enter(
        'refine',
        `iteration ${p.newestComplete}${p.resolution === undefined ? '' : `, ${p.resolution.toFixed(2)} Å`}`,
      );
    }
  };
  const progress = tasks.start(watchProgress);
  let refined: ClusterJobResult;
  try {
    refined = await finishStep(refineRun, refineJob, [extracted.job.jobId]);
  } finally {
    refineDone = true;
  }
  const watched = await progress.outcome;
  if ('err' in watched) throw watched.err;
  recordStep(refined, refineJob);
  // Every iteration's resolution from its files: the polls above may have skipped some.
  const history = await fileOps.readRefineHistory({ cluster, ...refineFolder });
  const last = history[history.length - 1];
  status.refine = {
    ...(last ? { iteration: last.iteration, resolution: last.resolution } : {}),
    finished: true,
    history,
  };

  // 7. Postprocess.
  enter('postprocess', 'masking, FSC and B-factor');
  if (!postprocessRun) postprocessRun = await launch(postprocessJob, 'postprocess');
  recordStep(await finishStep(postprocessRun, postprocessJob, [refined.job.jobId]), postprocessJob);
  // 8. Checksums and the run record.
  return await recordCampaign(input, state, enter, {
    tools,
    binary,
    done,
    failed,
    series,
    extract,
    aligned,
    history,
    particles: status.particles,
  });
}
