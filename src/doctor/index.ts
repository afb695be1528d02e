/**
 * `cryoet doctor`: a preflight of temporal.yaml (and a campaign file) against the real
 * Temporal namespace and clusters, before GPUs are spent. One check per line, pass, warn
 * or fail with the fix to make. `cryoet start` runs the cheap part (everything but the
 * compute-node job) first.
 */
import { stat } from 'node:fs/promises';
import type { CryoConfig } from '../config/schema.js';
import { connectClient } from '../client.js';
import { temporalTarget } from '../connection.js';
import { checkAttributes } from '../namespace-setup.js';
import { campaignDataDir } from '../campaign/input.js';
import type { CampaignSpec } from '../model/campaign-spec.js';
import { ARETOMO2_STANDIN } from '../embedded.js';
import { REMOTE_SHA, sha256File } from '../activities/stage-binary.js';
import { shellJoin } from '../shell/quote.js';
import { exportPrefix } from '../slurm/submit-command.js';
import { SshConnection } from '../ssh/connection.js';
import { stagedPath } from '../tools/toolset.js';
import { sshTarget } from '../worker-resources.js';
import { check, type DoctorCheck } from './checks.js';
import { checkCluster } from './cluster.js';
import { checkCampaignFiles } from './files.js';
import { programsNeeded } from './needs.js';

export { doctorExitCode, formatChecks, type DoctorCheck } from './checks.js';

export interface DoctorOptions {
  /** temporal.yaml's path, for the fixes printed. */
  readonly configFile: string;
  readonly campaign?: { readonly spec: CampaignSpec; readonly file: string };
  /** Run the compute-node probe job (a tiny srun per cluster). */
  readonly computeNode: boolean;
  readonly computeWaitMs: number;
  /** Check the Temporal namespace (off where the caller already connected). */
  readonly temporal: boolean;
}

/** Every check, in order: Temporal, then each cluster, then the campaign's files. */
export async function runDoctor(config: CryoConfig, options: DoctorOptions): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  if (options.temporal) checks.push(...(await temporalChecks(config, options.configFile)));
  const programs = programsNeeded(config, options.campaign?.spec);
  const first = Object.keys(config.clusters)[0]!;
  for (const name of Object.keys(config.clusters)) {
    const connection = new SshConnection(sshTarget(name, config.clusters[name]!));
    try {
      const clusterChecks = await checkCluster(config, name, { ...options, programs }, connection);
      checks.push(...clusterChecks);
      const reached = clusterChecks.some((c) => c.check === 'ssh' && c.status === 'pass');
      if (name !== first || !reached) continue;
      checks.push(await aretomoCheck(config, connection));
      if (options.campaign !== undefined) {
        const { spec, file } = options.campaign;
        checks.push(
          ...(await checkCampaignFiles(connection, spec, { dir: '', dataDir: campaignDataDir(config, spec) }, file)),
        );
      }
    } finally {
      connection.close();
    }
  }
  return checks;
}

async function temporalChecks(config: CryoConfig, configFile: string): Promise<DoctorCheck[]> {
  let target;
  try {
    target = temporalTarget(config);
  } catch (err) {
    return [check('fail', 'temporal', 'connection', (err as Error).message, `fix temporal: in ${configFile}`)];
  }
  const address = target.connectionOptions.address ?? '127.0.0.1:7233';
  let connected;
  try {
    connected = await connectClient(config);
  } catch (err) {
    return [
      check(
        'fail',
        'temporal',
        'connection',
        `${address}: ${(err as Error).message}`,
        `start the Temporal server, or fix temporal.address / tls in ${configFile}`,
      ),
    ];
  }
  try {
    const checks = [
      check(
        'pass',
        'temporal',
        'connection',
        `${address}, namespace ${target.namespace}, task queue ${target.taskQueue}`,
      ),
    ];
    const attributes = await checkAttributes(connected.client.connection.operatorService, target.namespace);
    const bad = [...attributes.missing, ...attributes.wrongType];
    checks.push(
      bad.length === 0
        ? check('pass', 'temporal', 'search attributes', `all ${attributes.present.length} registered`)
        : check(
            'fail',
            'temporal',
            'search attributes',
            `missing or mistyped: ${bad.join(', ')}`,
            `cryoet setup -c ${configFile} (without them every campaign's workflow task fails)`,
          ),
    );
    return checks;
  } catch (err) {
    return [
      check(
        'fail',
        'temporal',
        'namespace',
        `${target.namespace}: ${(err as Error).message}`,
        `create the namespace or fix temporal.namespace in ${configFile}`,
      ),
    ];
  } finally {
    await connected.close().catch(() => {});
  }
}

/** The AreTomo2 binary (or the CPU profiles' stand-in) here, and its staged copy there. */
async function aretomoCheck(config: CryoConfig, connection: SshConnection): Promise<DoctorCheck> {
  const scope = `cluster ${connection.target.cluster}`;
  const local = config.tools.aretomo2 ?? ARETOMO2_STANDIN;
  const stageDir = config.tools.stageDir ?? `${config.paths.work}/bin`;
  const remote = stagedPath(stageDir, local);
  try {
    const size = (await stat(local)).size;
    const sha = await sha256File(local);
    const c = config.clusters[connection.target.cluster]!;
    const there = await connection.exec(
      exportPrefix(c.environment) + shellJoin(['sh', '-c', REMOTE_SHA, 'sh', remote]),
      { timeoutMs: c.ssh.commandTimeout },
    );
    const staged = there.stdout.trim() === sha ? 'already staged there' : "staged there by the campaign's first step";
    return check(
      'pass',
      scope,
      'aretomo2',
      `${local} (${(size / 1e6).toFixed(1)} MB, sha256 ${sha.slice(0, 12)}) → ${remote}: ${staged}`,
    );
  } catch (err) {
    return check(
      'fail',
      scope,
      'aretomo2',
      (err as Error).message,
      config.tools.profile === 'production'
        ? 'set tools.aretomo2 to the AreTomo2 binary on this machine (e.g. AreTomo2_1.1.2_Cuda121)'
        : 'run npm run setup',
    );
  }
}
