/**
 * Chaos against the real stack, part 3: the campaign's output folder on the cluster cannot
 * be written, or fills up while results are written. Real Temporal dev server, the worker
 * as its own process, the second dev cluster `dev2`, the fast synthetic dataset.
 *
 * Root ignores permission bits, so "unwritable" is made the ways that stop root too: a path
 * part that is a regular file, an immutable folder (`chattr +i`), a read-only mount. Each
 * campaign must fail at once (its first check, before anything is staged or submitted) with
 * an error naming the folder. "Full" is a 1 MiB tmpfs: the tomograms (3 MiB each) do not
 * fit; the campaign must fail naming each tomogram's path and "No space left on device",
 * with nothing half-written reported as done (no tomogram in its status, no run record,
 * no partial file left). Cases this machine cannot set up (no mount, no chattr) are
 * skipped, saying why.
 *
 * Also here (they need the same short set-up, not a campaign), two things the soak found:
 * a refine whose node is lost before its first iteration completes starts over (RELION 3.1
 * cannot `--continue` from iteration 0); and a job whose black-hole exclusions leave no node
 * that can take work (the others down) is submitted without them instead of pending forever.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { campaignInput } from '../../src/campaign/input.js';
import { startCampaign } from '../../src/client.js';
import type { CryoConfig } from '../../src/config.js';
import type { CampaignStatus } from '../../src/model/campaign-status.js';
import { campaignStatusQuery } from '../../src/workflows/operations.js';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import {
  chaosWorkers,
  DEV2,
  dev2Cluster,
  ensureDev2,
  fastCampaignSpec,
  resetDev2,
  innermostMessage,
  makeFastDataset,
  slurm2,
  SlurmLedger,
  startChaosEnv,
  type ChaosEnv,
  type WorkerSupervisor,
} from '../helpers/chaos.js';
import { repoRoot, uniqueId, waitUntil } from '../helpers/env.js';

const TILT_SERIES = ['TS_01', 'TS_03', 'TS_43', 'TS_45', 'TS_54'];

// dev2 is this file's (and failover.test.ts's) alone: up for it, down after it, as npm test expects.
before(() => {
  ensureDev2();
});
after(() => {
  dev2Cluster('stop');
});

/** What a command printed on stderr, for a skip message. */
const stderrOf = (err: unknown) => String((err as { stderr?: Buffer }).stderr ?? err).trim();

describe('chaos: the output folder on the cluster unwritable or full (dev2)', () => {
  const base = join(DEV2.dir, 'work', uniqueId('unwritable'));
  let env: ChaosEnv;
  let config: CryoConfig;
  let supervisor: WorkerSupervisor;
  const mounts: string[] = [];
  const immutable: string[] = [];
  const ledger = new SlurmLedger();

  before(async () => {
    makeFastDataset();
    await resetDev2();
    mkdirSync(base, { recursive: true });
    env = await startChaosEnv(join(repoRoot, '.dev', 'chaos', uniqueId('output')));
    ({ config, supervisor } = await chaosWorkers(env, 'output', []));
    supervisor.start();
    ledger.start(1000);
  });

  after(async () => {
    await ledger.stop().catch(() => undefined);
    await supervisor?.stop();
    for (const dir of mounts) {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        // already gone
      }
    }
    for (const dir of immutable) {
      try {
        execFileSync('chattr', ['-i', dir], { stdio: 'pipe' });
      } catch {
        // already gone
      }
    }
    await env?.close();
    rmSync(base, { recursive: true, force: true });
    supervisor?.assertNoFailedWorkflowTasks();
  });

  /** Runs a campaign whose paths.work is `work`; how it ended. */
  const runUnder = async (work: string) => {
    const input = campaignInput({ ...config, paths: { ...config.paths, work } }, fastCampaignSpec(), uniqueId('out'));
    const handle = await startCampaign(env.client, config, input);
    const started = Date.now();
    const error = await handle.result().then(
      () => undefined,
      (err: unknown) => err,
    );
    return { input, handle, error, ms: Date.now() - started };
  };

  /** A folder made unwritable one way, the error expected, or why this machine cannot make it. */
  const unwritable: Record<string, () => { work: string; error: RegExp } | { skip: string }> = {
    'a path part is a regular file': () => {
      writeFileSync(join(base, 'not-a-folder'), 'a file where a folder should be\n');
      return {
        work: join(base, 'not-a-folder', 'campaigns'),
        error: /output folder \S*\/not-a-folder\/campaigns\/\S+ cannot be created: .*Not a directory/,
      };
    },
    'an immutable folder (chattr +i)': () => {
      const dir = join(base, 'immutable');
      mkdirSync(dir);
      try {
        execFileSync('chattr', ['+i', dir], { stdio: 'pipe' });
      } catch (err) {
        return { skip: `chattr +i is not possible here: ${stderrOf(err)}` };
      }
      immutable.push(dir);
      return { work: dir, error: /output folder \S*\/immutable\/\S+ cannot be created: .*Operation not permitted/ };
    },
    'a read-only mount': () => {
      const dir = join(base, 'read-only');
      mkdirSync(dir);
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir], { stdio: 'pipe' });
      } catch (err) {
        return { skip: `mount is not possible here: ${stderrOf(err)}` };
      }
      mounts.push(dir);
      return { work: dir, error: /output folder \S*\/read-only\/\S+ cannot be created: .*Read-only file system/ };
    },
  };

  for (const [name, make] of Object.entries(unwritable)) {
    test(
      `unwritable, ${name}: the campaign fails at once naming the folder; ` + 'nothing staged or submitted',
      async (t) => {
        const made = make();
        if ('skip' in made) {
          t.skip(made.skip);
          return;
        }
        const { input, error, ms } = await runUnder(made.work);
        assert.ok(error instanceof WorkflowFailedError, `expected the campaign to fail, got ${String(error)}`);
        t.diagnostic(`failed after ${ms} ms: ${innermostMessage(error)}`);
        assert.match(innermostMessage(error), made.error);
        assert.equal(
          (error.cause as { type?: string } | undefined)?.type ??
            (error.cause?.cause as { type?: string } | undefined)?.type,
          'OutputUnwritable',
        );
        assert.ok(ms < 60_000, `failed after ${ms} ms: a permanent condition must not be retried for minutes`);
        await ledger.poll();
        assert.deepEqual(
          ledger.of(input.id).map((j) => j.name),
          [],
          'no job submitted',
        );
      },
    );
  }

  test(
    'a refine whose node is lost before its first iteration ' +
      'completes starts over (RELION cannot --continue from iteration 0)',
    async () => {
      const dir = join(base, 'refine-it000');
      const parts = [
        'optimiser.star',
        'data.star',
        'sampling.star',
        'half1_model.star',
        'half2_model.star',
        'half1_class001.mrc',
        'half2_class001.mrc',
      ];
      const files = [...parts.map((p) => `Refine3D/run_it000_${p}`), 'Refine3D/run_it001_optimiser.star'].join(' ');
      const handle = await env.client.workflow.start('clusterJob', {
        taskQueue: config.temporal.taskQueue,
        workflowId: `out-${uniqueId('it000')}/refine`,
        args: [
          {
            step: 'refine',
            placement: {
              ladder: [{ cluster: 'dev2', partition: 'gpu', gres: 'gpu:1', timeScale: 1 }],
              hangAfterMs: 600_000,
              onExhausted: 'fail',
            },
            // First run: iteration 0 complete, 1 begun, then the node goes. Run again from the start: done.
            command: [
              'bash',
              '-c',
              `mkdir -p ${dir}/Refine3D && cd ${dir} && if [ -e first-run ]; then echo started over; exit 0; fi; ` +
                `touch first-run ${files}; sleep 300`,
            ],
            resume: {
              command: ['bash', '-c', 'echo continue from {{continue_from}}'],
              fromIteration: { dir, outRoot: 'Refine3D/run' },
            },
          } satisfies ClusterJobInput,
        ],
      });
      let node = '';
      await waitUntil(
        'the job running',
        async () => {
          const out = await slurm2(['squeue', '-h', '-t', 'RUNNING', '-o', '%j|%N']);
          node =
            out
              .split('\n')
              .map((l) => l.split('|'))
              .find(([name]) => name?.includes('out-it000-'))?.[1] ?? '';
          return node !== '' && existsSync(join(dir, 'first-run')) ? true : undefined;
        },
        60_000,
        300,
      );
      await slurm2(['scontrol', 'update', `NodeName=${node}`, 'State=DOWN', 'Reason=chaos-reclaim']);
      try {
        const result: ClusterJobResult = await handle.result();
        const kinds = result.record.events.map((e) => e.kind);
        assert.ok(kinds.includes('lost'), kinds.join(','));
        const resumed = result.record.events.find((e) => e.kind === 'resumed')!;
        assert.match(resumed.note ?? '', /only iteration 0 complete; starting over/);
        assert.deepEqual(resumed.redone, [0, 1]);
        assert.match(result.result.outputTail, /started over/);
      } finally {
        await slurm2(['scontrol', 'update', `NodeName=${node}`, 'State=RESUME']).catch(() => '');
      }
    },
  );

  test(
    'nodes excluded as black holes while every other node is down: ' +
      'submitted without the exclusions, not left pending',
    async () => {
      // m1 failed a job earlier (excluded for an hour); now m2 is down too. Slurm accepts a job
      // excluding m1 (the partition still has the CLOUD node d1) but can never start it.
      await slurm2(['scontrol', 'update', 'NodeName=m2', 'State=DOWN', 'Reason=chaos-second-failure']);
      try {
        const handle = await env.client.workflow.start('clusterJob', {
          taskQueue: config.temporal.taskQueue,
          workflowId: `out-${uniqueId('excluded')}/extract`,
          args: [
            {
              step: 'extract',
              placement: {
                ladder: [{ cluster: 'dev2', partition: 'gpu', gres: 'gpu:1', timeScale: 1 }],
                hangAfterMs: 600_000,
                onExhausted: 'fail',
              },
              command: ['bash', '-c', 'echo ran on $SLURMD_NODENAME'],
              exclude: [
                {
                  cluster: 'dev2',
                  node: 'm1',
                  until: new Date(Date.now() + 3_600_000).toISOString(),
                  reason: 'NODE_FAIL',
                  step: 'refine',
                },
              ],
            } satisfies ClusterJobInput,
          ],
        });
        const result: ClusterJobResult = await handle.result();
        assert.match(result.result.outputTail, /ran on m1/);
        const dropped = result.record.events.find((e) =>
          /leaves partition gpu no node that can take work/.test(e.note ?? ''),
        );
        assert.ok(dropped, result.record.events.map((e) => `${e.kind}: ${e.note ?? ''}`).join('\n'));
        assert.match(dropped.note!, /m2 down.*trying without the exclusion/);
      } finally {
        await slurm2(['scontrol', 'update', 'NodeName=m2', 'State=RESUME']).catch(() => '');
      }
    },
  );

  test(
    'full: a 1 MiB folder fills while tomograms are written; ' +
      'the campaign fails naming each file, nothing half-written reported as done',
    async (t) => {
      const dir = join(base, 'full');
      mkdirSync(dir);
      try {
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
      } catch (err) {
        t.skip(`mount is not possible here: ${stderrOf(err)}`);
        return;
      }
      mounts.push(dir);
      const { input, handle, error } = await runUnder(dir);
      assert.ok(error instanceof WorkflowFailedError, `expected the campaign to fail, got ${String(error)}`);
      const message = innermostMessage(error);
      t.diagnostic(message);
      assert.match(message, /^0 of 5 tilt series reconstructed/);
      for (const ts of TILT_SERIES)
        assert.match(
          message,
          new RegExp(`${ts}: .*cannot write \\S*/${input.id}/tomograms/${ts}\\.mrc: No space left on device`),
          ts,
        );
      const status: CampaignStatus = await handle.query(campaignStatusQuery);
      for (const ts of TILT_SERIES) assert.equal(status.tiltSeries[ts]?.status, 'failed', ts);
      assert.equal(
        status.steps.filter((s) => s.step === 'reconstruct').length,
        0,
        'a reconstruct step reported as done',
      );
      assert.ok(!existsSync(join(input.layout.dir, 'run-record.json')), 'a run record was written');
      const left = existsSync(join(input.layout.dir, 'tomograms'))
        ? readdirSync(join(input.layout.dir, 'tomograms'))
        : [];
      assert.deepEqual(left, [], `files left in tomograms/: ${left.join(', ')}`);
    },
  );
});
