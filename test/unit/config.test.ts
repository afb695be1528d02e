/**
 * temporal.yaml: valid configs load with every value and default; loadConfig, the default path
 * and the gres parser.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultConfigPath, loadConfig, parseGres, type ConfigIssue } from '../../src/config.js';
import { CryoError, ErrorType } from '../../src/errors.js';
import { relionRuntime } from '../../src/campaign/input.js';
import { fixture, parseOk, parseIssues } from '../helpers/config-parse.js';

describe('valid configs', () => {
  test('valid.yaml loads with every value and the remaining defaults', async () => {
    const config = await loadConfig(fixture('valid.yaml'));
    assert.equal(config.temporal.address, 'temporal.example.org:7233');
    assert.equal(config.temporal.profile, 'prod');
    assert.equal(config.temporal.tls?.clientCertFile, fixture('ssh/client.pem'));
    assert.equal(config.temporal.tls?.serverCaFile, undefined);
    const east = config.clusters['aws-east']!;
    assert.deepEqual(east.ssh, {
      host: 'login.east.example.org',
      port: 2200,
      user: 'cryo',
      keyFile: fixture('ssh/fake-key'),
      knownHostsFile: fixture('ssh/known_hosts'),
      connectTimeout: 15_000,
      commandTimeout: 120_000,
    });
    assert.deepEqual(east.environment, { SLURM_CONF: '/opt/slurm/etc/slurm.conf', OMP_NUM_THREADS: '4' });
    assert.equal(east.workDir, '/scratch/cryoet/jobs');
    const west = config.clusters['aws-west']!;
    assert.equal(west.ssh.port, 22);
    assert.equal(west.ssh.connectTimeout, 10_000);
    assert.equal(west.ssh.commandTimeout, 60_000);
    assert.deepEqual(west.environment, {});
    assert.equal(west.maxStatusCallsPerMinute, 30);
    assert.deepEqual(
      config.placement.ladder.map((r) => [r.cluster, r.partition, r.gres, r.timeScale]),
      [
        ['aws-east', 'gpu', 'gpu:a10g:4', 1],
        ['aws-east', 'gpu', 'gpu:4', 1],
        ['aws-west', 'gpu', 'gpu:t4:4', 1],
        ['aws-east', 'gpu-ondemand', 'gpu:1', 4],
      ],
    );
    assert.equal(config.placement.hangAfter, 600_000);
    assert.deepEqual(config.polling, {
      interval: 2_000,
      maxInterval: 90_000,
      resultMarkers: true,
      markerInterval: 1_000,
      shareAcrossWorkers: true,
    });
    assert.deepEqual(config.timeouts, { submit: 90_000, job: 86_400_000, workerShutdownGrace: 30_000 });
    assert.deepEqual(config.tools, {
      profile: 'production',
      aretomo2: fileURLToPath(new URL('../../embedded/aretomo2_standin.py', import.meta.url)),
      probeArgs: ['--version'],
      stageDir: '/shared/cryoet/bin',
      relionBinDir: '/opt/relion/bin',
      mpirun: ['mpirun', '--bind-to', 'none'],
      threads: 1,
    });
  });

  test(
    'tools.mpiPreload resolves against baseDir and preloads into every rank; ' +
      'a path LD_PRELOAD would split is refused',
    () => {
      const text = readFileSync(fixture('minimal.yaml'), 'utf8');
      const withTools = (value: string) =>
        `${text.replace(/^tools:.*$/m, '')}\ntools:\n  profile: embedded\n` +
        `  mpirun: [mpirun, --oversubscribe]\n  mpiPreload: ${value}\n`;
      const config = parseOk(withTools('.dev/lib/libmpi_nap.so'));
      assert.equal(config.tools.mpiPreload, '/cfg/.dev/lib/libmpi_nap.so');
      assert.deepEqual(relionRuntime(config.tools).mpirun, [
        'mpirun',
        '--oversubscribe',
        '-x',
        'LD_PRELOAD=/cfg/.dev/lib/libmpi_nap.so',
      ]);
      assert.deepEqual(relionRuntime({ ...config.tools, mpiPreload: undefined }).mpirun, ['mpirun', '--oversubscribe']);
      for (const bad of ['"/opt/my libs/nap.so"', '/a.so:/b.so']) {
        assert.deepEqual(
          parseIssues(withTools(bad)).map((i) => [i.path, i.message]),
          [['tools.mpiPreload', 'expected a path without spaces or colons (LD_PRELOAD splits on them)']],
        );
      }
    },
  );

  test(
    'tools.relionBinDir: one folder for every profile, or one per profile (resolved against baseDir); ' +
      'others use PATH',
    () => {
      const text = readFileSync(fixture('minimal.yaml'), 'utf8');
      const withTools = (profile: string, dirs: string) =>
        `${text.replace(/^tools:.*$/m, '')}\ntools:\n  profile: ${profile}\n  relionBinDir: ${dirs}\n`;
      assert.equal(
        relionRuntime(parseOk(withTools('relion5', '{ relion5: .dev/relion5/bin }')).tools).binDir,
        '/cfg/.dev/relion5/bin',
      );
      assert.equal(
        relionRuntime(parseOk(withTools('embedded', '{ relion5: .dev/relion5/bin }')).tools).binDir,
        undefined,
      );
      assert.equal(relionRuntime(parseOk(withTools('embedded', '/opt/relion/bin')).tools).binDir, '/opt/relion/bin');
      const relion5 = relionRuntime(parseOk(withTools('relion5', '/opt/relion5/bin')).tools);
      assert.deepEqual([relion5.gpu, relion5.threads], [false, 1]);
      assert.match(
        JSON.stringify(parseIssues(withTools('relion6', '/opt/r'))),
        /expected \\"production\\", \\"relion5\\" or \\"embedded\\"/,
      );
      assert.ok(
        parseIssues(withTools('relion5', '{ relion6: /opt/r }')).some((i) => i.path.startsWith('tools.relionBinDir')),
      );
    },
  );

  test('minimal.yaml gets every default and resolves relative paths against baseDir', () => {
    const config = parseOk(readFileSync(fixture('minimal.yaml'), 'utf8'));
    // address and namespace stay unset: connection.ts falls back to a profile, then the dev server.
    assert.deepEqual(config.temporal, {
      taskQueue: 'cryoet',
      ui: 'http://127.0.0.1:8233',
    });
    assert.deepEqual(config.clusters['dev'], {
      ssh: {
        host: '127.0.0.1',
        port: 22,
        user: 'root',
        keyFile: '/cfg/ssh/fake-key',
        knownHostsFile: '/cfg/ssh/known_hosts',
        connectTimeout: 10_000,
        commandTimeout: 60_000,
      },
      environment: {},
      partitions: ['gpu'],
      workDir: '/cfg/work/jobs',
      maxStatusCallsPerMinute: 30,
    });
    assert.deepEqual(config.placement, {
      hangAfter: 600_000,
      ladder: [{ cluster: 'dev', partition: 'gpu', gres: 'gpu:1', timeScale: 1 }],
      onExhausted: 'fail',
      onTimeout: { resubmit: 1, timeScale: 2 },
      excludeFailedNodes: true,
      excludeFailedNodesFor: 3_600_000,
      stages: {},
    });
    assert.deepEqual(config.gpuPrices, {});
    assert.deepEqual(config.tools, { profile: 'production', probeArgs: [], mpirun: ['mpirun'], threads: 1 });
    assert.deepEqual(config.paths, { data: '/cfg/data', work: '/abs/work' });
    assert.deepEqual(config.polling, {
      interval: 5_000,
      maxInterval: 60_000,
      resultMarkers: true,
      markerInterval: 1_000,
      shareAcrossWorkers: true,
    });
    assert.deepEqual(config.timeouts, { submit: 120_000, job: 172_800_000, workerShutdownGrace: 30_000 });
  });

  test("the project's temporal.yaml is valid on its own terms", () => {
    const text = readFileSync(fileURLToPath(new URL('../../temporal.yaml', import.meta.url)), 'utf8');
    const config = parseOk(text);
    assert.deepEqual(
      config.placement.ladder.map((r) => r.gres),
      ['gpu:a10g:4', 'gpu:4', 'gpu:1'],
    );
    assert.equal(config.clusters['dev']?.ssh.port, 2222);
    assert.equal(config.placement.hangAfter, 20_000);
  });
});

describe('loadConfig', () => {
  test('throws ConfigInvalid with one line per issue and the issues in details', async () => {
    const file = relative(process.cwd(), fixture('broken-many.yaml'));
    await assert.rejects(loadConfig(file), (error: unknown) => {
      assert.ok(error instanceof CryoError);
      assert.equal(error.type, ErrorType.ConfigInvalid);
      assert.equal(error.nonRetryable, true);
      const lines = error.message.split('\n');
      assert.equal(lines.length, 10);
      assert.equal(
        lines[0],
        `${file}:3 temporal.address: expected "host:port" with a port 1..65535, e.g. 127.0.0.1:7233`,
      );
      assert.equal((error.details?.['issues'] as ConfigIssue[]).length, 10);
      return true;
    });
  });

  test('a missing file is ConfigInvalid and names the absolute path', async () => {
    await assert.rejects(loadConfig(fixture('nope.yaml')), (error: unknown) => {
      assert.ok(error instanceof CryoError);
      assert.equal(error.type, ErrorType.ConfigInvalid);
      assert.match(error.message, /file not found: .*nope\.yaml/);
      return true;
    });
  });
});

describe('defaultConfigPath', () => {
  const rows: Array<[string, NodeJS.ProcessEnv, string]> = [
    ['unset → temporal.yaml in cwd', {}, join(process.cwd(), 'temporal.yaml')],
    ['empty → temporal.yaml in cwd', { CRYOET_CONFIG: '' }, join(process.cwd(), 'temporal.yaml')],
    ['relative → against cwd', { CRYOET_CONFIG: 'conf/prod.yaml' }, join(process.cwd(), 'conf/prod.yaml')],
    ['absolute → as is', { CRYOET_CONFIG: '/etc/cryoet/temporal.yaml' }, '/etc/cryoet/temporal.yaml'],
  ];
  for (const [name, env, expected] of rows) test(name, () => assert.equal(defaultConfigPath(env), expected));
});

describe('parseGres', () => {
  const rows: Array<[string, { type?: string; count: number }]> = [
    ['gpu:a10g:4', { type: 'a10g', count: 4 }],
    ['gpu:4', { count: 4 }],
    ['gpu:t4:12', { type: 't4', count: 12 }],
  ];
  for (const [gres, expected] of rows) test(gres, () => assert.deepEqual(parseGres(gres), expected));
});
