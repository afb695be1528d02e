/**
 * `npm run lint` (and a step of `npm test`): Prettier's check of our TypeScript, then no line
 * over 120 characters in src/, test/, bench/ or scripts/ (Prettier leaves long strings and
 * comments as they are; a long message is built from named parts). Fixtures are data.
 *
 *   tsx scripts/check-style.ts        exits 1 and lists each file and line that fails
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_LINE = 120;
const root = fileURLToPath(new URL('..', import.meta.url));
const FOLDERS = ['src', 'test', 'bench', 'scripts'];
const SKIPPED = new Set(['node_modules', 'fixtures', 'histories']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return /\.(ts|mjs|sh|py)$/.test(entry.name) ? [path] : [];
  });
}

const prettier = spawnSync('npx', ['--no-install', 'prettier', '--check', '--log-level=warn', '.'], {
  cwd: root,
  stdio: 'inherit',
});
const long: string[] = [];
for (const file of FOLDERS.flatMap((folder) => sources(join(root, folder)))) {
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.length > MAX_LINE) long.push(`${relative(root, file)}:${i + 1}: ${line.length} characters`);
    });
}
for (const line of long) console.error(line);
if (long.length > 0) console.error(`${long.length} line(s) over ${MAX_LINE} characters: split them`);
if (prettier.status !== 0) console.error('prettier: files not formatted; run `npm run format`');
process.exit(prettier.status === 0 && long.length === 0 ? 0 : 1);
