/**
 * tiltSeries: one tilt series through alignment + reconstruction. Checks its inputs first
 * (no job is submitted for a stack whose header, size or angle count is wrong), then runs
 * AreTomo2 (or the embedded stand-in) as a clusterJob, then checks the tomogram it wrote.
 */
import {
  condition,
  executeChild,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { TiltSeriesFacts } from '../activities/campaign-files.js';
import type { CampaignInput } from '../campaign/input.js';
import { summarizeStep } from '../campaign/job-summary.js';
import type { StepSummary } from '../model/step-summary.js';
import { CryoCampaign, CryoStage, CryoTiltSeries } from '../search-attributes.js';
import { dataPath, reconstructCommand, tomogramFile } from '../tools/toolset.js';
import { describeLadder } from '../slurm/placement.js';
import { clusterJob, type ClusterJobInput } from './cluster-job.js';
import { fileOps } from './campaign-activities.js';
import { reconstructAfterSignal, type ReconstructAfter } from './operations.js';

export interface TiltSeriesInput {
  readonly campaign: CampaignInput;
  readonly name: string;
  /** The staged AreTomo2 (or stand-in) on the cluster. */
  readonly aretomo2: string;
  /** Passed on to the reconstruct job: black-hole nodes to leave out, and the campaign to tell. */
  readonly exclude?: ClusterJobInput['exclude'];
  readonly reportTo?: string;
  /** Slurm job ids the reconstruct job is queued behind (the campaign's probe, still running). */
  readonly afterJobs?: readonly string[];
  /**
   * Started before the campaign submitted its probe: check the input, then wait for the
   * campaign's `reconstructAfter` signal (the probe's job to queue behind) before submitting.
   */
  readonly waitForProbe?: boolean;
}

export interface TiltSeriesResult {
  readonly name: string;
  readonly facts: TiltSeriesFacts;
  /** Absolute path of the tomogram on the cluster. */
  readonly tomogram: string;
  readonly step: StepSummary;
}

export async function tiltSeries(input: TiltSeriesInput): Promise<TiltSeriesResult> {
  const c = input.campaign;
  const ts = c.spec.tiltSeries.find((t) => t.name === input.name)!;
  let after: ReconstructAfter | undefined = input.waitForProbe
    ? undefined
    : input.afterJobs
      ? { afterJobs: input.afterJobs }
      : {};
  setHandler(reconstructAfterSignal, (signalled) => {
    after ??= signalled;
  });
  upsertSearchAttributes([
    { key: CryoTiltSeries, value: ts.name },
    { key: CryoStage, value: 'inspect' },
  ]);
  setCurrentDetails(`**${ts.name}** — checking ${ts.stack} and ${ts.angles}`);
  const facts = await fileOps.inspectTiltSeries({
    cluster: c.cluster,
    name: ts.name,
    stack: dataPath(c.layout, ts.stack),
    angles: dataPath(c.layout, ts.angles),
    pixelSize: ts.pixelSize,
  });
  if (after === undefined) {
    setCurrentDetails(`**${ts.name}** — input checked; waiting for the campaign's probe job`);
    await condition(() => after !== undefined);
  }
  const command = reconstructCommand(
    { profile: c.tools.profile, aretomo2: input.aretomo2, relion: c.tools.relion },
    c.layout,
    c.spec,
    ts,
  );
  upsertSearchAttributes([{ key: CryoStage, value: 'reconstruct' }]);
  const angles = `${facts.minAngle}°…${facts.maxAngle}°`;
  setCurrentDetails(
    `**${ts.name}** — ${facts.tilts} tilts (${angles}), ${facts.nx}×${facts.ny} px: align + reconstruct`,
  );
  const placement = c.placements.reconstruct;
  const result = await executeChild(clusterJob, {
    workflowId: `${workflowInfo().workflowId}/reconstruct`,
    staticSummary: `${ts.name} · reconstruct · ${describeLadder(placement.ladder)}`,
    typedSearchAttributes: [
      { key: CryoCampaign, value: c.id },
      { key: CryoTiltSeries, value: ts.name },
    ],
    args: [
      {
        step: 'reconstruct',
        placement,
        command,
        cpusPerTask: 1,
        timeLimitMinutes: 60,
        exclude: input.exclude,
        reportTo: input.reportTo,
        ...(after!.afterJobs ? { afterJobs: after!.afterJobs } : {}),
      },
    ],
  });
  const tomogram = `${c.layout.dir}/${tomogramFile(ts.name)}`;
  await fileOps.inspectMaps({
    cluster: c.cluster,
    maps: [{ what: `${ts.name}: tomogram written by AreTomo2`, path: tomogram }],
  });
  const step = { ...summarizeStep(result.record, placement.ladder, c.gpuPrices, command), tiltSeries: ts.name };
  setCurrentDetails(`**${ts.name}** — tomogram ${tomogram} (${step.runSeconds}s on ${step.node ?? '?'})`);
  return { name: ts.name, facts, tomogram, step };
}
