/**
 * Security end to end, on the real stack (Temporal dev server, a worker with CryoEtPlugin,
 * the dev Slurm cluster over sshd):
 *  - hostile argv and environment values travel to the job quoted: printed literally, and
 *    the file their injections would create never appears;
 *  - hostile step names, campaign ids and tilt-series names are refused with a clear error
 *    before anything is submitted (no activity, no workflow, no Slurm job);
 *  - a worker whose known_hosts lists another key for the login node fails the job with
 *    HostKeyRejected on the first attempt (the SSH layer's own cases: test/integration/ssh.test.ts);
 *  - no history of these workflows carries the SSH private key or any secret marker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { campaignInput } from '../../src/campaign/input.js';
import { parseCampaign } from '../../src/campaign/load.js';
import { EMBEDDED_CAMPAIGN } from '../../src/embedded.js';
import { CryoEtPlugin } from '../../src/plugin.js';
import { CryoError, ErrorType } from '../../src/errors.js';
import type { ClusterJobInput, ClusterJobResult } from '../../src/workflows/cluster-job.js';
import { repoRoot, uniqueId, writeTestConfig } from '../helpers/env.js';
import {
  describeHits,
  fetchHistories,
  findSecrets,
  GENERIC_SECRETS,
  keyFileSecrets,
} from '../helpers/history-secrets.js';
import { ladder, startWorkerHarness, type WorkerHarness } from '../helpers/worker.js';

/** Each would create `file` if a shell ever read it unquoted. */
function injections(file: string): string[] {
  return [
    `$(touch ${file})`,
    `\`touch ${file}\``,
    `'; touch ${file}; '`,
    `"; touch ${file}; "`,
    `x\ntouch ${file}`,
    `; touch ${file}`,
    `| touch ${file}`,
    `&& touch ${file}`,
    `> ${file}`,
    '*',
    '~',
    '$HOME',
    '\\',
    '#',
    '-n',
  ];
}

/** Names no shell, path or Slurm field should ever see. */
const HOSTILE_NAMES = ['../x', 'a;b', '$(id)', 'two words', '`id`'];

const TSX = import.meta.resolve('tsx');

function cryoet(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, join(repoRoot, 'src', 'cli.ts'), ...args],
      { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { ...process.env, CRYOET_UI: '' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

describe('security on the dev stack', () => {
  let h: WorkerHarness;
  /** Every workflow this file ran, for the history check. */
  const workflowIds: string[] = [];

  before(async () => {
    h = await startWorkerHarness();
  });
  after(async () => {
    await h?.stop();
  });

  const input = (step: string, command: string[], environment?: Record<string, string>): ClusterJobInput => ({
    step,
    placement: ladder(['gpu:t4:1'], 60_000),
    command,
    ...(environment ? { environment } : {}),
  });

  /** Whether `file` exists, here and on the cluster's login node. */
  async function exists(file: string): Promise<boolean> {
    const remote = await h.slurm([
      'bash',
      '-c',
      'if [ -e "$1" ]; then echo present; else echo absent; fi',
      'bash',
      file,
    ]);
    return existsSync(file) || remote.trim() !== 'absent';
  }

  test('hostile argv and environment values are passed literally and inject nothing', async () => {
    const file = `/tmp/${uniqueId('cryoet-injected')}`;
    const hostile = injections(file);
    const argvId = `cryoet/test/${uniqueId('hostile-argv')}`;
    const envId = `cryoet/test/${uniqueId('hostile-env')}`;
    workflowIds.push(argvId, envId);
    const [argv, env] = await Promise.all([
      h.env.client.workflow.execute('clusterJob', {
        taskQueue: h.taskQueue,
        workflowId: argvId,
        args: [input('argv', ['printf', '<%s>\\n', ...hostile])],
      }) as Promise<ClusterJobResult>,
      h.env.client.workflow.execute('clusterJob', {
        taskQueue: h.taskQueue,
        workflowId: envId,
        args: [input('env', ['printenv', 'CRYOET_HOSTILE'], { CRYOET_HOSTILE: hostile.join(' ') })],
      }) as Promise<ClusterJobResult>,
    ]);
    assert.equal(argv.result.marker?.exitCode, 0);
    assert.ok(
      argv.result.outputTail.includes(hostile.map((a) => `<${a}>`).join('\n') + '\n'),
      `printed: ${JSON.stringify(argv.result.outputTail)}`,
    );
    assert.equal(env.result.marker?.exitCode, 0);
    assert.ok(
      env.result.outputTail.includes(`${hostile.join(' ')}\n`),
      `printed: ${JSON.stringify(env.result.outputTail)}`,
    );
    assert.equal(await exists(file), false, `${file} was created: an argument reached a shell unquoted`);
  });

  test('hostile step names fail the workflow with NameInvalid before any activity or job', async () => {
    const token = uniqueId('hostile-step');
    const ids = HOSTILE_NAMES.map((_, i) => `cryoet/test/${token}-${i}`);
    workflowIds.push(...ids);
    await Promise.all(
      HOSTILE_NAMES.map((step, i) =>
        assert.rejects(
          h.env.client.workflow.execute('clusterJob', {
            taskQueue: h.taskQueue,
            workflowId: ids[i]!,
            args: [input(step, ['true'])],
            workflowTaskTimeout: '10 seconds',
          }),
          (err: unknown) => {
            assert.ok(err instanceof WorkflowFailedError, String(err));
            assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
            assert.equal(err.cause.type, 'NameInvalid', err.cause.message);
            assert.ok(err.cause.message.includes(JSON.stringify(step).slice(0, -1)), err.cause.message);
            assert.match(err.cause.message, /expected one segment of letters, digits, '_' or '-'/);
            return true;
          },
        ),
      ),
    );
    for (const id of ids) {
      const history = await h.env.client.workflow.getHandle(id).fetchHistory();
      assert.deepEqual(
        history.events
          ?.filter((e) => e.activityTaskScheduledEventAttributes)
          .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name),
        [],
        `${id}: activities ran`,
      );
    }
    const names = await h.slurm(['squeue', '-h', '-t', 'all', '-o', '%j']);
    assert.ok(!names.includes(token), `a job of ${token} reached Slurm:\n${names}`);
  });

  test('hostile campaign ids and tilt-series names are refused by campaignInput and the campaign file', () => {
    const parsed = parseCampaign(readFileSync(EMBEDDED_CAMPAIGN, 'utf8'), 'embedded');
    assert.ok(parsed.ok);
    for (const id of [...HOSTILE_NAMES, 'x/../y', '/abs', 'a\nb', '']) {
      assert.throws(
        () => campaignInput(h.config, parsed.spec, id),
        (err: unknown) =>
          err instanceof CryoError &&
          err.type === ErrorType.NameInvalid &&
          err.message.startsWith(`campaign id ${JSON.stringify(id)}: expected`),
        `campaign id ${JSON.stringify(id)}`,
      );
    }
    const raw = parseYaml(readFileSync(EMBEDDED_CAMPAIGN, 'utf8')) as {
      name: string;
      tiltSeries: Array<{ name: string }>;
    };
    raw.name = 'a;b';
    HOSTILE_NAMES.forEach((name, i) => (raw.tiltSeries[i]!.name = name));
    const result = parseCampaign(stringifyYaml(raw), 'embedded');
    assert.ok(!result.ok);
    const where = result.issues.map((i) => i.path);
    assert.deepEqual(where.sort(), ['name', ...HOSTILE_NAMES.map((_, i) => `tiltSeries[${i}].name`)].sort());
  });

  test('`cryoet start` refuses hostile names with exit 2 and starts nothing', async (t) => {
    const port = Number(h.env.address.split(':').at(-1));
    const taskQueue = uniqueId('tq-hostile-cli');
    const configFile = writeTestConfig(port, taskQueue);
    const raw = parseYaml(readFileSync(EMBEDDED_CAMPAIGN, 'utf8')) as { tiltSeries: Array<{ name: string }> };
    HOSTILE_NAMES.forEach((name, i) => (raw.tiltSeries[i]!.name = name));
    const dir = mkdtempSync(join(tmpdir(), 'cryoet-hostile-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const hostileFile = join(dir, 'campaign.yaml');
    writeFileSync(hostileFile, stringifyYaml(raw));
    const badId = `sec-${uniqueId('x')};touch /tmp/nope`;
    const [byFile, byId] = await Promise.all([
      cryoet(['start', hostileFile, '--config', configFile, '--id', uniqueId('sec-file')]),
      cryoet(['start', EMBEDDED_CAMPAIGN, '--config', configFile, '--id', badId]),
    ]);
    assert.equal(byFile.code, 2, byFile.stderr);
    HOSTILE_NAMES.forEach((name, i) =>
      assert.match(
        byFile.stderr,
        new RegExp(`tiltSeries\\[${i}\\]\\.name: expected a letter or digit`),
        `${name}: ${byFile.stderr}`,
      ),
    );
    assert.match(byFile.stderr, /5 problem\(s\) in /);
    assert.equal(byId.code, 2, byId.stderr);
    assert.ok(byId.stderr.includes(`campaign id ${JSON.stringify(badId)}: expected`), byId.stderr);
    for (const run of [byFile, byId]) assert.doesNotMatch(run.stdout, /started campaign/);
    const started = [];
    for await (const w of h.env.client.workflow.list({ query: `TaskQueue = "${taskQueue}"` }))
      started.push(w.workflowId);
    assert.deepEqual(started, [], 'no workflow was started');
    await assert.rejects(h.env.client.workflow.getHandle(badId).describe(), WorkflowNotFoundError);
  });

  test(
    'a worker whose known_hosts has another key for the login node ' + 'fails the job with HostKeyRejected, at once',
    async (t) => {
      const dev = h.config.clusters['dev']!;
      const dir = mkdtempSync(join(tmpdir(), 'cryoet-hostkey-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
      const knownHostsFile = join(dir, 'known_hosts');
      const otherKey = readFileSync(join(dir, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
      writeFileSync(knownHostsFile, `[${dev.ssh.host}]:${dev.ssh.port} ${otherKey}\n`);
      const config = {
        ...h.config,
        clusters: { ...h.config.clusters, dev: { ...dev, ssh: { ...dev.ssh, knownHostsFile } } },
      };
      const taskQueue = uniqueId('tq-hostkey');
      const worker = await Worker.create({
        connection: h.env.nativeConnection,
        taskQueue,
        plugins: [new CryoEtPlugin({ config, log: () => {} })],
      });
      const workflowId = `cryoet/test/${uniqueId('hostkey')}`;
      workflowIds.push(workflowId);
      await worker.runUntil(
        assert.rejects(
          h.env.client.workflow.execute('clusterJob', { taskQueue, workflowId, args: [input('hostkey', ['true'])] }),
          (err: unknown) => {
            assert.ok(err instanceof WorkflowFailedError, String(err));
            const cause = err.cause?.cause;
            assert.ok(cause instanceof ApplicationFailure, String(err.cause));
            assert.equal(cause.type, 'HostKeyRejected');
            assert.match(cause.message, /does not match/);
            assert.ok(cause.message.includes(knownHostsFile), cause.message);
            return true;
          },
        ),
      );
      const history = await h.env.client.workflow.getHandle(workflowId).fetchHistory();
      const started = history.events?.filter((e) => e.activityTaskStartedEventAttributes) ?? [];
      assert.deepEqual(
        started.map((e) => e.activityTaskStartedEventAttributes?.attempt),
        [1],
        'one attempt, no retries',
      );
    },
  );

  test('no history of these workflows carries the SSH private key, a key marker or a password', async () => {
    assert.ok(workflowIds.length >= 8, `workflows run: ${workflowIds.join(', ')}`);
    const histories = await fetchHistories(h.env.client, workflowIds);
    const keyFile = h.config.clusters['dev']!.ssh.keyFile;
    const secrets = [...keyFileSecrets(keyFile), ...GENERIC_SECRETS];
    assert.ok(secrets.length > 100, 'the key body gave its slices');
    assert.deepEqual(findSecrets(histories, secrets), [], describeHits(findSecrets(histories, secrets)));
    // The check itself sees payloads: the hostile job's argv is in its input.
    const probe = findSecrets(histories, [{ name: 'printf format', value: '<%s>\\n' }]);
    assert.ok(
      probe.some((hit) => hit.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED'),
      describeHits(probe),
    );
  });
});
