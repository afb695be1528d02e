// Compiles src/ to lib/ (JavaScript + source maps) unless lib/ already matches the sources;
// bin/cryoet.js runs lib/ only when its stamp matches. Idempotent; run by scripts/setup.sh.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceStamp } from '../bin/source-stamp.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stampFile = join(root, 'lib', '.source-stamp');
const stamp = sourceStamp(root);
if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) process.exit(0);
rmSync(join(root, 'lib'), { recursive: true, force: true });
const tsc = join(root, 'node_modules', '.bin', 'tsc');
execFileSync(tsc, ['-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
writeFileSync(stampFile, `${stamp}\n`);
console.log('setup: compiled src/ to lib/');
