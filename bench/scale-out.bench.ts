/**
 * `npm run bench -- bench/scale-out.bench.ts`: 500 watched cluster jobs with 1, 2 and 4
 * `cryoet worker` processes on one task queue (a Temporal dev server, the dev cluster),
 * side by side in one run:
 *
 * - status calls per minute to the cluster, counted by slurmctld itself (`sdiag`: the
 *   REQUEST_JOB_INFO* RPCs squeue makes) over a 45 s window once the workers shared out;
 * - each worker's RSS at the end of the window;
 * - detection latency of 8 short jobs run meanwhile (their last instruction → the workflow's
 *   COMPLETED observation), p50 / p95.
 *
 * The 500 jobs pin the A10G type, whose only node is down: they pend (ReqNodeNotAvail) and
 * use nothing, as a capacity wait does. Shared budget (polling.shareAcrossWorkers, the
 * default) at 1, 2 and 4 workers, and 4 workers without it, to show what it bounds.
 * Writes .dev/bench/scale-out.json. Not a test: nothing asserts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { loadConfig } from '../src/config.js';
import { SshConnection } from '../src/ssh/connection.js';
import { sshTarget } from '../src/worker-resources.js';
import { shellJoin } from '../src/shell/quote.js';
import { jobRecordQuery } from '../src/workflows/job-record.js';
import type { ClusterJobInput, ClusterJobResult } from '../src/workflows/cluster-job.js';
import { freePort, repoRoot, startTemporal, uniqueId, waitUntil, writeTestConfig } from '../test/helpers/env.js';
import { ladder } from '../test/helpers/worker.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

const JOBS = 500;
const WINDOW_MS = 45_000;
/** Past one share tick (30 s) after every worker polled. */
const SETTLE_MS = 40_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))]!;

const port = await freePort();
const env = await startTemporal(port);
const taskQueue = uniqueId('scale');
// The project's own polling (temporal.yaml: 1 s → 10 s, 60 calls/min), not the tests' faster one.
const shared = writeTestConfig(port, taskQueue, '5s', false);
const unshared = join(shared, '..', 'unshared.yaml');
writeFileSync(
  unshared,
  readFileSync(shared, 'utf8').replace(/^polling:\n/m, 'polling:\n  shareAcrossWorkers: false\n'),
);
const config = await loadConfig(shared);
const ssh = new SshConnection(sshTarget('dev', config.clusters['dev']!));
const slurm = async (argv: string[]) => (await ssh.exec(shellJoin(argv), { timeoutMs: 60_000 })).stdout;

/** slurmctld's count of job-info RPCs (what squeue asks) since the last reset. */
async function jobInfoRpcs(): Promise<number> {
  const text = await slurm(['sdiag']);
  return [...text.matchAll(/^\s*REQUEST_JOB_INFO\w*\s*\(\s*\d+\)\s*count:(\d+)/gm)].reduce(
    (s, m) => s + Number(m[1]),
    0,
  );
}

/** Every worker started, SIGKILLed if the benchmark dies half-way. */
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')));

interface BenchWorker {
  readonly child: ChildProcess;
  share: number;
}

/** A `cryoet worker`; its stderr passes through, and its share of the budget is read from its log. */
function spawnWorker(configFile: string): Promise<BenchWorker> {
  const child = spawn(join(repoRoot, 'bin/cryoet'), ['worker', '--config', configFile], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const worker: BenchWorker = { child, share: 1 };
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out.includes('task queue') ? undefined : (out += d.toString())));
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    for (const m of text.matchAll(/status-call budget shared by (\d+) worker/g)) worker.share = Number(m[1]);
    // The worker's own warnings pass through; its per-job INFO lines would drown them.
    const warnings = text.split('\n').filter((l) => l.trim() && !l.includes(' [INFO] '));
    if (warnings.length > 0) process.stderr.write(`${warnings.join('\n')}\n`);
  });
  return waitUntil('worker up', () => (out.includes('task queue') ? worker : undefined), 120_000);
}

const rssMb = (pid: number) =>
  Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
const start = (step: string, input: Omit<ClusterJobInput, 'step'>) =>
  env.client.workflow.start('clusterJob', {
    taskQueue,
    workflowId: `cryoet/scale/${uniqueId(step)}`,
    args: [{ step, ...input }],
  });

interface Run {
  workers: number;
  shared: boolean;
  callsPerMinute: number;
  rssMb: number[];
  detectionMs: { p50: number; p95: number; n: number };
}
const runs: Run[] = [];

for (const [workers, share] of [
  [1, true],
  [2, true],
  [4, true],
  [4, false],
] as const) {
  const procs = await Promise.all(Array.from({ length: workers }, () => spawnWorker(share ? shared : unshared)));
  const watched = await Promise.all(
    Array.from({ length: JOBS }, () =>
      start('wait', { placement: ladder(['gpu:a10g:4'], 3_600_000), command: ['sleep', '1'] }),
    ),
  );
  // A sampled query may time out while the workers replay evicted workflows: not yet, then.
  await waitUntil(
    `${JOBS} jobs watched`,
    async () => {
      const sample = await Promise.all(
        watched.filter((_, i) => i % 50 === 0).map((h) => h.query(jobRecordQuery).catch(() => undefined)),
      );
      return sample.every((r) => r?.events.some((e) => e.kind === 'observed')) ? true : undefined;
    },
    600_000,
    2000,
  );
  // Shared: every worker has counted all the others (one share tick after they all polled).
  if (share)
    await waitUntil(
      `every worker sharing by ${workers}`,
      () => (procs.every((p) => p.share === workers) ? true : undefined),
      300_000,
      1000,
    );
  await sleep(SETTLE_MS);
  const probes = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      start('probe', {
        placement: ladder(['gpu:t4:1'], 600_000),
        command: ['bash', '-c', `sleep ${5 + (i % 4)}; date +%s%3N`],
      }),
    ),
  );
  // The window opens once the probes are submitted: their submissions' own squeue lookups stay out of it.
  await waitUntil(
    'probes submitted',
    async () => {
      const records = await Promise.all(probes.map((h) => h.query(jobRecordQuery).catch(() => undefined)));
      return records.every((r) => r?.events.some((e) => e.kind === 'submitted')) ? true : undefined;
    },
    120_000,
    200,
  );
  await slurm(['sdiag', '-r']);
  await sleep(WINDOW_MS);
  const callsPerMinute = ((await jobInfoRpcs()) * 60_000) / WINDOW_MS;
  const rss = procs.map((p) => rssMb(p.child.pid!));
  const shares = procs.map((p) => p.share);
  const detection: number[] = [];
  for (const h of probes) {
    const result: ClusterJobResult = await h.result();
    const endedAt = Number(result.result.outputTail.trim().split('\n').at(-1));
    const seen = result.record.events.find((e) => e.kind === 'observed' && e.state === 'COMPLETED')!;
    detection.push(Date.parse(seen.at) - endedAt);
  }
  runs.push({
    workers,
    shared: share,
    callsPerMinute,
    rssMb: rss,
    detectionMs: { p50: percentile(detection, 50), p95: percentile(detection, 95), n: detection.length },
  });
  const budget = share ? 'shared budget' : 'each its own budget';
  console.log(
    `  ${workers} worker(s), ${budget}: ${callsPerMinute.toFixed(1)} status calls/min, RSS ${rss.join(' / ')} MB, ` +
      `detection p50 ${percentile(detection, 50)} ms`,
  );
  await Promise.all(watched.map((h) => h.cancel()));
  await Promise.all(watched.map((h) => h.result().catch(() => undefined)));
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.all(
    procs.map(({ child }) => new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)))),
  );
}

ssh.close();
await env.teardown();
mkdirSync(join(repoRoot, '.dev/bench'), { recursive: true });
writeFileSync(
  join(repoRoot, '.dev/bench/scale-out.json'),
  JSON.stringify({ date: new Date().toISOString(), jobs: JOBS, windowMs: WINDOW_MS, runs }, null, 2),
);
const one = runs[0]!.callsPerMinute;
const row = (r: Run) =>
  `  ${String(r.workers).padStart(7)}  ${(r.shared ? 'shared' : 'own').padEnd(7)}  ` +
  `${r.callsPerMinute.toFixed(1).padStart(9)}  ${(r.callsPerMinute / one).toFixed(2).padStart(9)}  ` +
  `${r.rssMb.join(' / ').padEnd(20)}  ${r.detectionMs.p50} / ${r.detectionMs.p95}`;
console.log(`
scale-out benchmark: ${JOBS} watched jobs, one task queue (status calls counted by slurmctld: sdiag)
  workers  budget   calls/min  ×1 worker  RSS per worker (MB)   detection p50 / p95 (ms)
${runs.map(row).join('\n')}
  written to .dev/bench/scale-out.json`);
