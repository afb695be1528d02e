/**
 * Workflow files run in Temporal's deterministic sandbox: they may import only the
 * workflow SDK, @temporalio/common and our pure modules (model/, slurm/, tools/, search attributes, step costs,
 * errors), and other modules with `import type`. This walks the real import graph of
 * src/workflows, so a slip anywhere below a workflow is caught, not just in its own file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../helpers/env.js';

const allowedPackages = new Set(['@temporalio/workflow', '@temporalio/common']);
const allowedFolders = ['src/workflows/', 'src/model/', 'src/slurm/', 'src/shell/', 'src/tools/'];
const allowedFiles = new Set([
  'src/errors.ts',
  'src/search-attributes.ts',
  'src/campaign/job-summary.ts',
  'src/campaign/step-intervals.ts',
]);

function valueImports(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    if (!m[2]) specs.push(m[3]!);
  }
  for (const m of source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specs.push(m[1]!);
  return specs;
}

test('workflow code imports only sandbox-safe modules, transitively', () => {
  const problems: string[] = [];
  const seen = new Set<string>();
  const queue = readdirSync(join(repoRoot, 'src/workflows'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(repoRoot, 'src/workflows', f));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of valueImports(readFileSync(file, 'utf8'))) {
      const from = relative(repoRoot, file);
      if (!spec.startsWith('.')) {
        if (!allowedPackages.has(spec)) problems.push(`${from} imports ${spec}`);
        continue;
      }
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      const rel = relative(repoRoot, target);
      if (!allowedFiles.has(rel) && !allowedFolders.some((f) => rel.startsWith(f)))
        problems.push(`${from} imports ${rel} (use import type, or move the code to a pure module)`);
      else queue.push(target);
    }
  }
  assert.ok(seen.size >= 5, `walked ${seen.size} files`);
  assert.deepEqual(problems, []);
});
