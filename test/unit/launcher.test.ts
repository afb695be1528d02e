/**
 * bin/cryoet, the launcher npm links as the `cryoet` command: it follows npm's links to
 * find bin/cryoet.js, starts node with MALLOC_ARENA_MAX=2 unless the caller set it, and
 * passes the arguments through untouched. A stand-in `node` first on PATH prints what it
 * was given, so the launcher's own logic is what is checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { repoRoot } from '../helpers/env.js';

const launcher = join(repoRoot, 'bin', 'cryoet');

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'cryoet-launcher-'));
  const fakeBin = join(dir, 'fake-bin');
  mkdirSync(fakeBin);
  // Stand-in for node: prints the variable and each argument on its own line.
  writeFileSync(
    join(fakeBin, 'node'),
    '#!/bin/sh\necho "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX-unset}"\nfor a in "$@"; do echo "arg=$a"; done\n',
  );
  chmodSync(join(fakeBin, 'node'), 0o755);
  // npm's layout: node_modules/.bin/cryoet -> ../cryoet-temporal/bin/cryoet (relative), and
  // a second absolute link on top of it.
  const dotBin = join(dir, 'node_modules', '.bin');
  mkdirSync(dotBin, { recursive: true });
  symlinkSync(relative(dotBin, launcher), join(dotBin, 'cryoet'));
  symlinkSync(join(dotBin, 'cryoet'), join(dir, 'cryoet'));
  return { fakeBin, viaLinks: join(dir, 'cryoet') };
}

function run(cmd: string, args: string[], env: Record<string, string | undefined>, fakeBin: string) {
  const { MALLOC_ARENA_MAX: _drop, ...base } = process.env;
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...base, ...env, PATH: `${fakeBin}:${process.env.PATH}` },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

test(
  'the cryoet launcher, reached through npm-style links, runs bin/cryoet.js with MALLOC_ARENA_MAX=2 ' +
    'and the arguments as given',
  () => {
    const { fakeBin, viaLinks } = setup();
    const [env, script, ...rest] = run(
      viaLinks,
      ['worker', '--config', 'a file with spaces.yaml', '$HOME;x'],
      {},
      fakeBin,
    );
    // The script path as the links spell it (…/node_modules/.bin/../…): the same file.
    assert.deepEqual(
      [env, `arg=${resolve(script!.slice('arg='.length))}`, ...rest],
      [
        'MALLOC_ARENA_MAX=2',
        `arg=${join(repoRoot, 'bin', 'cryoet.js')}`,
        'arg=worker',
        'arg=--config',
        'arg=a file with spaces.yaml',
        'arg=$HOME;x',
      ],
    );
  },
);

test('the cryoet launcher keeps a MALLOC_ARENA_MAX the caller set', () => {
  const { fakeBin } = setup();
  const lines = run(launcher, ['status', 'x'], { MALLOC_ARENA_MAX: '4' }, fakeBin);
  assert.equal(lines[0], 'MALLOC_ARENA_MAX=4');
  assert.equal(lines[1], `arg=${join(repoRoot, 'bin', 'cryoet.js')}`);
});
