/**
 * A campaign's last stage: the final resolution and B-factor, the outputs' checksums, the check
 * against the known answer (synthetic data), and the run record, written beside the outputs and
 * returned as the workflow's result. Deterministic; sandbox-safe.
 */
import { upsertSearchAttributes } from '@temporalio/workflow';
import type { CampaignInput } from '../campaign/input.js';
import { innermostMessage } from '../errors.js';
import { CryoResolution } from '../search-attributes.js';
import { relionBinary } from '../tools/relion.js';
import {
  dataPath,
  extractStep,
  particlePixelSize,
  POSTPROCESS_ROOT,
  REFINE_ROOT,
  runsRelion5,
  tomogramFile,
  type Toolset,
} from '../tools/toolset.js';
import type { ImportedAlignment } from '../model/results.js';
import { fileOps } from './campaign-activities.js';
import type { RunRecord } from '../model/campaign-status.js';
import type { CampaignState } from './campaign-state.js';
import type { TiltSeriesResult } from './tilt-series.js';
import type { CampaignSteps } from './campaign-steps.js';

/** What the run record takes from the stages before. */
export interface RecordParts {
  readonly tools: Toolset;
  readonly binary: RunRecord['binary'];
  readonly done: readonly TiltSeriesResult[];
  readonly failed: readonly { readonly name: string; readonly error: string }[];
  /** The series reconstructed, in campaign order. */
  readonly series: CampaignInput['spec']['tiltSeries'];
  readonly extract: ReturnType<typeof extractStep>;
  readonly aligned: readonly ImportedAlignment[] | undefined;
  readonly history: RunRecord['iterations'];
  /** Particles extracted (the status's count). */
  readonly particles: number;
}

export async function recordCampaign(
  input: CampaignInput,
  state: CampaignState,
  enter: CampaignSteps['enter'],
  parts: RecordParts,
): Promise<RunRecord> {
  const { spec, layout, cluster } = input;
  const { id, startedAt, status } = state;
  const { tools, binary, done, failed, series, extract, aligned, history, particles } = parts;
  // Synthetic data: the map against the known answer; a failed check is noted, not fatal.
  const checkTruth = (t: NonNullable<typeof spec.truth>) =>
    fileOps
      .checkTruth({
        cluster,
        map: `${layout.dir}/${REFINE_ROOT}_class001.mrc`,
        truth: dataPath(layout, t.map),
        model: t.model,
      })
      .then(
        (check) => ({ ...check, truth: t.map }),
        (err: unknown) => ({ truth: t.map, error: innermostMessage(err) }),
      );
  const readPostprocess = () => fileOps.readPostprocess({ cluster, path: `${layout.dir}/${POSTPROCESS_ROOT}.star` });
  const checksumOutputs = () =>
    fileOps.checksumFiles({
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
  // The checksums read alongside the postprocess STAR.
  enter('record', 'final resolution, checksums and run record');
  const relionAsked = fileOps.readRelionVersion({
    cluster,
    program: relionBinary(tools.relion, 'relion_refine_mpi'),
  });
  const [post, outputs] = await Promise.all([readPostprocess(), checksumOutputs()]);
  const relion = await relionAsked;
  const truth = spec.truth ? await checkTruth(spec.truth) : undefined;
  if (post.finalResolution !== null) {
    upsertSearchAttributes([{ key: CryoResolution, value: post.finalResolution }]);
    status.finalResolution = post.finalResolution;
  }
  status.bfactor = post.bfactor;
  const recordPath = `${layout.dir}/run-record.json`;
  const runRecord: RunRecord = {
    campaign: id,
    name: spec.name,
    dataset: spec.dataset,
    profile: tools.profile,
    relion,
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
    ...(runsRelion5(tools.profile)
      ? { alignment: { source: spec.alignment, ...(aligned ? { series: aligned } : {}) } }
      : {}),
    start:
      spec.refine.startFrom === 'featureless'
        ? { from: 'featureless' }
        : { from: 'reference', ...(spec.reference ? { reference: spec.reference } : {}) },
    ...(truth ? { truth } : {}),
    particles,
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
  await fileOps.writeFiles({
    cluster,
    files: [{ path: recordPath, text: JSON.stringify(runRecord, null, 2) + '\n' }],
  });
  const final =
    post.finalResolution === null
      ? 'none (RELION: inf, the half maps agree at no shell)'
      : `${post.finalResolution.toFixed(2)} Å`;
  enter('done', `final resolution ${final}, B-factor ${post.bfactor.toFixed(0)} Å², record ${recordPath}`);
  return runRecord;
}
