/**
 * `cryoet doctor`'s pure half: the check record, the scheduler output it reads (sinfo's node
 * list, `sbatch --test-only`), the probe script a login or compute node runs (tools on PATH,
 * folders writable or readable) and its parser, and the one-line-per-check text. The I/O is
 * in cluster.ts, files.ts and index.ts.
 */
import { shellQuote } from '../shell/quote.js';
import type { PlacementRung } from '../config/schema.js';
import { parseGres } from '../config/schema.js';
import { formatDuration } from '../duration.js';
import type { SinfoNode } from '../slurm/sinfo.js';

export { parseNodeGres, parseSinfoNodes, SINFO_NODES_ARGS, type SinfoNode } from '../slurm/sinfo.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

/** One line of the doctor's report. */
export interface DoctorCheck {
  readonly status: CheckStatus;
  /** `temporal`, `cluster dev`, `campaign <name>`. */
  readonly scope: string;
  /** What was checked: `ssh`, `rung 1 gpu gpu:a10g:4`, `file TS_01 stack`. */
  readonly check: string;
  /** What was found. */
  readonly detail: string;
  /** What to change, for a warn or fail. */
  readonly fix?: string;
}

export function check(status: CheckStatus, scope: string, name: string, detail: string, fix?: string): DoctorCheck {
  return { status, scope, check: name, detail, ...(fix === undefined || status === 'pass' ? {} : { fix }) };
}

/** Exit code of a doctor run: 1 when any check failed (warnings do not fail it). */
export function doctorExitCode(checks: readonly DoctorCheck[]): 0 | 1 {
  return checks.some((c) => c.status === 'fail') ? 1 : 0;
}

const MARK: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** `PASS  cluster dev  ssh: …` lines, the fix on the line after a warn or fail, then a total. */
export function formatChecks(checks: readonly DoctorCheck[]): string {
  const width = Math.max(0, ...checks.map((c) => c.scope.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${MARK[c.status]}  ${c.scope.padEnd(width)}  ${c.check}: ${c.detail}`);
    if (c.fix !== undefined) lines.push(`      ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  lines.push(
    `${checks.length} check(s): ${count('pass')} passed, ${count('warn')} warning(s), ${count('fail')} failed`,
  );
  return lines.join('\n');
}

// ---- the scheduler's view ------------------------------------------------------------------

/** The nodes of `partition` whose gres holds the rung's GPUs (type, when pinned, and count). */
export function nodesOffering(
  nodes: readonly SinfoNode[],
  rung: Pick<PlacementRung, 'partition' | 'gres'>,
): SinfoNode[] {
  const want = parseGres(rung.gres);
  return nodes.filter(
    (n) =>
      n.partition === rung.partition &&
      n.gpus.some((g) => (want.type === undefined || g.type === want.type) && g.count >= want.count),
  );
}

/** `gpu:t4:4 on n1,n2; gpu:a10g:4 on c1`: what a partition's nodes offer, for messages. */
export function describeOffers(nodes: readonly SinfoNode[], partition: string): string {
  const byGres = new Map<string, string[]>();
  for (const n of nodes.filter((x) => x.partition === partition)) {
    const gres = n.gpus.map((g) => `gpu:${g.type === undefined ? '' : `${g.type}:`}${g.count}`).join('+') || 'no GPUs';
    byGres.set(gres, [...(byGres.get(gres) ?? []), n.node]);
  }
  return [...byGres].map(([gres, names]) => `${gres} on ${names.join(',')}`).join('; ') || 'no nodes';
}

/** `sbatch --test-only` for a rung: Slurm says whether and where it could start the job now. */
export function testOnlyArgs(rung: Pick<PlacementRung, 'partition' | 'gres'>): string[] {
  return [
    'sbatch',
    '--test-only',
    `--partition=${rung.partition}`,
    `--gres=${rung.gres}`,
    '--nodes=1',
    '--time=1',
    '--job-name=cryoet-doctor',
    '--output=/dev/null',
    '--wrap=true',
  ];
}

/** `sbatch: Job 3 to start at … using 1 processors on nodes n1 in partition gpu` → ok, where. */
export function parseTestOnly(exitCode: number | null, stderr: string): { ok: boolean; message: string } {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const start = lines.find((l) => /Job \d+ to start at/.test(l));
  if (exitCode === 0 && start !== undefined) {
    const where = /on nodes (\S+)/.exec(start)?.[1];
    const when = /to start at (\S+)/.exec(start)?.[1];
    return { ok: true, message: `could start${when ? ` at ${when}` : ''}${where ? ` on ${where}` : ''}` };
  }
  const refusal = lines.find((l) => /allocation failure|error/i.test(l)) ?? lines.at(-1) ?? `exit ${exitCode}`;
  return { ok: false, message: refusal.replace(/^(sbatch: )?(error: )?/, '') };
}

/** The rung's check from sinfo's nodes and `--test-only`. */
export function rungCheck(args: {
  scope: string;
  label: string;
  rung: Pick<PlacementRung, 'partition' | 'gres'>;
  nodes: readonly SinfoNode[];
  testOnly: { ok: boolean; message: string };
  hangAfterMs: number;
}): DoctorCheck {
  const { scope, label, rung, nodes, testOnly } = args;
  const partitions = [...new Set(nodes.map((n) => n.partition))];
  if (!partitions.includes(rung.partition)) {
    return check(
      'fail',
      scope,
      label,
      `partition ${rung.partition} does not exist (sinfo lists ${partitions.join(', ') || 'none'})`,
      "name a partition the cluster has in this rung (and in the cluster's partitions list)",
    );
  }
  const offering = nodesOffering(nodes, rung);
  if (offering.length === 0) {
    return check(
      'fail',
      scope,
      label,
      `no node of partition ${rung.partition} offers ${rung.gres} (${describeOffers(nodes, rung.partition)})`,
      `remove the rung, or change its gres to a type and count the partition offers`,
    );
  }
  const names = offering.map((n) => `${n.node} (${n.state})`).join(', ');
  if (testOnly.ok) return check('pass', scope, label, `offered by ${names}; ${testOnly.message}`);
  return check(
    'warn',
    scope,
    label,
    `offered by ${names}, but Slurm would not place a job now: ${testOnly.message}`,
    `a job here pends and moves to the next rung after hangAfter (${formatDuration(args.hangAfterMs)}); ` +
      'bring the nodes up (scontrol update NodeName=… State=RESUME) if they should take it',
  );
}

// ---- the probe a login or compute node runs ----------------------------------------------

export interface ProbeRequest {
  /** Programs to look up on PATH (or absolute paths to test). */
  readonly programs: readonly string[];
  /** Folders that must be writable: created when missing, a file written and removed. */
  readonly writable: readonly string[];
  /** Folders that must be readable. */
  readonly readable: readonly string[];
}

export interface ProbeResult {
  readonly host: string;
  /** Program → where it was found, or null. */
  readonly programs: ReadonlyMap<string, string | null>;
  /** Folder → null when it is as asked, else why not. */
  readonly folders: ReadonlyMap<string, string | null>;
}

/** A bash script printing `host …`, `prog <name>\t<path or empty>`, `dir <path>\t<ok or reason>`. */
export function probeScript(req: ProbeRequest): string {
  const lines = ['printf "host\\t%s\\n" "$(hostname)"'];
  for (const p of req.programs) {
    const q = shellQuote(p);
    lines.push(`printf "prog\\t%s\\t%s\\n" ${q} "$(command -v -- ${q} 2>/dev/null || true)"`);
  }
  for (const d of req.writable) {
    const q = shellQuote(d);
    lines.push(
      `f=${q}"/.cryoet-doctor-$$"; if ! e=$(mkdir -p -- ${q} 2>&1); then r="cannot create it (\${e##*: })"; ` +
        'elif ! e=$( { : > "$f"; } 2>&1 ); then r="not writable (${e##*: })"; else rm -f -- "$f"; r=ok; fi; ' +
        `printf "dir\\t%s\\t%s\\n" ${q} "$r"`,
    );
  }
  for (const d of req.readable) {
    const q = shellQuote(d);
    lines.push(
      `if [ ! -d ${q} ]; then r="does not exist"; elif [ ! -r ${q} ] || [ ! -x ${q} ]; then r="not readable"; ` +
        `else r=ok; fi; printf "dir\\t%s\\t%s\\n" ${q} "$r"`,
    );
  }
  return lines.join('\n');
}

/** Parses what {@link probeScript} printed. */
export function parseProbe(stdout: string): ProbeResult {
  let host = 'unknown';
  const programs = new Map<string, string | null>();
  const folders = new Map<string, string | null>();
  for (const line of stdout.split('\n')) {
    const [kind, a = '', b = ''] = line.split('\t');
    if (kind === 'host') host = a || 'unknown';
    else if (kind === 'prog') programs.set(a, b === '' ? null : b);
    else if (kind === 'dir') folders.set(a, b === 'ok' ? null : b || 'no answer');
  }
  return { host, programs, folders };
}

/** `srun` of the probe on one node of the rung's partition, giving up when no node is free in time. */
export function computeProbeArgs(
  rung: Pick<PlacementRung, 'partition' | 'gres'>,
  immediateS: number,
  script: string,
): string[] {
  return [
    'srun',
    `--partition=${rung.partition}`,
    `--gres=${rung.gres}`,
    '--nodes=1',
    '--ntasks=1',
    '--time=2',
    `--immediate=${immediateS}`,
    '--job-name=cryoet-doctor',
    '--quiet',
    'bash',
    '-c',
    script,
  ];
}
