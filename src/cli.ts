/**
 * The `cryoet` command. Parses arguments, loads temporal.yaml and calls the same helpers
 * the tests use. The campaign commands (start, list, status, watch, cancel, relax, approve,
 * report) and `orphans` (queued jobs no running workflow owns) live in src/cli/.
 * Exit codes: 0 done, 1 pipeline failed or operation refused, 2 usage or config error,
 * 3 not found (unknown workflow id).
 */
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { defaultConfigPath, loadConfig } from './config.js';
import { runWorker } from './worker.js';
import { temporalTarget } from './connection.js';
import { demoConfig, runDemo } from './cli/demo.js';
import { registerCampaignCommands } from './cli/campaign-commands.js';
import { registerOrphansCommand } from './cli/orphans.js';
import { registerDoctorCommand } from './cli/doctor.js';
import { CliError } from './cli/errors.js';
import { withSession } from './cli/session.js';
import { setupAttributes } from './namespace-setup.js';
import { CryoError, ErrorType } from './errors.js';

/** Builds the command tree (exported for tests). */
export function buildCli(): Command {
  const program = new Command('cryoet')
    .description('Run cryo-ET campaigns on GPU Slurm clusters as durable Temporal workflows')
    .exitOverride();

  const config = program.command('config').description('temporal.yaml tools');
  config
    .command('check [file]')
    .description('validate temporal.yaml and list every problem with its path')
    .option(
      '--schema-only',
      'fields and rules only: local files (keys, known_hosts, TLS) are not looked up (a file for another machine)',
    )
    .action(async (file: string | undefined, opts: { schemaOnly?: boolean }) => {
      const path = file ?? defaultConfigPath();
      let c;
      try {
        c = await loadConfig(path, opts.schemaOnly ? { fileExists: () => true } : {});
      } catch (err) {
        const issues = (err as CryoError).details?.['issues'];
        if (err instanceof CryoError && Array.isArray(issues) && issues.length > 0) {
          throw new CryoError(err.type, `${err.message}\n${issues.length} problem(s) in ${path}`, err.details);
        }
        throw err;
      }
      const names = Object.keys(c.clusters);
      const rungs = c.placement.ladder.length;
      const clusters = `${names.length} cluster(s) (${names.join(', ')}), ${rungs} placement rung(s)`;
      if (opts.schemaOnly) {
        const address = c.temporal.address ?? 'from the env-config profile';
        console.log(`${path}: ok (schema only: local files not looked up) — ${clusters}, Temporal ${address}`);
        return;
      }
      const target = temporalTarget(c); // also proves the TLS files and the profile load
      const where = `${target.connectionOptions.address} / ${target.namespace} / ${target.taskQueue}`;
      console.log(`${path}: ok — ${clusters}, Temporal ${where}`);
    });

  program
    .command('setup')
    .description("register cryoet's search attributes on the configured namespace (operator API); idempotent")
    .option('-c, --config <file>', 'temporal.yaml path', defaultConfigPath())
    .action(async (opts: { config: string }) =>
      withSession(opts, async (session) => {
        const done = await setupAttributes(session.client.connection.operatorService, session.namespace);
        const list = (names: string[]) => (names.length ? names.join(', ') : 'none');
        console.log(
          `namespace "${session.namespace}" at ${session.address}: ` +
            `added ${list(done.added)}; already there: ${list(done.present)}`,
        );
      }),
    );

  program
    .command('worker')
    .description('run a worker for the configured task queue until SIGINT/SIGTERM')
    .option('-c, --config <file>', 'temporal.yaml path', defaultConfigPath())
    .action(async (opts: { config: string }) => runWorker(opts.config));

  program
    .command('demo')
    .description('run the demo on the embedded cluster and print the Temporal UI address')
    .option('-c, --config <file>', 'temporal.yaml path', defaultConfigPath())
    .option(
      '--profile <name>',
      "tool profile: embedded (RELION 3.1) or relion5 (RELION 5 production lines on CPU); default: the config's",
    )
    .action(async (opts: { config: string; profile?: string }) => {
      const ok = await runDemo(demoConfig(await loadConfig(opts.config), opts.profile));
      if (!ok) process.exitCode = 1;
    });

  registerCampaignCommands(program);
  registerOrphansCommand(program);
  registerDoctorCommand(program);
  return program;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildCli().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CliError) {
      if (err.message) console.error(err.message);
      return err.exitCode;
    }
    if (err instanceof CryoError) {
      console.error(err.message);
      return err.type === ErrorType.ConfigInvalid || err.type === ErrorType.NameInvalid ? 2 : 1;
    }
    console.error((err as Error).stack ?? String(err));
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
