/**
 * What the CLI table tests share: a step summary, a campaign status and a run record to print.
 */
import type { StepSummary } from '../../src/model/step-summary.js';
import type { CampaignStatus, RunRecord } from '../../src/model/campaign-status.js';

export function step(over: Partial<StepSummary> = {}): StepSummary {
  return {
    step: 'refine',
    cluster: 'dev',
    partition: 'gpu',
    rung: 2,
    gres: 'gpu:4',
    gpuType: 'any',
    gpus: 4,
    node: 'n2',
    jobIds: ['41', '42'],
    attempts: 2,
    relaxations: 1,
    reclaims: 0,
    pendingSeconds: 21,
    runSeconds: 754,
    pricePerGpuHour: 0.4,
    costUsd: 0.335111,
    command: ['relion_refine'],
    events: [],
    ...over,
  };
}

export function status(over: Partial<CampaignStatus> = {}): CampaignStatus {
  return {
    id: 'embedded-10164-20250301-120005',
    name: 'embedded-10164',
    dataset: 'EMPIAR-10164 (synthetic)',
    profile: 'embedded',
    startedAt: '2025-03-01T12:00:05.123Z',
    stage: 'refine',
    tiltSeries: {
      TS_01: { status: 'done', tomogram: 'tomograms/TS_01.mrc' },
      TS_03: { status: 'failed', error: 'TS_03.rawtlt: 40 angles, stack has 41 images' },
      TS_43: { status: 'running' },
      TS_45: { status: 'waiting' },
    },
    particles: 120,
    picks: { state: 'approved', by: 'alice', comment: 'fine', decidedAt: '2025-03-01T12:10:00Z' },
    refine: { iteration: 3, resolution: 31.25, finished: false, history: [{ iteration: 3, resolution: 31.25 }] },
    steps: [
      step({
        step: 'probe',
        rung: 1,
        gres: 'gpu:1',
        gpus: 1,
        node: 'n1',
        attempts: 1,
        pendingSeconds: 1,
        runSeconds: 3,
        costUsd: 0.000333,
      }),
      step({ step: 'reconstruct', tiltSeries: 'TS_01', gres: 'gpu:1', rung: 1 }),
    ],
    running: {
      refine: 'embedded-10164-20250301-120005/refine',
      TS_43: 'embedded-10164-20250301-120005/TS_43/reconstruct',
    },
    costUsd: 0.335444,
    ...over,
  };
}

export function record(): RunRecord {
  return {
    campaign: 'c1',
    name: 'embedded-10164',
    dataset: 'EMPIAR-10164 (synthetic)',
    profile: 'embedded',
    campaignDir: '/work/campaigns/c1',
    startedAt: '2025-03-01T12:00:05Z',
    endedAt: '2025-03-01T12:40:00Z',
    binary: { remotePath: '/work/bin/AreTomo2', sha256: 'ab'.repeat(32), copied: true },
    tiltSeries: [
      { name: 'TS_01', tomogram: 'tomograms/TS_01.mrc' },
      { name: 'TS_03', error: 'bad angles' },
    ],
    picks: { state: 'not-required' },
    particles: 240,
    pixelSize: 10,
    steps: [step()],
    costUsd: 0.335111,
    iterations: [
      { iteration: 1, resolution: 60 },
      { iteration: 2, resolution: 40.5 },
    ],
    finalResolution: 28.4,
    bfactor: -812.3,
    fsc: [],
    outputs: [{ path: '/work/campaigns/c1/PostProcess/postprocess.mrc', bytes: 55296, sha256: 'cd'.repeat(32) }],
    parameters: {} as RunRecord['parameters'],
    recordPath: '/work/campaigns/c1/run-record.json',
  };
}
