/**
 * temporal.yaml broken one thing at a time: each row edits a small valid config and expects
 * exactly its issues (path and message), each with a line.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { formatConfigIssues } from '../../src/config.js';
import { baseTree, parseIssues, type Tree } from '../helpers/config-parse.js';

// Each broken row changes one thing of a small valid config (baseTree).

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
