import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import {
  defaultConfigPath,
  formatConfigIssues,
  loadConfig,
  parseConfig,
  parseGres,
  type ConfigIssue,
  type CryoConfig,
} from '../../src/config.js';
import { CryoError, ErrorType } from '../../src/errors.js';
import { relionRuntime } from '../../src/campaign/input.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const fixture = (name: string): string => join(FIXTURES, name);
const BASE = '/cfg';
const allFilesExist = (_path: string): boolean => true;

function parseOk(text: string, fileExists = allFilesExist): CryoConfig {
  const result = parseConfig(text, { fileName: 'temporal.yaml', baseDir: BASE, fileExists });
  if (!result.ok) assert.fail(`expected a valid config, got:\n${formatConfigIssues('temporal.yaml', result.issues)}`);
  return result.config;
}

function parseIssues(text: string, fileExists = allFilesExist): ConfigIssue[] {
  const result = parseConfig(text, { fileName: 'temporal.yaml', baseDir: BASE, fileExists });
  assert.equal(result.ok, false, 'expected issues');
  return result.ok ? [] : result.issues;
}

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

// A small valid config as data; each broken row changes one thing.
// Rows edit the parsed YAML freely; the schema is what checks types here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Tree = Record<string, any>;
function baseTree(): Tree {
  return parse(readFileSync(fixture('minimal.yaml'), 'utf8')) as Tree;
}

interface BrokenRow {
  readonly name: string;
  readonly edit: (tree: Tree) => void;
  /** Exactly these paths, each with a message containing the substring. */
  readonly expect: ReadonlyArray<readonly [path: string, message: string]>;
}

const brokenRows: BrokenRow[] = [
  {
    name: 'misspelt ssh key',
    edit: (t) => {
      t.clusters.dev.ssh.prot = 2222;
    },
    expect: [
      [
        'clusters.dev.ssh.prot',
        'unknown key (expected one of host, port, user, keyFile, knownHostsFile, connectTimeout, commandTimeout); ' +
          'did you mean "port"?',
      ],
    ],
  },
  {
    name: 'misspelt top-level key',
    edit: (t) => {
      t.placment = t.placement;
      delete t.placement;
    },
    expect: [
      ['placment', 'did you mean "placement"?'],
      ['placement', 'missing (expected a mapping)'],
    ],
  },
  {
    name: 'unknown key in a rung',
    edit: (t) => {
      t.placement.ladder[0].gpus = 4;
    },
    expect: [['placement.ladder[0].gpus', 'unknown key (expected one of cluster, partition, gres, timeScale)']],
  },
  {
    name: 'unknown tools key',
    edit: (t) => {
      t.tools = { relion: '/opt/relion' };
    },
    expect: [
      [
        'tools.relion',
        'expected one of profile, aretomo2, probeArgs, stageDir, relionBinDir, mpirun, mpiPreload, threads',
      ],
    ],
  },
  {
    name: 'gres without count',
    edit: (t) => {
      t.placement.ladder[0].gres = 'gpu:a10g';
    },
    expect: [['placement.ladder[0].gres', 'expected "gpu[:type]:N"']],
  },
  {
    name: 'gres count 0',
    edit: (t) => {
      t.placement.ladder[0].gres = 'gpu:0';
    },
    expect: [['placement.ladder[0].gres', 'expected "gpu[:type]:N"']],
  },
  {
    name: 'pinned GPU type without a price',
    edit: (t) => {
      t.placement.ladder[0].gres = 'gpu:a10g:4';
    },
    expect: [['placement.ladder[0].gres', 'no price for GPU type "a10g" in gpuPrices']],
  },
  {
    name: 'the default price does not cover a pinned type',
    edit: (t) => {
      t.placement.ladder[0].gres = 'gpu:a10g:4';
      t.gpuPrices = { t4: 0.3, default: 0.4 };
    },
    expect: [['placement.ladder[0].gres', 'no price for GPU type "a10g"']],
  },
  {
    name: 'rung names an unknown cluster',
    edit: (t) => {
      t.placement.ladder[0].cluster = 'elsewhere';
    },
    expect: [
      ['placement.ladder[0].cluster', 'unknown cluster "elsewhere" (expected one of the keys of clusters: dev)'],
    ],
  },
  {
    name: "partition not in the default (first) cluster's list",
    edit: (t) => {
      t.placement.ladder[0].partition = 'cpu';
    },
    expect: [['placement.ladder[0].partition', 'partition "cpu" is not listed in clusters.dev.partitions (gpu)']],
  },
  {
    name: "partition not in the named cluster's list",
    edit: (t) => {
      t.clusters.other = { ...t.clusters.dev, partitions: ['ondemand'] };
      t.placement.ladder.push({ cluster: 'other', partition: 'gpu', gres: 'gpu:1' });
    },
    expect: [['placement.ladder[1].partition', 'is not listed in clusters.other.partitions (ondemand)']],
  },
  {
    name: 'cluster name outside the safe grammar',
    edit: (t) => {
      t.clusters['my cluster'] = t.clusters.dev;
    },
    expect: [['clusters["my cluster"]', `invalid name "my cluster": expected letters, digits, '.', '_' or '-'`]],
  },
  {
    name: 'no clusters',
    edit: (t) => {
      t.clusters = {};
    },
    expect: [['clusters', 'expected at least one cluster']],
  },
  {
    name: 'clusters as a list',
    edit: (t) => {
      t.clusters = [];
    },
    expect: [['clusters', 'expected a mapping, got a list']],
  },
  {
    name: 'port out of range',
    edit: (t) => {
      t.clusters.dev.ssh.port = 70000;
    },
    expect: [['clusters.dev.ssh.port', 'expected a port 1..65535']],
  },
  {
    name: 'port as text',
    edit: (t) => {
      t.clusters.dev.ssh.port = 'ssh';
    },
    expect: [['clusters.dev.ssh.port', 'expected a number, got string "ssh"']],
  },
  {
    name: 'missing ssh user',
    edit: (t) => {
      delete t.clusters.dev.ssh.user;
    },
    expect: [['clusters.dev.ssh.user', 'missing (expected a string)']],
  },
  {
    name: 'bad environment variable name',
    edit: (t) => {
      t.clusters.dev.environment = { '1BAD': 'x', SLURM_CONF: '/etc/slurm.conf' };
    },
    expect: [['clusters.dev.environment.1BAD', 'expected an environment variable name such as SLURM_CONF']],
  },
  {
    name: 'environment value as a list',
    edit: (t) => {
      t.clusters.dev.environment = { A: [1] };
    },
    expect: [['clusters.dev.environment.A', 'expected a string value']],
  },
  {
    name: 'no partitions',
    edit: (t) => {
      t.clusters.dev.partitions = [];
    },
    expect: [['clusters.dev.partitions', 'expected at least one partition']],
  },
  {
    name: 'unsafe partition name',
    edit: (t) => {
      t.clusters.dev.partitions = ['gpu;rm'];
    },
    expect: [['clusters.dev.partitions[0]', 'expected letters, digits']],
  },
  {
    name: 'workDir under ~',
    edit: (t) => {
      t.clusters.dev.workDir = '~/cryoet';
    },
    expect: [['clusters.dev.workDir', '"~" is not expanded']],
  },
  {
    name: 'status call cap 0',
    edit: (t) => {
      t.clusters.dev.maxStatusCallsPerMinute = 0;
    },
    expect: [['clusters.dev.maxStatusCallsPerMinute', 'expected a positive number']],
  },
  {
    name: 'duration in words',
    edit: (t) => {
      t.placement.hangAfter = '10 minutes';
    },
    expect: [['placement.hangAfter', 'got "10 minutes"']],
  },
  {
    name: 'onExhausted not fail or wait',
    edit: (t) => {
      t.placement.onExhausted = 'retry';
    },
    expect: [['placement.onExhausted', 'expected "fail" or "wait"']],
  },
  {
    name: 'duration as a bare number',
    edit: (t) => {
      t.placement.hangAfter = 600;
    },
    expect: [['placement.hangAfter', 'a bare number has no unit']],
  },
  {
    name: 'ssh timeout in words',
    edit: (t) => {
      t.clusters.dev.ssh.commandTimeout = '1 minute';
    },
    expect: [['clusters.dev.ssh.commandTimeout', '90s, 10m, 2h']],
  },
  {
    name: 'timeScale 0',
    edit: (t) => {
      t.placement.ladder[0].timeScale = 0;
    },
    expect: [['placement.ladder[0].timeScale', 'expected a positive number']],
  },
  {
    name: 'empty ladder',
    edit: (t) => {
      t.placement.ladder = [];
    },
    expect: [['placement.ladder', 'expected at least one rung']],
  },
  {
    name: 'negative price',
    edit: (t) => {
      t.gpuPrices = { t4: -1 };
    },
    expect: [['gpuPrices.t4', 'expected a price ≥ 0']],
  },
  {
    name: 'address without port',
    edit: (t) => {
      t.temporal = { address: 'localhost' };
    },
    expect: [['temporal.address', 'expected "host:port"']],
  },
  {
    name: 'address port too big',
    edit: (t) => {
      t.temporal = { address: 'localhost:99999' };
    },
    expect: [['temporal.address', 'port 1..65535']],
  },
  {
    name: 'ui not http',
    edit: (t) => {
      t.temporal = { ui: 'ftp://example.org' };
    },
    expect: [['temporal.ui', 'expected an http(s) URL']],
  },
  {
    name: 'tls without key',
    edit: (t) => {
      t.temporal = { tls: { clientCertFile: 'c.pem' } };
    },
    expect: [['temporal.tls.clientKeyFile', 'missing']],
  },
  {
    name: 'maxInterval below interval',
    edit: (t) => {
      t.polling = { interval: '10s', maxInterval: '5s' };
    },
    expect: [['polling.maxInterval', 'expected at least polling.interval (10s), got 5s']],
  },
  {
    name: 'missing paths',
    edit: (t) => {
      delete t.paths;
    },
    expect: [['paths', 'missing (expected a mapping)']],
  },
  {
    name: 'unknown timeouts key',
    edit: (t) => {
      t.timeouts = { sbatch: '1m' };
    },
    expect: [['timeouts.sbatch', 'expected one of submit, job, workerShutdownGrace']],
  },
];

describe('broken configs: one row, exactly the expected issues', () => {
  for (const row of brokenRows) {
    test(row.name, () => {
      const tree = baseTree();
      row.edit(tree);
      const issues = parseIssues(stringify(tree));
      assert.deepEqual(
        issues.map((i) => i.path).sort(),
        row.expect.map(([path]) => path).sort(),
        formatConfigIssues('temporal.yaml', issues),
      );
      for (const [path, fragment] of row.expect) {
        const issue = issues.find((i) => i.path === path)!;
        assert.ok(
          issue.message.includes(fragment),
          `${path}: ${JSON.stringify(issue.message)} lacks ${JSON.stringify(fragment)}`,
        );
        assert.equal(typeof issue.line, 'number', `${path} has a line`);
      }
    });
  }
});

describe('issues with lines', () => {
  test('broken-many.yaml lists every problem, in file order, with its line', () => {
    const text = readFileSync(fixture('broken-many.yaml'), 'utf8');
    const result = parseConfig(text, { fileName: 'broken-many.yaml', baseDir: FIXTURES });
    assert.equal(result.ok, false);
    const issues = result.ok ? [] : result.issues;
    const expected: Array<[number, string, string]> = [
      [3, 'temporal.address', 'expected "host:port"'],
      [8, 'clusters.dev.ssh.prot', 'unknown key'],
      [10, 'clusters.dev.ssh.keyFile', `file not found: ${fixture('ssh/missing-key')}`],
      [15, 'placement.hangAfter', 'a bare number has no unit'],
      [17, 'placement.ladder[0].gres', 'no price for GPU type "a10g" in gpuPrices'],
      [18, 'placement.ladder[1].gres', 'expected "gpu[:type]:N"'],
      [19, 'placement.ladder[2].cluster', 'unknown cluster "elsewhere"'],
      [20, 'placement.ladder[3].partition', 'partition "cpu" is not listed'],
      [22, 'gpuPrices.t4', 'expected a price ≥ 0'],
      [23, 'paths.work', 'missing'], // a missing key cites its parent's line
    ];
    assert.deepEqual(
      issues.map((i) => [i.line, i.path]),
      expected.map(([line, path]) => [line, path]),
      formatConfigIssues('broken-many.yaml', issues),
    );
    expected.forEach(([, , fragment], index) =>
      assert.ok(issues[index]!.message.includes(fragment), issues[index]!.message),
    );
  });

  test('formatConfigIssues gives one "file:line path: message" line per issue', () => {
    const text = readFileSync(fixture('broken-many.yaml'), 'utf8');
    const result = parseConfig(text, { fileName: 'temporal.yaml', baseDir: FIXTURES });
    const lines = formatConfigIssues('temporal.yaml', result.ok ? [] : result.issues).split('\n');
    assert.equal(lines.length, 10);
    assert.equal(lines[5], 'temporal.yaml:18 placement.ladder[1].gres: expected "gpu[:type]:N"');
  });

  test('formatConfigIssues without line or path', () => {
    assert.equal(
      formatConfigIssues('t.yaml', [{ path: '', message: 'the file is empty' }]),
      't.yaml: the file is empty',
    );
    assert.equal(formatConfigIssues('t.yaml', [{ path: 'paths', message: 'm', line: 2 }]), 't.yaml:2 paths: m');
  });

  test('a value on the line after its key cites the key', () => {
    const text = readFileSync(fixture('minimal.yaml'), 'utf8').replace(
      'placement:\n',
      'placement:\n  hangAfter:\n    soon\n',
    );
    const keyLine = text.split('\n').indexOf('  hangAfter:') + 1;
    assert.ok(keyLine > 0);
    assert.deepEqual(
      parseIssues(text).map((i) => [i.path, i.line]),
      [['placement.hangAfter', keyLine]],
    );
  });

  test('YAML syntax errors are issues with a line', () => {
    const issues = parseIssues(readFileSync(fixture('broken-syntax.yaml'), 'utf8'));
    assert.ok(issues.length >= 1);
    assert.equal(issues[0]!.path, '');
    assert.equal(issues[0]!.line, 4);
    assert.match(issues[0]!.message, /Flow sequence/);
    assert.doesNotMatch(issues[0]!.message, /\n/);
  });

  test('duplicate keys are reported', () => {
    const issues = parseIssues('paths: { data: /d, work: /w }\npaths: { data: /d, work: /w }\n');
    assert.equal(issues[0]!.line, 2);
    assert.match(issues[0]!.message, /unique/i);
  });

  test('an empty file says what belongs in it', () => {
    assert.deepEqual(parseIssues('# nothing yet\n'), [
      { path: '', message: 'the file is empty: expected a mapping with clusters, placement and paths' },
    ]);
  });
});

describe('local files', () => {
  test('missing files are reported with their resolved path, together with schema issues', () => {
    const tree = baseTree();
    tree.temporal = {
      tls: { clientCertFile: '/etc/tls/c.pem', clientKeyFile: 'tls/c.key', serverCaFile: 'tls/ca.pem' },
      configFile: 'temporal.toml',
    };
    tree.placement.ladder[0].gres = 'nonsense';
    const exists = new Set(['/cfg/ssh/known_hosts', '/cfg/tls/ca.pem']);
    const issues = parseIssues(stringify(tree), (p) => exists.has(p));
    assert.deepEqual(issues.map((i) => [i.path, i.message]).sort(), [
      [
        'clusters.dev.ssh.keyFile',
        'file not found: /cfg/ssh/fake-key (relative to /cfg); the SSH private key for root@127.0.0.1:' +
          ' ssh-keygen -t ed25519 -f /cfg/ssh/fake-key,' +
          " then add /cfg/ssh/fake-key.pub to the cluster's ~/.ssh/authorized_keys",
      ],
      ['placement.ladder[0].gres', 'expected "gpu[:type]:N"'],
      [
        'temporal.configFile',
        'file not found: /cfg/temporal.toml (relative to /cfg); the Temporal env-config TOML' +
          ' (temporal config set --profile …), or drop temporal.configFile',
      ],
      [
        'temporal.tls.clientCertFile',
        'file not found: /etc/tls/c.pem; the mTLS file for the Temporal frontend' +
          ' (Temporal Cloud: the client certificate and key for the namespace)',
      ],
      [
        'temporal.tls.clientKeyFile',
        'file not found: /cfg/tls/c.key (relative to /cfg); the mTLS file for the Temporal frontend' +
          ' (Temporal Cloud: the client certificate and key for the namespace)',
      ],
    ]);
  });

  test('a missing file says what it is for and how to make it', () => {
    const tree = baseTree();
    tree.clusters.dev.ssh = { ...tree.clusters.dev.ssh, port: 2022, knownHostsFile: '/etc/cryoet/known_hosts' };
    const issues = parseIssues(stringify(tree), (p) => p !== '/etc/cryoet/known_hosts');
    assert.deepEqual(
      issues.map((i) => i.message),
      [
        "file not found: /etc/cryoet/known_hosts; the cluster's host key, pinned:" +
          ' ssh-keyscan -p 2022 127.0.0.1 > /etc/cryoet/known_hosts,' +
          " then check its fingerprint with the cluster's admin (an unknown host key is never accepted)",
      ],
    );
    tree.clusters.dev.ssh.knownHostsFile = '.dev/cluster/ssh/known_hosts';
    const dev = parseIssues(stringify(tree), (p) => !p.includes('/.dev/'));
    assert.match(
      dev[0]!.message,
      /; the dev cluster writes it: bash scripts\/dev-cluster\.sh start \(npm test and npm run demo do\)$/,
    );
  });

  test('relative local paths come back absolute; absolute ones unchanged', () => {
    const tree = baseTree();
    tree.clusters.dev.ssh.keyFile = '../keys/id';
    tree.clusters.dev.ssh.knownHostsFile = '/etc/ssh/ssh_known_hosts';
    tree.temporal = {
      configFile: 'env/temporal.toml',
      tls: { clientCertFile: 'c.pem', clientKeyFile: '/k.pem', serverCaFile: 'ca.pem' },
    };
    const config = parseOk(stringify(tree));
    assert.equal(config.clusters['dev']!.ssh.keyFile, '/keys/id');
    assert.equal(config.clusters['dev']!.ssh.knownHostsFile, '/etc/ssh/ssh_known_hosts');
    assert.equal(config.temporal.configFile, '/cfg/env/temporal.toml');
    assert.deepEqual(config.temporal.tls, {
      clientCertFile: '/cfg/c.pem',
      clientKeyFile: '/k.pem',
      serverCaFile: '/cfg/ca.pem',
    });
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
