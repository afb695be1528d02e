/**
 * `cryoet orphans` against the real stack: a real clusterJob holding a job (owned), and a
 * job sbatch'ed by hand under the name of a workflow that does not exist (orphan). The
 * command lists only the orphan, and --cancel removes it from the queue while the owned job
 * keeps running. Every call passes --prefix with this test's unique workflow-id prefix:
 * other test files share the dev cluster, and their jobs must never be judged or cancelled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { jobNameFor } from '../../src/slurm/job-key.js';
import { parseSbatchParsable } from '../../src/slurm/parse-sbatch.js';
import { shellJoin } from '../../src/shell/quote.js';
import { repoRoot, uniqueId, waitUntil, writeTestConfig } from '../helpers/env.js';
import { ladder, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** tsx's loader as a URL, as in cli.test.ts. */
const TSX = import.meta.resolve('tsx');

/** One orphan or owned job in `cryoet orphans --json`. */
interface JsonJob {
  cluster: string;
  jobId: string;
  state: string;
  workflowId: string;
  key: string;
  why: string;
}

describe('cryoet orphans on the dev cluster', { timeout: 360_000 }, () => {
  let h: WorkerHarness;
  let configFile: string;
  let owned: WorkflowHandle | undefined;
  let orphanJobId: string | undefined;
  // Trailing '/': only this test's workflow ids, never one that merely starts the same way.
  const prefix = `cryoet-test/${uniqueId('orphans')}/`;
  const ownedId = `${prefix}owned`;
  const ownedJobName = jobNameFor(`${ownedId}/sleep-1`); // the workflow's key: <id>/<step>-<attempt>
  const goneKey = `${prefix}gone/step-1`;

  /** Runs `cryoet <args> --config <test config>` as an operator does (child process). */
  function cryoet(...args: string[]): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', TSX, join(repoRoot, 'src', 'cli.ts'), ...args, '--config', configFile],
        { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
      );
    });
  }

  /** `squeue -t all` state of one job ('' once Slurm has forgotten it); never throws on an unknown id. */
  async function stateOf(jobId: string): Promise<string> {
    const r = await h.plugin.resources.pool
      .get('dev')
      .exec(shellJoin(['squeue', '-h', '-t', 'all', '-j', jobId, '-o', '%T']), { timeoutMs: 15_000 });
    return r.exitCode === 0 ? r.stdout.trim() : '';
  }

  /** Ids of this user's unfinished jobs named `name`. */
  async function queued(name: string): Promise<string[]> {
    return (await h.slurm(['squeue', '-h', '--name', name, '-o', '%i'])).split('\n').filter(Boolean);
  }

  before(async () => {
    h = await startWorkerHarness();
    const port = Number(h.env.address.split(':').pop());
    configFile = writeTestConfig(port, h.taskQueue);
  });

  after(async () => {
    // Only what this test created: its workflow (which scancels its own job) and its hand-made job.
    if (owned) {
      await owned.cancel().catch(() => {});
      await owned.result().catch(() => {});
    }
    if (orphanJobId) await h.slurm(['scancel', '-u', 'root', orphanJobId]).catch(() => {});
    if (h) {
      for (const id of await queued(ownedJobName).catch(() => []))
        await h.slurm(['scancel', '-u', 'root', id]).catch(() => {});
      await h.stop();
    }
  });

  test('lists only the job whose workflow does not exist; --cancel removes it and leaves the owned job', async () => {
    // (a) a real clusterJob holding a job; wait-on-exhaustion so a busy cluster cannot fail it.
    owned = await h.env.client.workflow.start('clusterJob', {
      taskQueue: h.taskQueue,
      workflowId: ownedId,
      args: [{ step: 'sleep', placement: ladder(['gpu:1'], 600_000, 'wait'), command: ['sleep', '120'] }],
    });
    const [ownedJobId] = await waitUntil(
      'the clusterJob’s job in the queue',
      async () => {
        const ids = await queued(ownedJobName);
        return ids.length > 0 ? ids : undefined;
      },
      30_000,
      300,
    ).catch(async (err: Error) => {
      // Say what the workflow was doing: a submit still retrying, a failed workflow task, ...
      const d = await owned!.describe();
      const pending =
        d.raw.pendingActivities?.map(
          (a) => `${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure'}`,
        ) ?? [];
      throw new Error(
        `${err.message}; workflow ${d.status.name}, history length ${d.historyLength}, ` +
          `pending activities: ${pending.join('; ') || 'none'}`,
      );
    });

    // (b) a job named for a workflow that never existed, as a crashed campaign leaves behind.
    orphanJobId = parseSbatchParsable(
      await h.slurm([
        'sbatch',
        '--parsable',
        '--partition',
        'gpu',
        '--job-name',
        jobNameFor(goneKey),
        '--comment',
        `cryoet ${goneKey}`,
        '--output',
        '/dev/null',
        '--wrap',
        'sleep 120',
      ]),
    ).jobId;

    // (c) listed: the orphan only.
    const table = await cryoet('orphans', '--prefix', prefix);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      new RegExp(
        `^2 job\\(s\\) named cryoet\\.\\* on cluster dev with workflow ids under "${prefix}": ` +
          '1 owned by an open workflow, 1 orphan\\(s\\)\\n',
      ),
    );
    assert.match(table.stdout, /CLUSTER\s+JOB\s+STATE\s+SUBMITTED\s+WORKFLOW\s+WHY/);
    assert.match(
      table.stdout,
      new RegExp(`\\ndev\\s+${orphanJobId}\\s+[A-Z]+\\s+\\S+\\s+${prefix}gone\\s+no such workflow\\n`),
    );
    assert.doesNotMatch(table.stdout, new RegExp(`\\s${ownedJobId}\\s`));
    assert.match(table.stdout, /--cancel\n$/);

    const json = await cryoet('orphans', '--prefix', prefix, '--json');
    assert.equal(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout) as {
      clusters: string[];
      prefix: string;
      orphans: JsonJob[];
      owned: JsonJob[];
      errors: unknown[];
      cancelled?: unknown;
    };
    assert.deepEqual(listed.clusters, ['dev']);
    assert.equal(listed.prefix, prefix);
    assert.deepEqual(
      listed.orphans.map((j) => [j.cluster, j.jobId, j.workflowId, j.key, j.why]),
      [['dev', orphanJobId, `${prefix}gone`, goneKey, 'no such workflow']],
    );
    assert.deepEqual(
      listed.owned.map((j) => [j.jobId, j.workflowId, j.why]),
      [[ownedJobId, ownedId, 'workflow RUNNING']],
    );
    assert.deepEqual(listed.errors, []);
    assert.equal(listed.cancelled, undefined);

    // (d) one scancel: the orphan leaves the queue as CANCELLED; the owned job and its workflow carry on.
    const cancel = await cryoet('orphans', '--prefix', prefix, '--cancel');
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, new RegExp(`\\ncancelled 1 orphan job\\(s\\) on cluster dev: ${orphanJobId}\\n`));
    const state = await waitUntil(
      'the orphan cancelled',
      async () => {
        const s = await stateOf(orphanJobId!);
        return s === 'CANCELLED' || s === '' ? s || 'forgotten' : undefined;
      },
      15_000,
      300,
    );
    assert.ok(state === 'CANCELLED' || state === 'forgotten', state);
    assert.deepEqual(await queued(ownedJobName), [ownedJobId]);
    assert.equal((await owned.describe()).status.name, 'RUNNING');

    const again = await cryoet('orphans', '--prefix', prefix, '--cancel', '--json');
    assert.equal(again.code, 0, again.stderr);
    const second = JSON.parse(again.stdout) as { orphans: JsonJob[]; owned: JsonJob[]; cancelled: unknown[] };
    assert.deepEqual(second.orphans, []);
    assert.deepEqual(second.cancelled, []);
    assert.deepEqual(
      second.owned.map((j) => j.jobId),
      [ownedJobId],
    );

    // Clean up (a): cancelling the workflow scancels its job.
    await owned.cancel();
    await assert.rejects(owned.result(), WorkflowFailedError);
    owned = undefined;
    await waitUntil(
      'the owned job gone after its workflow was cancelled',
      async () => ((await queued(ownedJobName)).length === 0 ? true : undefined),
      15_000,
      300,
    );
  });

  test('usage errors are exit 2 and touch nothing', async () => {
    const badPrefix = await cryoet('orphans', '--prefix', 'has space/');
    assert.equal(badPrefix.code, 2, badPrefix.stderr);
    assert.match(badPrefix.stderr, /--prefix "has space\/": expected the start of a workflow id/);
    const badCluster = await cryoet('orphans', '--cluster', 'nope', '--prefix', prefix);
    assert.equal(badCluster.code, 2, badCluster.stderr);
    assert.match(badCluster.stderr, /--cluster "nope": not in temporal\.yaml \(clusters: dev\)/);
    const help = await cryoet('orphans', '--help');
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: cryoet orphans .*\n[\s\S]*--prefix <workflow-id-prefix>[\s\S]*--cancel/);
  });
});
