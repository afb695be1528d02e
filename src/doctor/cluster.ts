/**
 * The doctor's checks of one cluster over the real SSH path: the host key, the scheduler,
 * every placement rung (sinfo's nodes and `sbatch --test-only`), the tools on the login
 * node, and (unless skipped) a tiny `srun` on a compute node that looks the tools up there
 * and writes to every folder jobs write.
 */
import type { CryoConfig } from '../config/schema.js';
import { shellJoin } from '../shell/quote.js';
import { exportPrefix } from '../slurm/submit-command.js';
import { tail, type ExecResult, type SshConnection } from '../ssh/connection.js';
import { parseRelionVersion } from '../tools/relion.js';
import {
  check,
  computeProbeArgs,
  parseProbe,
  parseSinfoNodes,
  parseTestOnly,
  probeScript,
  rungCheck,
  SINFO_NODES_ARGS,
  testOnlyArgs,
  type DoctorCheck,
  type ProbeResult,
} from './checks.js';
import { expectedRelionMajor, foldersNeeded, probeRung, rungUses, versionProgram } from './needs.js';

export interface ClusterDoctorOptions {
  readonly programs: readonly string[];
  /** Run the compute-node probe (a tiny srun). */
  readonly computeNode: boolean;
  /** How long the probe may wait for a node (srun --immediate). */
  readonly computeWaitMs: number;
}

/** Runs the checks of cluster `name` over `connection` (the caller closes it). */
export async function checkCluster(
  config: CryoConfig,
  name: string,
  options: ClusterDoctorOptions,
  connection: SshConnection,
): Promise<DoctorCheck[]> {
  const c = config.clusters[name]!;
  const scope = `cluster ${name}`;
  const run = (argv: readonly string[], timeoutMs = c.ssh.commandTimeout): Promise<ExecResult> =>
    connection.exec(exportPrefix(c.environment) + shellJoin(argv), { timeoutMs });
  const checks: DoctorCheck[] = [];
  const at = `${c.ssh.user}@${c.ssh.host}:${c.ssh.port}`;

  try {
    await run(['true']);
    checks.push(
      check('pass', scope, 'ssh', `${at}: host key matches ${c.ssh.knownHostsFile}, key ${c.ssh.keyFile} accepted`),
    );
  } catch (err) {
    const message = (err as Error).message;
    const keyscan = `ssh-keyscan -p ${c.ssh.port} ${c.ssh.host}`;
    const login = at.split(':')[0];
    const fix = /host key/i.test(message)
      ? `confirm the login node's key with its admin, then put it in ${c.ssh.knownHostsFile} (${keyscan})`
      : `check clusters.${name}.ssh (host, port, user, keyFile) and that ssh -p ${c.ssh.port} ${login} works from here`;
    checks.push(check('fail', scope, 'ssh', message, fix));
    return checks; // nothing else can be checked without the login
  }

  const sinfo = await run(SINFO_NODES_ARGS).catch(
    (e: Error) => ({ exitCode: null, stdout: '', stderr: e.message }) as ExecResult,
  );
  const nodes = parseSinfoNodes(sinfo.stdout);
  if (sinfo.exitCode !== 0 || nodes.length === 0) {
    checks.push(
      check(
        'fail',
        scope,
        'scheduler',
        `sinfo failed: ${tail(sinfo.stderr || sinfo.stdout || 'no nodes listed', 2)}`,
        `make sinfo work for ${c.ssh.user} on the login node (PATH, or SLURM_CONF in clusters.${name}.environment)`,
      ),
    );
  } else {
    const version = await run(['sinfo', '--version']).catch(() => undefined);
    const partitions = [...new Set(nodes.map((n) => n.partition))];
    checks.push(
      check(
        'pass',
        scope,
        'scheduler',
        `${version?.stdout.trim() || 'slurm'}: ${nodes.length} node row(s), ` + `partitions ${partitions.join(', ')}`,
      ),
    );
    const unknown = c.partitions.filter((p) => !partitions.includes(p));
    if (unknown.length > 0) {
      checks.push(
        check(
          'fail',
          scope,
          'partitions',
          `${unknown.join(', ')} not on the cluster (sinfo lists ${partitions.join(', ')})`,
          `fix clusters.${name}.partitions and the rungs that name them`,
        ),
      );
    }
    for (const use of rungUses(config).filter((u) => u.rung.cluster === name)) {
      const label = `rung ${use.rung.partition} ${use.rung.gres} (${use.usedBy.join(', ')})`;
      const test = await run(testOnlyArgs(use.rung)).catch(
        (e: Error) => ({ exitCode: null, stdout: '', stderr: e.message }) as ExecResult,
      );
      checks.push(
        rungCheck({
          scope,
          label,
          rung: use.rung,
          nodes,
          testOnly: parseTestOnly(test.exitCode, test.stderr),
          hangAfterMs: use.hangAfterMs,
        }),
      );
    }
  }

  const login = await probe(run, { programs: options.programs, writable: [], readable: [] }, c.ssh.commandTimeout);
  checks.push(
    login instanceof Error
      ? check(
          'fail',
          scope,
          'tools',
          `probe on the login node failed: ${login.message}`,
          'check that bash runs for this user on the login node',
        )
      : toolsCheck(scope, `login node ${login.host}`, login, name),
  );
  checks.push(await relionVersionCheck(config, scope, run));

  if (!options.computeNode) return checks;
  checks.push(...(await computeChecks(config, name, options, run)));
  return checks;
}

async function probe(
  run: (argv: readonly string[], timeoutMs?: number) => Promise<ExecResult>,
  req: Parameters<typeof probeScript>[0],
  timeoutMs: number,
  wrap: (script: string) => string[] = (script) => ['bash', '-c', script],
): Promise<ProbeResult | Error> {
  try {
    const result = await run(wrap(probeScript(req)), timeoutMs);
    if (result.exitCode !== 0) return new Error(tail(result.stderr || result.stdout || `exit ${result.exitCode}`, 3));
    return parseProbe(result.stdout);
  } catch (err) {
    return err as Error;
  }
}

function toolsCheck(scope: string, where: string, result: ProbeResult, cluster: string): DoctorCheck {
  const missing = [...result.programs].filter(([, path]) => path === null).map(([p]) => p);
  if (missing.length === 0)
    return check('pass', scope, 'tools', `${where}: ${[...result.programs.values()].join(', ')}`);
  return check(
    'fail',
    scope,
    'tools',
    `${where}: not found: ${missing.join(', ')}`,
    `install them, or set tools.relionBinDir / tools.mpirun in temporal.yaml, or put their folder on PATH ` +
      `(clusters.${cluster}.environment runs before every command)`,
  );
}

async function relionVersionCheck(
  config: CryoConfig,
  scope: string,
  run: (argv: readonly string[]) => Promise<ExecResult>,
): Promise<DoctorCheck> {
  const program = versionProgram(config);
  const want = expectedRelionMajor(config.tools.profile);
  const result = await run([program, '--version']).catch(
    (e: Error) => ({ exitCode: null, stdout: '', stderr: e.message }) as ExecResult,
  );
  const parsed = parseRelionVersion(`${result.stdout}\n${result.stderr}`, program);
  const found = `${program} --version: ${parsed.version}${parsed.precision ? ` (${parsed.precision})` : ''}`;
  if (parsed.version === 'unknown') {
    return check(
      'fail',
      scope,
      'relion',
      `${program} --version printed no version: ${tail(result.stderr || result.stdout || 'no output', 2)}`,
      `the ${config.tools.profile} profile runs RELION ${want}: install it or point tools.relionBinDir at it`,
    );
  }
  if (parsed.version.split('.')[0] !== want) {
    return check(
      'fail',
      scope,
      'relion',
      `${found}; the ${config.tools.profile} profile runs RELION ${want}`,
      `point tools.relionBinDir (per profile) at a RELION ${want} build`,
    );
  }
  return check('pass', scope, 'relion', found);
}

async function computeChecks(
  config: CryoConfig,
  name: string,
  options: ClusterDoctorOptions,
  run: (argv: readonly string[], timeoutMs?: number) => Promise<ExecResult>,
): Promise<DoctorCheck[]> {
  const scope = `cluster ${name}`;
  const rung = probeRung(config, name);
  if (rung === undefined)
    return [
      check(
        'warn',
        scope,
        'compute node',
        'no rung on this cluster: no probe job',
        'nothing to do if no step runs here',
      ),
    ];
  const folders = foldersNeeded(config, name);
  const waitS = Math.max(1, Math.ceil(options.computeWaitMs / 1000));
  const req = { programs: options.programs, ...folders };
  const result = await probe(run, req, options.computeWaitMs + config.clusters[name]!.ssh.commandTimeout, (script) =>
    computeProbeArgs(rung, waitS, script),
  );
  const label = `compute node (srun -p ${rung.partition} --gres=${rung.gres})`;
  if (result instanceof Error) {
    const busy = /immediate|Unable to allocate|busy|not available/i.test(result.message);
    return [
      check(
        busy ? 'warn' : 'fail',
        scope,
        label,
        `the probe job did not run: ${result.message}`,
        busy
          ? `no node was free within ${waitS}s; rerun with a longer --compute-wait, or --no-compute-node`
          : 'check that srun works for this user on the login node',
      ),
    ];
  }
  const checks = [toolsCheck(scope, `compute node ${result.host}`, result, name)];
  for (const [folder, problem] of result.folders) {
    const kind = folders.writable.includes(folder) ? 'writable' : 'readable';
    checks.push(
      problem === null
        ? check('pass', scope, `folder ${folder}`, `${kind} from compute node ${result.host}`)
        : check(
            'fail',
            scope,
            `folder ${folder}`,
            `${problem} on compute node ${result.host} (jobs need it ${kind})`,
            'mount it on the compute nodes (the shared filesystem)' +
              ` and give ${config.clusters[name]!.ssh.user} ${kind === 'writable' ? 'write' : 'read'} access, ` +
              'or change the path in temporal.yaml',
          ),
    );
  }
  return checks;
}
