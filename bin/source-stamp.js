// The stamp of the TypeScript sources that lib/ (the compiled JavaScript) was built from:
// sha256 over every src/**/*.ts (path and content) and the lockfile. Plain JavaScript, so
// bin/cryoet.js can check it before any TypeScript loader is registered.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Stamp of the sources under `root` (the repository). */
export function sourceStamp(root) {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) hash.update(path.slice(root.length)).update(readFileSync(path));
    }
  };
  walk(join(root, 'src'));
  hash.update(readFileSync(join(root, 'package-lock.json')));
  return hash.digest('hex');
}
