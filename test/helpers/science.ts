/**
 * The science suite's cluster (test/science/): dev3 of scripts/dev-cluster.sh, a third
 * single-host cluster of the dev cluster's shape (own ClusterName, munge, ports, sshd on
 * 2224) whose daemons and jobs run at nice 15. scripts/test.sh runs the science suite beside
 * the other suites: its RELION 5 refines take only the CPU the others leave idle, and its
 * node reclaims and jobs never show up on `dev`, where the other suites count jobs and
 * orphans. The config keeps the name `dev` (temporal.yaml's cluster, so the placement's
 * rungs and the test helpers' ladders need no change) and points it at dev3's sshd.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { campaignInput, type CampaignInput } from '../../src/campaign/input.js';
import { parseCampaign } from '../../src/campaign/load.js';
import { startCampaign } from '../../src/client.js';
import type { CryoConfig } from '../../src/config.js';
import { EMBEDDED_PYTHON, MAKE_RELION5_DATASET, RELION5_CAMPAIGN } from '../../src/embedded.js';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import { devConfig, repoRoot, uniqueId } from './env.js';
import { ladder, type WorkerHarness } from './worker.js';

/** dev3's state folder (scripts/dev-cluster.sh). */
export const DEV3_DIR = join(repoRoot, '.dev', 'cluster-dev3');

/** The dev config with its cluster `dev` reached at dev3, and campaigns under dev3's work folder. */
export async function dev3Config(): Promise<Pick<CryoConfig, 'clusters' | 'paths'>> {
  const base = await devConfig();
  const dev = base.clusters['dev']!;
  return {
    clusters: {
      dev: {
        ...dev,
        ssh: {
          ...dev.ssh,
          port: 2224,
          keyFile: join(DEV3_DIR, 'ssh', 'id_ed25519'),
          knownHostsFile: join(DEV3_DIR, 'ssh', 'known_hosts'),
        },
        workDir: join(DEV3_DIR, 'work'),
      },
    },
    paths: { ...base.paths, work: join(DEV3_DIR, 'work', 'campaigns') },
  };
}

/** The dataset both science campaigns run on: two series of 16 particles, in RELION 5's formats, under paths.data. */
export const RELION5_DATASET = 'synthetic-10164-relion5-test';

/** A started relion5 campaign: its config, dataset folder, input and handle. */
export interface Relion5Campaign {
  readonly config: CryoConfig;
  readonly dataDir: string;
  readonly input: CampaignInput;
  readonly handle: WorkflowHandle;
}

/**
 * Writes the synthetic RELION 5 dataset and starts the shipped relion5 campaign on its first two
 * series, on the harness's worker, with the refine on `gpu:4` (hang after 60 s) and progress
 * every second; `refine` overrides the campaign file's refine section.
 */
export async function startRelion5Campaign(
  h: WorkerHarness,
  idPrefix: string,
  refine: Partial<CampaignSpec['refine']> = {},
): Promise<Relion5Campaign> {
  const config: CryoConfig = { ...h.config, tools: { ...h.config.tools, profile: 'relion5' } };
  const dataDir = join(h.config.paths.data, RELION5_DATASET);
  const args = [MAKE_RELION5_DATASET, '--out', dataDir, '--series', '2', '--particles', '16'];
  execFileSync(EMBEDDED_PYTHON, args, { stdio: 'ignore' });
  const parsed = parseCampaign(readFileSync(RELION5_CAMPAIGN, 'utf8'), 'relion5');
  assert.ok(parsed.ok, JSON.stringify(parsed));
  const spec: CampaignSpec = {
    ...parsed.spec,
    dataDir: RELION5_DATASET,
    tiltSeries: parsed.spec.tiltSeries.slice(0, 2),
    refine: { ...parsed.spec.refine, ...refine },
  };
  const built = campaignInput(config, spec, uniqueId(idPrefix));
  const input: CampaignInput = {
    ...built,
    placements: { ...built.placements, refine: ladder(['gpu:4'], 60_000) },
    progressEveryMs: 1000,
  };
  const handle = await startCampaign(
    h.env.client,
    { ...config, temporal: { ...config.temporal, taskQueue: h.taskQueue } },
    input,
  );
  return { config, dataDir, input, handle };
}
