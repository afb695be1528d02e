/**
 * `cryoet doctor [campaign.yaml]`: the preflight (src/doctor/), one line per check with
 * the fix to make, or `--json`. Exit 0 when nothing failed (warnings allowed), 1 when a
 * check failed, 2 for a bad temporal.yaml or campaign file. Also the cheap preflight that
 * `cryoet start` runs before it starts anything.
 */
import type { Command } from 'commander';
import type { CryoConfig } from '../config/schema.js';
import type { CampaignSpec } from '../model/campaign-spec.js';
import { loadCampaign } from '../campaign/load.js';
import { CryoError } from '../errors.js';
import { doctorExitCode, formatChecks, runDoctor, type DoctorCheck } from '../doctor/index.js';
import { CliError, ExitCode, toCliError } from './errors.js';
import { durationFlag, loadCliConfig, printJson, withConfigOption } from './session.js';

interface DoctorCliOptions {
  readonly config: string;
  readonly json?: boolean;
  readonly computeNode: boolean;
  readonly computeWait: number;
}

/** The campaign file, or a usage error listing every problem in it. */
export async function loadCampaignForCli(file: string, config: CryoConfig): Promise<CampaignSpec> {
  try {
    return await loadCampaign(file, config.tools.profile);
  } catch (err) {
    const issues = err instanceof CryoError ? err.details?.['issues'] : undefined;
    if (err instanceof CryoError && Array.isArray(issues) && issues.length > 0) {
      throw new CliError(ExitCode.Usage, `${err.message}\n${issues.length} problem(s) in ${file}`);
    }
    throw toCliError(err);
  }
}

async function doctor(file: string | undefined, opts: DoctorCliOptions): Promise<void> {
  const config = await loadCliConfig(opts.config);
  const spec = file === undefined ? undefined : await loadCampaignForCli(file, config);
  const checks = await runDoctor(config, {
    configFile: opts.config,
    ...(spec === undefined ? {} : { campaign: { spec, file: file! } }),
    computeNode: opts.computeNode,
    computeWaitMs: opts.computeWait,
    temporal: true,
  });
  const code = doctorExitCode(checks);
  if (opts.json) printJson({ ok: code === 0, checks });
  else console.log(formatChecks(checks));
  process.exitCode = code;
}

/**
 * What `cryoet start` runs first: the clusters (ssh, scheduler, rungs, tools) and the
 * campaign's files, without the compute-node job. Throws exit 1 listing what failed.
 */
export async function startPreflight(
  config: CryoConfig,
  configFile: string,
  spec: CampaignSpec,
  file: string,
): Promise<DoctorCheck[]> {
  const checks = await runDoctor(config, {
    configFile,
    campaign: { spec, file },
    computeNode: false,
    computeWaitMs: 0,
    temporal: false,
  });
  if (doctorExitCode(checks) !== 0) {
    const failed = checks.filter((c) => c.status === 'fail');
    throw new CliError(
      ExitCode.Failed,
      `${formatChecks(failed)}\nnot started: ${failed.length} preflight check(s) failed ` +
        `(cryoet doctor -c ${configFile} ${file} runs them all; --no-preflight starts anyway)`,
    );
  }
  return checks;
}

export function registerDoctorCommand(program: Command): void {
  withConfigOption(
    program
      .command('doctor')
      .description(
        'preflight: Temporal namespace, each cluster (ssh host key, scheduler, every rung, tools, a compute-node job)' +
          " and the campaign's files",
      )
      .argument('[campaign.yaml]', 'also check every file this campaign names on the cluster')
      .option('--json', 'print JSON')
      .option('--no-compute-node', 'skip the tiny srun job that checks tools and folders from a compute node')
      .addOption(
        durationFlag('--compute-wait <duration>', 'how long the compute-node job may wait for a free node', '60s'),
      ),
  ).action((file: string | undefined, opts: DoctorCliOptions) => doctor(file, opts));
}
