#!/usr/bin/env node
// The `cryoet` command's program (bin/cryoet, the launcher npm links, runs it under node
// with MALLOC_ARENA_MAX=2). Runs the compiled JavaScript in lib/ when it was built from the
// current sources (scripts/setup.sh builds it), else the TypeScript through tsx's loader.
// lib/ keeps a long-lived worker ~30 MB smaller: tsx's loader runs on a thread of its own.
// CRYOET_TSX=1 forces the TypeScript path.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceStamp } from './source-stamp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let built = false;
// CRYOET_TSX=1 runs the TypeScript even when lib/ is current (debugging, side-by-side measurements).
if (process.env.CRYOET_TSX !== '1') try {
  built = readFileSync(join(root, 'lib', '.source-stamp'), 'utf8').trim() === sourceStamp(root);
} catch {
  // No lib/ yet.
}
let main;
if (built) {
  ({ main } = await import('../lib/cli.js'));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
