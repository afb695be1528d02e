/**
 * `cryoet demo`: the full five-tilt-series campaign on the embedded default (dev Temporal
 * server, single-host Slurm, CPU tools), with the seed study's two cloud failures injected:
 * the refine's first rung pins A10G, whose spot pool is empty (a capacity hang, relaxed to
 * any GPU), and a FAKE spot reclaim takes the refine's node away mid-refine (the refine
 * resumes from its newest complete iteration). Runs a worker in this process and prints a
 * summary: per stage the rung, GPU type, attempts, pending and run time and cost; the
 * final resolution and B-factor; where the outputs are; the Temporal UI address.
 */
import { execFileSync } from 'node:child_process';
import type { CryoConfig } from '../config.js';
import { campaignInput } from '../campaign/input.js';
import { loadCampaign } from '../campaign/load.js';
import type { StepSummary } from '../model/step-summary.js';
import { connectClient, startCampaign, workflowUiUrl } from '../client.js';
import {
  EMBEDDED_CAMPAIGN,
  EMBEDDED_PYTHON,
  MAKE_DATASET,
  MAKE_RELION5_DATASET,
  RELION5_CAMPAIGN,
} from '../embedded.js';
import { CliError } from './errors.js';
import { startText, truthText } from '../report/format.js';
import { formatResolution } from './tables.js';
import { WorkerResources } from '../worker-resources.js';
import { createWorker, installRuntime } from '../worker.js';
import type { CampaignStatus, RunRecord } from '../model/campaign-status.js';
import { reclaimDuringRefine, type ReclaimReport } from './spot-reclaim.js';

const pad = (text: string, n: number) => text.padEnd(n);

/** The per-stage table of a run record. */
export function summaryTable(record: RunRecord): string {
  const rows = record.steps.map((s: StepSummary) => [
    s.step === 'reconstruct' ? `reconstruct ${tiltSeriesOf(record, s)}` : s.step,
    `${s.rung} ${s.gres}`,
    s.gpuType,
    String(s.attempts),
    `${s.pendingSeconds}s`,
    `${s.runSeconds}s`,
    `$${s.costUsd.toFixed(4)}`,
    s.node ?? '',
  ]);
  const head = ['stage', 'rung', 'GPU', 'attempts', 'pending', 'run', 'cost', 'node'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)) + 2);
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => pad(c, widths[i]!))
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

function tiltSeriesOf(record: RunRecord, step: StepSummary): string {
  const match = step.command.join(' ').match(/tomograms\/(\S+?)\.mrc/);
  return match?.[1] ?? record.tiltSeries.find((t) => t.tomogram && step.command.join(' ').includes(t.name))?.name ?? '';
}

/** Per profile: the dataset generator and folder, the campaign file, how the tools are described. */
const DEMOS = {
  embedded: {
    generator: [MAKE_DATASET],
    folder: 'synthetic-10164',
    campaign: EMBEDDED_CAMPAIGN,
    tools: 'AreTomo2 STAND-IN: CPU weighted back-projection; RELION 3.1 on CPU',
  },
  relion5: {
    generator: [MAKE_RELION5_DATASET, '--series', '5', '--particles', '8'],
    folder: 'synthetic-10164-relion5',
    campaign: RELION5_CAMPAIGN,
    tools: 'AreTomo2 STAND-IN; RELION 5.0.1 on CPU running the production lines (--j, not --gpu)',
  },
} as const;

function isDemoProfile(name: string): name is keyof typeof DEMOS {
  return Object.hasOwn(DEMOS, name);
}

/** The demo's config with `--profile` applied; only the two CPU profiles have a demo dataset. */
export function demoConfig(config: CryoConfig, profile: string | undefined): CryoConfig {
  if (profile === undefined) return config;
  if (!isDemoProfile(profile)) {
    throw new CliError(
      2,
      `demo --profile ${profile}: expected embedded or relion5 (the CPU profiles; production needs GPUs and real data)`,
    );
  }
  return { ...config, tools: { ...config.tools, profile } };
}

/** The refine's iteration (and resolution, once known) after the stage name, while it refines. */
function refineProgress(s: CampaignStatus): string {
  if (s.stage !== 'refine' || s.refine.iteration === undefined) return '';
  const resolution = s.refine.resolution ? `, ${s.refine.resolution.toFixed(1)} Å` : '';
  return ` (iteration ${s.refine.iteration}${resolution})`;
}

/** Runs the demo; true when the campaign completed. */
export async function runDemo(config: CryoConfig, now: Date = new Date()): Promise<boolean> {
  const label = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  installRuntime(config, 'WARN');
  const profile = config.tools.profile;
  if (profile === 'production')
    throw new CliError(
      2,
      'demo: the production profile needs GPUs and real data; run it with --profile embedded or relion5',
    );
  const demo = DEMOS[profile];
  const dataDir = `${config.paths.data}/${demo.folder}`;
  console.log(`dataset: SYNTHETIC EMPIAR-10164-like tilt series with ground truth → ${dataDir}`);
  execFileSync(EMBEDDED_PYTHON, [...demo.generator, '--out', dataDir], { stdio: 'inherit' });
  const spec = await loadCampaign(demo.campaign, profile);
  const id = `${spec.name}-${label}`;
  const input = campaignInput(config, spec, id);
  const { worker, connection } = await createWorker(config);
  const { client, close } = await connectClient(config);
  const faults = new WorkerResources(config, () => {});
  console.log(`Temporal UI: ${config.temporal.ui}`);
  console.log(`campaign:    ${workflowUiUrl(config, id)}`);
  console.log(`tools:       ${profile} profile (${demo.tools})`);
  const hang = `capacity hang (refine rung 1 pins ${input.placements.refine.ladder[0]!.gres}, spot pool empty)`;
  console.log(`injected:    ${hang} and a FAKE spot reclaim at refine iteration 2`);
  const started = Date.now();
  try {
    const handle = await startCampaign(client, config, input);
    let lastStage = '';
    const printed = new Set<string>();
    const say = (line: string) => console.log(`  ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s  ${line}`);
    const ticker = setInterval(() => {
      handle
        .query<CampaignStatus>('status')
        .then((s) => {
          // One line per event (a hang relaxed, a job replaced, a node left out, a step moved), once.
          for (const e of s.events ?? []) {
            if (!printed.has(`${e.at}:${e.text}`)) say(e.text);
            printed.add(`${e.at}:${e.text}`);
          }
          const line = `${s.stage}${refineProgress(s)}`;
          if (line !== lastStage) say(line);
          lastStage = line;
        })
        .catch(() => {});
    }, 2000);
    let reclaim: ReclaimReport | undefined;
    const injector = reclaimDuringRefine({
      pool: faults.pool,
      cluster: input.cluster,
      campaignId: id,
      campaignDir: input.layout.dir,
      atIteration: 2,
      ...(profile === 'relion5' ? { relion: '5' as const } : {}),
      timeoutMs: 30 * 60_000,
      log: say,
    }).then(
      (r) => (reclaim = r),
      (err: Error) => console.log(`  (no reclaim injected: ${err.message})`),
    );
    let record: RunRecord;
    try {
      record = await worker.runUntil(async () => {
        const r = (await handle.result()) as RunRecord;
        await injector;
        return r;
      });
    } finally {
      clearInterval(ticker);
    }
    console.log(`\ncampaign ${id} completed in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    console.log(summaryTable(record));
    console.log(`\ntotal cost: $${record.costUsd.toFixed(4)} (GPU-hours × gpuPrices in temporal.yaml)`);
    const resolution = `${formatResolution(record.finalResolution)} (FSC 0.143)`;
    const bfactor = `B-factor ${record.bfactor.toFixed(0)} Å²`;
    console.log(`final resolution: ${resolution}, ${bfactor}; ${record.particles} particles`);
    if (reclaim) {
      const resumed = record.steps.find((s) => s.step === 'refine')?.events.find((e) => e.kind === 'resumed');
      const back = `back on ${reclaim.newNode} after ${(reclaim.backMs / 1000).toFixed(1)} s`;
      console.log(
        `spot reclaim: ${reclaim.node} lost at iteration ${reclaim.iteration}; ${back}; ${resumed?.note ?? ''}`,
      );
    }
    if (record.truth) console.log(`vs truth:    ${truthText(record.truth)} (${startText(record.start)})`);
    console.log(`run record:  ${record.recordPath}`);
    console.log(`tomograms:   ${record.campaignDir}/tomograms/`);
    console.log(
      `maps:        ${record.campaignDir}/Refine3D/run_class001.mrc, ${record.campaignDir}/PostProcess/postprocess.mrc`,
    );
    console.log(`Temporal UI: ${workflowUiUrl(config, id)}`);
    return true;
  } catch (err) {
    let message = (err as Error).message;
    for (let e = (err as Error).cause as Error | undefined; e; e = e.cause as Error | undefined)
      message += `\n  caused by: ${e.message}`;
    console.error(`demo failed: ${message}`);
    return false;
  } finally {
    faults.close?.();
    await close();
    await connection.close();
  }
}
