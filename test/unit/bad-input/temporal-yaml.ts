/**
 * Bad-input rows: temporal.yaml, each loaded by loadConfig from a folder of its own.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config.js';
import { ErrorType } from '../../../src/errors.js';
import { type Row, WORK, nextFolder, esc, edit, located, unchanged } from './rows.js';

const CONFIG = readFileSync(new URL('../../fixtures/config/minimal.yaml', import.meta.url), 'utf8');

/**
 * A config row: `text` is the whole file, loaded from a folder of its own that has the ssh
 * key files. `message` may depend on that folder.
 */
function config(
  name: string,
  text: string,
  path: string,
  lineFragment: string | undefined,
  message: RegExp | ((dir: string) => RegExp),
): Row {
  const dir = join(WORK, `config-${nextFolder()}`);
  const file = join(dir, 'temporal.yaml');
  return {
    source: 'temporal.yaml',
    case: name,
    input: text,
    type: ErrorType.ConfigInvalid,
    message: located(file, text, lineFragment, path, typeof message === 'function' ? message(dir) : message),
    run: async () => {
      mkdirSync(join(dir, 'ssh'), { recursive: true });
      writeFileSync(join(dir, 'ssh', 'fake-key'), 'not a key\n');
      writeFileSync(join(dir, 'ssh', 'known_hosts'), '');
      writeFileSync(file, text);
      return unchanged(() => loadConfig(file));
    },
  };
}

const cfg = (from: string, to: string): string => edit(CONFIG, from, to);
const LADDER = '    - { partition: gpu, gres: "gpu:1" }\n';
const withGres = (gres: string): string => cfg('gres: "gpu:1"', `gres: ${JSON.stringify(gres)}`);
const SSH_LINE = 'ssh: { host: 127.0.0.1';
const MISSING_CONFIG = join(WORK, 'nowhere', 'temporal.yaml');

export const configRows: Row[] = [
  // unknown or misspelt keys
  config(
    'unknown top-level key',
    `${CONFIG}workers: 3\n`,
    'workers',
    'workers: 3',
    new RegExp(
      'unknown key \\(expected one of temporal, clusters, placement, gpuPrices, tools, paths, polling, ' +
        'timeouts, metrics\\)$',
    ),
  ),
  config(
    'misspelt placement key',
    cfg('placement:\n', 'placement:\n  hangAftr: 10m\n'),
    'placement.hangAftr',
    'hangAftr',
    /unknown key \(.*\); did you mean "hangAfter"\?$/,
  ),
  config(
    'misspelt key, wrong case',
    `${CONFIG}polling: { Interval: 5s }\n`,
    'polling.Interval',
    'polling:',
    new RegExp(
      'unknown key \\(expected one of interval, maxInterval, resultMarkers, markerInterval, shareAcrossWorkers\\); ' +
        'did you mean "interval"\\?$',
    ),
  ),
  config(
    'unknown stage under placement.stages',
    cfg('placement:\n', 'placement:\n  stages: { align: { hangAfter: 5m } }\n'),
    'placement.stages.align',
    'stages:',
    /unknown key \(expected one of probe, reconstruct, extract, refine, postprocess\)$/,
  ),
  // wrong types
  config(
    'partitions as a string',
    cfg('partitions: [gpu]', 'partitions: gpu'),
    'clusters.dev.partitions',
    'partitions:',
    /expected a list, got string "gpu"$/,
  ),
  config(
    'boolean as a word',
    cfg('placement:\n', 'placement:\n  excludeFailedNodes: "yes"\n'),
    'placement.excludeFailedNodes',
    'excludeFailedNodes',
    /expected true or false$/,
  ),
  config(
    'fractional resubmit count',
    cfg('placement:\n', 'placement:\n  onTimeout: { resubmit: 1.5 }\n'),
    'placement.onTimeout.resubmit',
    'onTimeout',
    /expected a whole number$/,
  ),
  config(
    'ssh as a list',
    cfg('{ host: 127.0.0.1, user: root, keyFile: ssh/fake-key, knownHostsFile: ssh/known_hosts }', '[127.0.0.1]'),
    'clusters.dev.ssh',
    'ssh: [',
    /expected a mapping, got a list$/,
  ),
  // bad durations
  config(
    'negative duration',
    cfg('placement:\n', 'placement:\n  hangAfter: -5m\n'),
    'placement.hangAfter',
    'hangAfter',
    /expected a duration such as .*, got "-5m" \(durations cannot be negative\)$/,
  ),
  config(
    'fractional duration',
    `${CONFIG}polling: { interval: 1.5s }\n`,
    'polling.interval',
    'polling:',
    /got "1\.5s" \(use whole numbers: 1m30s, not 1\.5m\)$/,
  ),
  config(
    'zero duration',
    `${CONFIG}timeouts: { job: 0s }\n`,
    'timeouts.job',
    'timeouts:',
    /expected a positive duration, got "0s"$/,
  ),
  config(
    'units out of order',
    cfg('placement:\n', 'placement:\n  excludeFailedNodesFor: 1m1h\n'),
    'placement.excludeFailedNodesFor',
    'excludeFailedNodesFor',
    /got "1m1h"$/,
  ),
  config(
    'bare number for a timeout',
    cfg('knownHostsFile: ssh/known_hosts', 'knownHostsFile: ssh/known_hosts, connectTimeout: 30'),
    'clusters.dev.ssh.connectTimeout',
    SSH_LINE,
    /got 30 \(a bare number has no unit: write 30s or 30ms\)$/,
  ),
  config(
    'empty duration',
    `${CONFIG}timeouts: { workerShutdownGrace: "" }\n`,
    'timeouts.workerShutdownGrace',
    'timeouts:',
    /expected a duration such as .*, got an empty string$/,
  ),
  // key and known_hosts files
  config(
    'missing key file',
    cfg('keyFile: ssh/fake-key', 'keyFile: ssh/missing-key'),
    'clusters.dev.ssh.keyFile',
    SSH_LINE,
    (dir) =>
      new RegExp(
        `file not found: ${esc(join(dir, 'ssh', 'missing-key'))} ` +
          `\\(relative to ${esc(dir)}\\); the SSH private key for `,
      ),
  ),
  config(
    'missing known_hosts file',
    cfg('knownHostsFile: ssh/known_hosts', 'knownHostsFile: /nonexistent/known_hosts'),
    'clusters.dev.ssh.knownHostsFile',
    SSH_LINE,
    /file not found: \/nonexistent\/known_hosts; the cluster's host key, pinned: ssh-keyscan/,
  ),
  config(
    'key file path with a NUL',
    cfg('keyFile: ssh/fake-key', 'keyFile: "ssh/fake-key\\0"'),
    'clusters.dev.ssh.keyFile',
    SSH_LINE,
    /a path may not contain NUL or line breaks$/,
  ),
  // ladders and gres
  config(
    'empty ladder',
    cfg(`  ladder:\n${LADDER}`, '  ladder: []\n'),
    'placement.ladder',
    'ladder:',
    /expected at least one rung$/,
  ),
  config(
    'empty ladder of one step',
    cfg('placement:\n', 'placement:\n  stages:\n    refine: { ladder: [] }\n'),
    'placement.stages.refine.ladder',
    'refine:',
    /expected at least one rung$/,
  ),
  config(
    'ladder as a mapping',
    cfg(`  ladder:\n${LADDER}`, '  ladder: { partition: gpu, gres: "gpu:1" }\n'),
    'placement.ladder',
    'ladder:',
    /expected a list, got a mapping$/,
  ),
  config('gres without a count', withGres('gpu'), 'placement.ladder[0].gres', 'gres:', /expected "gpu\[:type\]:N"$/),
  config('gres in capitals', withGres('GPU:1'), 'placement.ladder[0].gres', 'gres:', /expected "gpu\[:type\]:N"$/),
  config(
    'gres count in words',
    withGres('gpu:a10g:four'),
    'placement.ladder[0].gres',
    'gres:',
    /expected "gpu\[:type\]:N"$/,
  ),
  config(
    'gres with shell text',
    withGres('gpu:1;rm -rf /'),
    'placement.ladder[0].gres',
    'gres:',
    /expected "gpu\[:type\]:N"$/,
  ),
  // prices
  config(
    'negative price',
    `${CONFIG}gpuPrices: { default: -0.5 }\n`,
    'gpuPrices.default',
    'gpuPrices:',
    /expected a price ≥ 0 \(\$ per GPU-hour\)$/,
  ),
  config(
    'infinite price',
    `${CONFIG}gpuPrices: { t4: .inf }\n`,
    'gpuPrices.t4',
    'gpuPrices:',
    /expected a number, got number Infinity$/,
  ),
  config(
    'price as text',
    `${CONFIG}gpuPrices: { t4: "0.30" }\n`,
    'gpuPrices.t4',
    'gpuPrices:',
    /expected a number, got string "0\.30"$/,
  ),
  // the file as a whole
  config('YAML syntax error', cfg('partitions: [gpu]', 'partitions: [gpu'), '', 'workDir', /.+/),
  config('duplicate key', `${CONFIG}paths: { data: d, work: /w }\n`, '', 'work: /w }', /Map keys must be unique$/),
  config(
    'empty file',
    '# nothing\n',
    '',
    undefined,
    /the file is empty: expected a mapping with clusters, placement and paths$/,
  ),
  config(
    'non-loopback metrics address',
    `${CONFIG}metrics: { prometheus: "0.0.0.0:9464" }\n`,
    'metrics.prometheus',
    'metrics:',
    /expected a loopback host:port such as 127\.0\.0\.1:9464/,
  ),
  {
    source: 'temporal.yaml',
    case: 'config file missing',
    input: MISSING_CONFIG,
    type: ErrorType.ConfigInvalid,
    message: new RegExp(
      `^${esc(MISSING_CONFIG)}: cannot read config ` +
        `\\(file not found: ${esc(MISSING_CONFIG)}\\); set CRYOET_CONFIG or pass the path$`,
    ),
    run: () => unchanged(() => loadConfig(MISSING_CONFIG)),
  },
];
