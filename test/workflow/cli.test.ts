/**
 * The campaign commands of `cryoet` against a real Temporal dev server, with NO worker: a
 * campaign started by `cryoet start` sits on an unused task queue. Checks what needs only
 * the server (start, list, not found, cancel/terminate, status of a closed campaign) and
 * that every command that needs a worker (status query, approve, relax, cancel's wait)
 * gives up cleanly within its --timeout instead of hanging.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { freePort, repoRoot, startTemporal, uniqueId, waitUntil, writeTestConfig } from '../helpers/env.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** tsx's loader as a URL, so the CLI also runs with a cwd outside the repository. */
const TSX = import.meta.resolve('tsx');

let env: TestWorkflowEnvironment;
let configFile: string;
let taskQueue: string;

/** Runs `cryoet <args>` as a user does (child process), bounded by `timeoutMs`. */
function cryoet(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', TSX, join(repoRoot, 'src', 'cli.ts'), ...args],
      {
        cwd: opts.cwd ?? repoRoot,
        encoding: 'utf8',
        timeout: opts.timeoutMs ?? 60_000,
        env: { ...process.env, CRYOET_UI: '', ...opts.env },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

const withConfig = (...args: string[]) => [...args, '--config', configFile];
// No worker runs these campaigns and their dataset is not made: start skips its preflight
// (cryoet doctor's checks, tested in doctor.test.ts).
const startArgs = (...args: string[]) => withConfig('start', ...args, '--no-preflight');

describe('cryoet campaign commands (dev server, no worker)', { timeout: 900_000 }, () => {
  const id = uniqueId('cli-campaign');

  before(async () => {
    const port = await freePort();
    env = await startTemporal(port);
    taskQueue = uniqueId('cli-no-worker');
    configFile = writeTestConfig(port, taskQueue);
  });

  after(async () => {
    await env?.teardown();
  });

  test('start prints the id and the UI link; the campaign sits on its task queue', async () => {
    const r = await cryoet(startArgs(join(repoRoot, 'campaigns', 'embedded-10164.yaml'), '--id', id));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`started campaign ${id} \\(5 tilt series, task queue ${taskQueue}\\)`));
    assert.match(
      r.stdout,
      new RegExp(`Temporal UI: http://127\\.0\\.0\\.1:8233/namespaces/default/workflows/${id}\\n`),
    );
    const d = await env.client.workflow.getHandle(id).describe();
    assert.equal(d.type, 'campaign');
    assert.equal(d.status.name, 'RUNNING');
    assert.equal(d.taskQueue, taskQueue);
  });

  test('start: --ui and CRYOET_UI set the link base; the same id twice is refused', async () => {
    const second = `${id}-ui`;
    const viaEnv = await cryoet(
      startArgs(join(repoRoot, 'campaigns', 'embedded-10164.yaml'), '--id', second, '--json'),
      { env: { CRYOET_UI: 'https://temporal.example.org/' } },
    );
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const json = JSON.parse(viaEnv.stdout) as { id: string; ui: string; taskQueue: string };
    assert.equal(json.id, second);
    assert.equal(json.taskQueue, taskQueue);
    assert.equal(json.ui, `https://temporal.example.org/namespaces/default/workflows/${second}`);

    const again = await cryoet(
      startArgs(join(repoRoot, 'campaigns', 'embedded-10164.yaml'), '--id', second, '--ui', 'http://ui.lab:8080'),
    );
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    assert.equal(again.stderr.trim().split('\n').length, 1, again.stderr);
    await env.client.workflow.getHandle(second).terminate('test cleanup');
  });

  test('start: a bad campaign file lists every problem, exit 2, nothing started', async () => {
    const r = await cryoet(withConfig('start', join(repoRoot, 'temporal.yaml')));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /temporal\.yaml:\d+ \S+: unknown key/);
    assert.match(r.stderr, /\d+ problem\(s\) in /);
  });

  test('list --json finds the campaign by id; --query narrows; a bad query is exit 2', async () => {
    const found = await waitUntil(
      'the campaign in visibility',
      async () => {
        const r = await cryoet(withConfig('list', '--json'));
        assert.equal(r.code, 0, r.stderr);
        const rows = JSON.parse(r.stdout) as { id: string; status: string; startTime: string }[];
        return rows.find((row) => row.id === id);
      },
      30_000,
      500,
    );
    assert.equal(found.status, 'RUNNING');
    assert.ok(!Number.isNaN(Date.parse(found.startTime)));

    const table = await cryoet(withConfig('list', '--query', `WorkflowId = '${id}'`));
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+STATUS\s+STAGE\s+ITER\s+RESOLUTION\s+COST\s+STARTED/);
    assert.match(table.stdout, new RegExp(`\\n${id}\\s+RUNNING`));

    const none = await cryoet(withConfig('list', '--json', '--query', "CryoStage = 'refine'"));
    assert.equal(none.code, 0, none.stderr);
    assert.ok(!(JSON.parse(none.stdout) as { id: string }[]).some((row) => row.id === id));

    const bad = await cryoet(withConfig('list', '--query', "CryoStage = 'refine' OR"));
    assert.equal(bad.code, 2, bad.stderr);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  });

  test('status of an unknown id: exit 3, one line', async () => {
    const r = await cryoet(withConfig('status', 'no-such-campaign-xyz'));
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /workflow "no-such-campaign-xyz" not found in namespace default/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    for (const command of [
      ['watch', 'nope-1'],
      ['cancel', 'nope-2'],
      ['approve', 'nope-3'],
      ['relax', 'nope-4', 'refine'],
      ['report', 'nope-5'],
    ]) {
      const other = await cryoet(withConfig(...command));
      assert.equal(other.code, 3, `${command.join(' ')}: ${other.stderr}`);
    }
  });

  test('status, approve and relax give up within --timeout when no worker answers', async () => {
    const status = await cryoet(withConfig('status', id, '--timeout', '1s'));
    assert.equal(status.code, 1, status.stderr);
    assert.match(
      status.stderr,
      new RegExp(`status query to ${id}.*no answer within 1s; is a worker running for task queue ${taskQueue}\\?`),
    );
    assert.ok(status.ms < 20_000, `took ${status.ms} ms`);

    const approve = await cryoet(withConfig('approve', id, '--comment', 'looks fine', '--timeout', '2s'));
    assert.equal(approve.code, 1, approve.stderr);
    assert.match(approve.stderr, /approvePicks update .*no answer within 2s/);
    assert.ok(approve.ms < 20_000, `took ${approve.ms} ms`);

    const relax = await cryoet(withConfig('relax', id, 'refine', '--timeout', '1s'));
    assert.equal(relax.code, 1, relax.stderr);
    assert.match(relax.stderr, /no answer within 1s/);

    const report = await cryoet(withConfig('report', id));
    assert.equal(report.code, 1, report.stderr);
    assert.match(report.stderr, /still running: no run record until it completes/);
  });

  test('cancel records the request and says the campaign is still running when no worker acts on it', async () => {
    const r = await cryoet(withConfig('cancel', id, '--timeout', '2s'));
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /running under .*: nothing \[from visibility/);
    assert.match(r.stdout, /cancel requested for /);
    assert.match(r.stderr, /still running after 2 s: a worker on task queue .* must process it/);
    const history = await env.client.workflow.getHandle(id).fetchHistory();
    assert.ok(
      history.events?.some(
        (e) => String(e.eventType) === '20' || String(e.eventType) === 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED',
      ),
      'a cancel request in the history',
    );
  });

  test('cancel --terminate closes it; status, watch and report then report the end', async () => {
    const r = await cryoet(withConfig('cancel', id, '--terminate'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /terminated .*Slurm jobs were NOT cancelled/);
    assert.equal((await env.client.workflow.getHandle(id).describe()).status.name, 'TERMINATED');

    const status = await cryoet(withConfig('status', id, '--json'));
    assert.equal(status.code, 1, status.stderr);
    const json = JSON.parse(status.stdout) as { id: string; workflowStatus: string; failure?: string; ui: string };
    assert.equal(json.workflowStatus, 'TERMINATED');
    assert.match(json.failure ?? '', /cryoet cancel --terminate by /);

    const text = await cryoet(withConfig('status', id));
    assert.equal(text.code, 1);
    assert.match(text.stdout, /workflow\s+TERMINATED/);

    const watch = await cryoet(withConfig('watch', id), { timeoutMs: 30_000 });
    assert.equal(watch.code, 1, watch.stderr);
    assert.match(watch.stdout, new RegExp(`campaign ${id} terminated: cryoet cancel --terminate by `));

    const again = await cryoet(withConfig('cancel', id));
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already closed \(TERMINATED\)/);

    const approve = await cryoet(withConfig('approve', id));
    assert.equal(approve.code, 1);
    assert.match(approve.stderr, /is closed \(TERMINATED\)/);

    const cwd = mkdtempSync(join(tmpdir(), 'cryoet-report-'));
    const report = await cryoet(withConfig('report', id), { cwd });
    assert.equal(report.code, 1, report.stderr);
    assert.match(report.stderr, /ended TERMINATED, not completed: no run record/);
    assert.ok(!existsSync(join(cwd, `${id}-report.html`)));
  });

  test('usage errors are exit 2; every command has --help', async () => {
    const missing = await cryoet(['relax', 'only-one-arg']);
    assert.equal(missing.code, 2);
    const badTimeout = await cryoet(['status', 'x', '--timeout', '10']);
    assert.equal(badTimeout.code, 2);
    assert.match(badTimeout.stderr, /a bare number has no unit/);
    const badConfig = await cryoet(['list', '--config', join(tmpdir(), 'no-such-dir', 'temporal.yaml')]);
    assert.equal(badConfig.code, 2);
    for (const command of ['start', 'list', 'status', 'watch', 'cancel', 'relax', 'approve', 'report']) {
      const help = await cryoet([command, '--help']);
      assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
      assert.match(help.stdout, new RegExp(`Usage: cryoet ${command} `));
      assert.match(help.stdout, /-c, --config <file>/);
    }
  });
});
