/**
 * Against a production-shaped Temporal: the server built from go.temporal.io/server
 * (scripts/build-temporal-server.sh) on PostgreSQL with SQL visibility (scripts/temporal-pg.ts),
 * its namespace made over the API and without our search attributes, as on a cluster set up
 * by hand. Two `cryoet` worker processes on one task queue, the second dev cluster (dev2),
 * the fast synthetic dataset.
 *
 * - `cryoet worker` refuses the bare namespace naming `cryoet setup`; setup registers all
 *   eleven attributes through the operator API, and adds none the second time.
 * - One campaign through three faults, each once: PostgreSQL restarted (pg_ctl restart -m
 *   fast) while tilt series reconstruct; the worker running the refine's watch SIGKILLed
 *   mid-refine and never started again (the other worker carries on); the Temporal server
 *   SIGKILLed mid-refine and started again on its database. It completes; from Slurm's own
 *   records each job name has exactly one job id; no completed step ran again.
 * - Through SQL visibility, `cryoet list` and every saved view in README (and the same views
 *   with their thresholds at 0, so that they match something) return exactly the workflows
 *   whose search attributes, read one by one, satisfy them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { campaignInput, type CampaignInput } from '../../src/campaign/input.js';
import { startCampaign } from '../../src/client.js';
import type { CryoConfig } from '../../src/config.js';
import { cryoSearchAttributes } from '../../src/search-attributes.js';
import type { RunRecord } from '../../src/model/campaign-status.js';
import {
  chaosWorkers,
  checkCampaign,
  dev2Cluster,
  ensureDev2,
  fastCampaignSpec,
  makeFastDataset,
  refineOnDisk,
  resetDev2,
  resultThroughOutages,
  slurm2,
  SlurmLedger,
  startChaosEnv,
  WorkerSupervisor,
  type ChaosEnv,
} from '../helpers/chaos.js';
import { repoRoot, uniqueId } from '../helpers/env.js';
import { PgTemporalServer } from '../helpers/temporal-pg.js';

const TILT_SERIES = ['TS_01', 'TS_03', 'TS_43', 'TS_45', 'TS_54'];
/** Bound on the campaign (about 3 min on an idle machine with the dev server). */
const CAMPAIGN_LIMIT_MS = 15 * 60_000;
const ALL = cryoSearchAttributes.map((k) => k.name);

function cryoet(...args: string[]) {
  const r = spawnSync('node', [join(repoRoot, 'bin', 'cryoet.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The saved views of README's Operations section: [view, query]. */
function readmeViews(): [string, string][] {
  const text = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const table = text.slice(text.indexOf('Saved views worth keeping'), text.indexOf('Queries and updates'));
  return [...table.matchAll(/^\| ([^|]+?) \| `([^`]+)`/gm)].map((m) => [m[1]!, m[2]!]);
}

/** One workflow's fields a view may name: WorkflowType, WorkflowId, ExecutionStatus and our attributes. */
function fieldsOf(d: WorkflowExecutionDescription): Record<string, string | number | undefined> {
  const fields: Record<string, string | number | undefined> = {
    WorkflowType: d.type,
    WorkflowId: d.workflowId,
    ExecutionStatus: d.status.name,
  };
  for (const pair of d.typedSearchAttributes.getAll()) fields[pair.key.name] = pair.value as string | number;
  return fields;
}

/** Evaluates `A = "x" AND B > 5` on a workflow's fields, as SQL visibility should. */
function matches(query: string, fields: Record<string, string | number | undefined>): boolean {
  return query.split(/\s+AND\s+/).every((clause) => {
    const m = /^\s*(\w+)\s*(=|!=|>=|<=|>|<)\s*(?:"([^"]*)"|'([^']*)'|(-?[\d.]+))\s*$/.exec(clause);
    if (!m) throw new Error(`cannot evaluate ${clause}`);
    const have = fields[m[1]!];
    if (have === undefined) return false;
    const want: string | number = m[5] !== undefined ? Number(m[5]) : (m[3] ?? m[4])!;
    switch (m[2]) {
      case '=':
        return have === want;
      case '!=':
        return have !== want;
      case '>':
        return have > want;
      case '<':
        return have < want;
      case '>=':
        return have >= want;
      default:
        return have <= want;
    }
  });
}

// dev2 is ours while this file runs, as for the chaos suites.
before(() => {
  ensureDev2();
});
after(() => {
  dev2Cluster('stop');
});

describe('production Temporal: PostgreSQL persistence, SQL visibility, two workers', () => {
  let server: PgTemporalServer;
  let env: ChaosEnv<PgTemporalServer>;
  let config: CryoConfig;
  let configFile: string;
  let input: CampaignInput;
  let workers: WorkerSupervisor[] = [];
  const ledger = new SlurmLedger();
  const faults: string[] = [];
  let refused: ReturnType<typeof cryoet>;
  let setups: ReturnType<typeof cryoet>[] = [];
  let record: RunRecord | undefined;
  let failure: unknown;
  let watcherKilled: string | undefined;
  let t0 = 0;

  before(
    async () => {
      makeFastDataset();
      await resetDev2();
      const runDir = join(repoRoot, '.dev', 'chaos', uniqueId('pg'));
      server = await PgTemporalServer.create(join(runDir, 'temporal-pg'));
      env = await startChaosEnv(runDir, server);
      let supervisor: WorkerSupervisor;
      ({ config, configFile, supervisor } = await chaosWorkers(env, 'pg', []));
      workers = [supervisor, new WorkerSupervisor(configFile, [])];

      refused = cryoet('worker', '--config', configFile);
      setups = [cryoet('setup', '--config', configFile), cryoet('setup', '--config', configFile)];

      input = campaignInput(config, fastCampaignSpec(), uniqueId('chaos-pg'));
      const handle = env.client.workflow.getHandle(input.id);
      ledger.start(1000);
      for (const w of workers) w.start();
      t0 = Date.now();
      await startCampaign(env.client, config, input);
      let settled = false;
      const outcome = resultThroughOutages(handle, CAMPAIGN_LIMIT_MS)
        .then(
          (r) => (record = r),
          (err: unknown) => (failure = err),
        )
        .finally(() => (settled = true));
      const until = async (what: string, check: () => Promise<boolean> | boolean, limitMs = 8 * 60_000) => {
        const deadline = Date.now() + limitMs;
        while (!(await check())) {
          if (settled)
            throw new Error(`the campaign ended (${failure ? String(failure) : 'completed'}) before ${what}`);
          if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
          await sleep(200);
        }
      };
      const jobs = async (step: string, state: string) =>
        (await slurm2(['squeue', '-h', '-o', '%j|%T']).catch(() => ''))
          .split('\n')
          .filter((l) => l.startsWith(`cryoet.${input.id}.`) && l.includes(`.${step}.`) && l.endsWith(`|${state}`));
      const iteration = () => refineOnDisk(input.layout.dir).newestComplete ?? -1;
      const note = (kind: string) => faults.push(`${Math.round((Date.now() - t0) / 1000)} s ${kind}`);

      try {
        await until('a reconstruct job running', async () => (await jobs('reconstruct', 'RUNNING')).length > 0);
        server.pg.restartPostgres();
        note('PostgreSQL restarted (fast: every connection cut)');

        await until(
          'the refine running at iteration 1',
          async () => iteration() >= 1 && (await jobs('refine', 'RUNNING')).length > 0,
        );
        // The worker whose watchJob activity holds the refine: its identity is <pid>@<host>.
        const refine = await env.client.workflow.getHandle(`${input.id}/refine`).describe();
        const identity =
          refine.raw.pendingActivities?.find((a) => a.activityType?.name === 'watchJob')?.lastWorkerIdentity ?? '';
        const holder = workers.find((w) => w.pid !== undefined && identity.startsWith(`${w.pid}@`));
        assert.ok(holder, `no worker of ours holds the refine's watch (identity "${identity}")`);
        watcherKilled = identity;
        await holder.killForGood();
        note(`worker ${identity} (the refine's watch) SIGKILLed for good at iteration ${iteration()}`);

        await until('the refine at iteration 2', () => iteration() >= 2);
        await server.kill9();
        await sleep(3000);
        await server.start();
        note(`Temporal server SIGKILLed at iteration ${iteration()} and started again`);
      } catch (err) {
        await handle.terminate(`production test: ${String(err)}`).catch(() => undefined);
        await outcome;
        throw err;
      }
      await outcome;
      await ledger.poll();
    },
    { timeout: CAMPAIGN_LIMIT_MS + 5 * 60_000 },
  );

  after(async () => {
    await ledger.stop().catch(() => undefined);
    for (const w of workers) await w.stop();
    const verdict = record ? 'completed' : `failed: ${String(failure)}`;
    console.log(`production campaign ${input?.id}: ${verdict} in ${Math.round((Date.now() - t0) / 1000)} s`);
    for (const f of faults) console.log(`  ${f}`);
    await env?.close();
    await server?.destroy();
    for (const w of workers) w.assertNoFailedWorkflowTasks();
  });

  test('cryoet setup registers our search attributes on the bare namespace; the worker refused before', () => {
    assert.equal(refused.code, 2, refused.err);
    assert.match(
      refused.err,
      new RegExp(`lacks the search attributes cryoet workflows set: ${ALL.join(', ')}\\. Run: cryoet setup -c `),
    );
    assert.equal(setups[0]!.code, 0, setups[0]!.err);
    assert.match(setups[0]!.out, new RegExp(`added ${ALL.join(', ')}; already there: none`));
    assert.equal(setups[1]!.code, 0, setups[1]!.err);
    assert.match(setups[1]!.out, new RegExp(`added none; already there: ${ALL.join(', ')}`));
  });

  test('the campaign completed through a PostgreSQL restart, a worker lost for good and a server SIGKILL', () => {
    assert.equal(failure, undefined, String(failure));
    assert.ok(record);
    assert.equal(faults.length, 3, faults.join('\n'));
    assert.equal(server.starts, 2, 'the Temporal server was SIGKILLed and started once');
    assert.ok(watcherKilled);
    const ends = workers.map((w) => w.lives.map((l) => l.end ?? 'running').join(' '));
    assert.equal(ends.filter((e) => e.endsWith('killed')).length, 1, `worker lives: ${ends.join(' / ')}`);
  });

  test("Slurm's records: each job name has exactly one job id; no completed step ran again", () => {
    const jobs = ledger.of(input.id);
    const check = checkCampaign(record!, jobs);
    assert.deepEqual(check.duplicates, []);
    assert.deepEqual(check.rerunSteps, []);
    const names = jobs.map((j) => j.name.slice(`cryoet.${input.id}.`.length)).sort();
    assert.deepEqual(
      names,
      [
        'extract.extract-1',
        'postprocess.postprocess-1',
        'probe.probe-1',
        ...TILT_SERIES.map((ts) => `${ts}.reconstruct.reconstruct-1`),
        'refine.refine-1',
      ].sort(),
    );
    for (const j of jobs) assert.equal(j.lastState, 'COMPLETED', j.name);
    assert.deepEqual(check.checksumMismatches, []);
    assert.equal(check.recordMismatch, false);
  });

  test('cryoet list and every saved view in README return the right workflows through SQL visibility', async () => {
    const list = cryoet('list', '--json', '--config', configFile);
    assert.equal(list.code, 0, list.err);
    const rows = JSON.parse(list.out) as { id: string; status: string }[];
    assert.deepEqual(
      rows.map((r) => [r.id, r.status]),
      [[input.id, 'COMPLETED']],
    );

    const all: WorkflowExecutionDescription[] = [];
    for await (const w of env.client.workflow.list({ query: '' }))
      all.push(await env.client.workflow.getHandle(w.workflowId, w.runId).describe());
    assert.ok(all.length >= 1 + TILT_SERIES.length * 2, `${all.length} workflows`);
    const views = readmeViews();
    assert.ok(views.length >= 8, `README's saved views: ${views.length}`);
    const queries = views.map(([, q]) => q.replace(/CryoCampaign = "[^"]+"/, `CryoCampaign = "${input.id}"`));
    for (const q of [...queries, ...queries.filter((q) => / > \d/.test(q)).map((q) => q.replace(/ > \d+/g, ' > 0'))]) {
      const found: string[] = [];
      for await (const w of env.client.workflow.list({ query: q })) found.push(w.workflowId);
      const expected = all.filter((d) => matches(q, fieldsOf(d))).map((d) => d.workflowId);
      assert.deepEqual(found.sort(), expected.sort(), q);
    }
    const one = queries.find((q) => q.startsWith('CryoCampaign'))!;
    assert.equal(
      all.filter((d) => matches(one, fieldsOf(d))).length,
      all.length,
      'every workflow here is the campaign or its child',
    );
  });
});
