/**
 * The workflow bundle for long-lived workers, built once per source version in a child
 * process and cached on disk. Bundling in-process leaves ~110 MB of webpack heap in the
 * worker for its whole life (measured: 328 → 218 MB RSS idle with a prebuilt bundle).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every file whose change changes the bundle: sources, the lockfile. */
function sourceHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) hash.update(path).update(readFileSync(path));
    }
  };
  walk(join(root, 'src'));
  hash.update(readFileSync(join(root, 'package-lock.json')));
  return hash.digest('hex').slice(0, 16);
}

/** Path of an up-to-date bundle, building it first when needed. */
export async function prebuiltWorkflowBundle(cacheDir = join(root, '.dev', 'cache')): Promise<string> {
  const file = join(cacheDir, `workflow-bundle-${sourceHash()}.js`);
  if (!existsSync(file)) {
    mkdirSync(cacheDir, { recursive: true });
    await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(root, 'scripts', 'bundle-workflows.ts'), file],
      { cwd: root, maxBuffer: 16 * 1024 * 1024 },
    );
  }
  return file;
}
