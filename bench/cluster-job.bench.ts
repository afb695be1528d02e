/**
 * `npm run bench`: the durable cluster job measured on the real dev cluster and a real
 * Temporal dev server, side by side in one run.
 *
 * - detection latency: a job's last instruction → the workflow's COMPLETED transition
 * - recovery latency: node set DOWN under a running job → the resubmitted job RUNNING
 * - scheduler status calls per minute watching 10 / 100 / 500 jobs (fixed 1 s floor)
 * - worker RSS with 500 watched jobs (a `cryoet worker` process): idle, peak while they
 *   start, steady state; compiled lib/ and tsx side by side
 *
 * Writes .dev/bench/cluster-job.json and prints a table. Not a test: nothing asserts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime, DefaultLogger, Worker } from '@temporalio/worker';
import { CryoEtPlugin } from '../src/plugin.js';
import { loadConfig } from '../src/config.js';
import { SlurmWatcher } from '../src/scheduler/watcher.js';
import { createStatusQuery } from '../src/activities/status-query.js';
import { jobRecordQuery } from '../src/workflows/job-record.js';
import type { ClusterJobInput, ClusterJobResult } from '../src/workflows/cluster-job.js';
import { shellJoin } from '../src/shell/quote.js';
import { freePort, repoRoot, startTemporal, uniqueId, waitUntil, writeTestConfig } from '../test/helpers/env.js';
import { ladder } from '../test/helpers/worker.js';

Runtime.install({ logger: new DefaultLogger('WARN') });

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const port = await freePort();
const env = await startTemporal(port);
const taskQueue = uniqueId('bench');
// The project's own polling settings (temporal.yaml), not the tests' faster ones.
const configFile = writeTestConfig(port, taskQueue, '30s', false);
const config = await loadConfig(configFile);
const plugin = new CryoEtPlugin({ config, log: () => {} });
const slurm = async (argv: string[]) =>
  (await plugin.resources.pool.get('dev').exec(shellJoin(argv), { timeoutMs: 60_000 })).stdout;
const start = (step: string, input: Omit<ClusterJobInput, 'step'>) =>
  env.client.workflow.start('clusterJob', {
    taskQueue,
    workflowId: `cryoet/bench/${uniqueId(step)}`,
    args: [{ step, ...input }],
  });
const report: Record<string, unknown> = { pollInterval: config.polling, date: new Date().toISOString() };

// 1 + 2: in-process worker, idle cluster.
const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, plugins: [plugin] });
await worker.runUntil(async () => {
  const handles = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      start('detect', {
        placement: ladder(['gpu:t4:1'], 600_000),
        command: ['bash', '-c', `sleep ${2 + (i % 5) * 0.7}; date +%s%3N`],
      }),
    ),
  );
  const detection: number[] = [];
  for (const h of handles) {
    const result: ClusterJobResult = await h.result();
    const endedAt = Number(result.result.outputTail.trim().split('\n').at(-1));
    const seen = result.record.events.find((e) => e.kind === 'observed' && e.state === 'COMPLETED')!;
    detection.push(Date.parse(seen.at) - endedAt);
  }
  report.detectionMs = {
    n: detection.length,
    p50: percentile(detection, 50),
    p95: percentile(detection, 95),
    max: Math.max(...detection),
  };

  const recovery: number[] = [];
  for (let trial = 0; trial < 3; trial++) {
    const h = await start('recover', {
      placement: ladder(['gpu:t4:1'], 600_000),
      command: ['sleep', '120'],
      resume: { command: ['sleep', '1'] },
    });
    const node = await waitUntil(
      'running',
      async () => (await h.query(jobRecordQuery)).events.find((e) => e.state === 'RUNNING')?.node,
      60_000,
      100,
    );
    const downAt = Date.now();
    await slurm(['scontrol', 'update', `NodeName=${node}`, 'State=DOWN', 'Reason=spot-reclaim']);
    try {
      const runningAgain = await waitUntil(
        'running again',
        async () => {
          const events = (await h.query(jobRecordQuery)).events;
          const resubmitted = events.findIndex((e) => e.kind === 'resubmitted');
          return resubmitted >= 0 ? events.slice(resubmitted).find((e) => e.state === 'RUNNING') : undefined;
        },
        90_000,
        100,
      );
      recovery.push(Date.parse(runningAgain.at) - downAt);
      await h.result();
    } finally {
      await slurm(['scontrol', 'update', `NodeName=${node}`, 'State=RESUME']);
    }
  }
  report.recoveryMs = {
    n: recovery.length,
    p50: percentile(recovery, 50),
    max: Math.max(...recovery),
    samples: recovery,
  };
});

// 3: status calls per minute for 10 / 100 / 500 watched jobs (real squeue over SSH).
const jobName = `cryoet.bench.${uniqueId('held').replaceAll('-', '_')}`;
await slurm([
  'bash',
  '-c',
  `for i in $(seq 500); do sbatch --parsable --hold -p gpu --job-name ${jobName} --wrap true; done >/dev/null`,
]);
const heldIds = (await slurm(['squeue', '-h', '--name', jobName, '-o', '%i'])).trim().split('\n');
const calls: Record<string, { callsPerMinute: number; meanCallMs: number }> = {};
for (const n of [10, 100, 500]) {
  let busyMs = 0;
  const query = createStatusQuery(() => plugin.resources.pool.get('dev'), plugin.resources.cluster('dev'));
  const watcher = new SlurmWatcher({
    query: async (ids) => {
      const t = Date.now();
      try {
        return await query(ids);
      } finally {
        busyMs += Date.now() - t;
      }
    },
    minIntervalMs: 1000,
    maxIntervalMs: 1000,
    maxCallsPerMinute: 60,
  });
  for (const id of heldIds.slice(0, n)) watcher.register(id);
  const windowMs = 20_000;
  await sleep(windowMs);
  watcher.close();
  calls[String(n)] = {
    callsPerMinute: (watcher.stats.calls * 60_000) / windowMs,
    meanCallMs: busyMs / Math.max(1, watcher.stats.calls),
  };
}
await slurm(['scancel', '--name', jobName]);
report.statusCalls = { ...calls, ratio500to10: calls['500']!.callsPerMinute / calls['10']!.callsPerMinute };

// 4: RSS of a `cryoet worker` process watching 500 jobs (8 run, 492 queue for GPUs): idle,
// the peak while 500 workflows start at once, and the steady state once the burst is over
// (sampled every 15 s for 90 s; the last sample). The compiled lib/ (what `cryoet` runs) and
// the TypeScript through tsx (CRYOET_TSX=1) side by side.
interface Rss {
  idle: number;
  peak: number;
  steady: number;
  samples: number[];
}
async function workerRss(extraEnv: Record<string, string>): Promise<Rss> {
  const child = spawn(join(repoRoot, 'bin/cryoet'), ['worker', '--config', configFile], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...extraEnv },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const status = () => readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status())![1]) / 1024;
  await waitUntil('worker', () => (out.includes('task queue') ? true : undefined), 120_000);
  await sleep(5_000);
  const idle = mb('VmRSS');
  const many = await Promise.all(
    Array.from({ length: 500 }, () =>
      start('rss', { placement: ladder(['gpu:t4:1'], 3_600_000), command: ['sleep', '600'] }),
    ),
  );
  await waitUntil(
    '500 jobs watched',
    async () => {
      // A query that times out while the worker starts the 500 is asked again, not an error.
      const sampled = many.filter((_, i) => i % 50 === 0);
      const sample = await Promise.all(sampled.map((h) => h.query(jobRecordQuery).catch(() => undefined)));
      return sample.every((r) => r?.events.some((e) => e.kind === 'observed')) ? true : undefined;
    },
    300_000,
    2000,
  );
  const samples: number[] = [];
  for (let i = 0; i < 6; i += 1) {
    await sleep(15_000);
    samples.push(Math.round(mb('VmRSS')));
  }
  const peak = mb('VmHWM');
  await Promise.all(many.map((h) => h.cancel()));
  await Promise.all(many.map((h) => h.result().catch(() => undefined)));
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  return { idle: Math.round(idle), peak: Math.round(peak), steady: samples.at(-1)!, samples };
}
const rssLib = await workerRss({});
const rssTsx = await workerRss({ CRYOET_TSX: '1' });
report.workerRssMb = { lib: rssLib, tsx: rssTsx, libToTsx: rssLib.steady / rssTsx.steady };

plugin.resources.close();
await env.teardown();

mkdirSync(join(repoRoot, '.dev/bench'), { recursive: true });
writeFileSync(join(repoRoot, '.dev/bench/cluster-job.json'), JSON.stringify(report, null, 2));
const d = report.detectionMs as { n: number; p50: number; p95: number };
const r = report.recoveryMs as { p50: number; max: number };
const [c10, c100, c500] = [calls['10']!, calls['100']!, calls['500']!];
const ratio500to10 = (report.statusCalls as { ratio500to10: number }).ratio500to10.toFixed(2);
const statusCalls =
  `10 jobs ${c10.callsPerMinute.toFixed(1)}   100 jobs ${c100.callsPerMinute.toFixed(1)}   ` +
  `500 jobs ${c500.callsPerMinute.toFixed(1)}   (500:10 ratio ${ratio500to10})`;
const meanCall =
  `10 jobs ${c10.meanCallMs.toFixed(0)} ms   100 jobs ${c100.meanCallMs.toFixed(0)} ms   ` +
  `500 jobs ${c500.meanCallMs.toFixed(0)} ms`;
const rssLibLine =
  `idle ${rssLib.idle} MB   watching 500 jobs: steady ${rssLib.steady} MB, peak ${rssLib.peak} MB while they start   ` +
  '(cryoet from lib/; target < 300 MB)';
const rssTsxLine =
  `idle ${rssTsx.idle} MB   watching 500 jobs: steady ${rssTsx.steady} MB, peak ${rssTsx.peak} MB   ` +
  `(CRYOET_TSX=1; lib:tsx ×${(rssLib.steady / rssTsx.steady).toFixed(2)})`;
const rssSamples = `lib ${rssLib.samples.join(' ')}; tsx ${rssTsx.samples.join(' ')}`;
console.log(`
cluster job benchmark (poll interval ${config.polling.interval} ms, max ${config.polling.maxInterval} ms)
  detection latency   p50 ${d.p50} ms   p95 ${d.p95} ms   (n=${d.n}; target p50 ≤ poll interval + 1 s)
  recovery latency    p50 ${r.p50} ms   max ${r.max} ms   (node DOWN → resubmitted job RUNNING)
  status calls/min    ${statusCalls}
  mean squeue call    ${meanCall}
  worker RSS          ${rssLibLine}
                      ${rssTsxLine}
                      samples every 15 s after all 500 were watched: ${rssSamples}
  written to .dev/bench/cluster-job.json`);
