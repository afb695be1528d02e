/**
 * The layers of src/, lowest first, and the import graph that keeps them: a module imports
 * (types included) only from its own layer or one below. report/ and cli/ sit above
 * workflows/ but reach into it only through the workflow entry points (the workflows they
 * start and the messages they send); their data types come from model/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../helpers/env.js';

/** Layer of each folder or top-level file of src/ (without `.ts`). */
const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'duration', 'shell', 'embedded'],
  ['model'],
  ['slurm', 'tools', 'config', 'ssh', 'search-attributes', 'campaign', 'scheduler'],
  ['activities'],
  ['workflows'],
  ['client', 'connection', 'namespace-setup', 'worker-heap', 'worker-log', 'worker-resources'],
  ['workflow-bundle', 'plugin', 'report', 'pictures', 'doctor'],
  ['cli', 'worker', 'cli-entry', 'index'],
];

/** The workflow modules code above workflows/ may import: what it starts, queries and updates. */
const WORKFLOW_ENTRY_POINTS = new Set(['index', 'operations', 'cluster-job', 'campaign', 'tilt-series', 'job-record']);

function unitOf(file: string): string {
  const parts = relative(join(repoRoot, 'src'), file).split('/');
  const unit = parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.ts$/, '');
  return unit === 'cli' && parts.length === 1 ? 'cli-entry' : unit;
}

function layerOf(unit: string): number {
  const layer = LAYERS.findIndex((units) => units.includes(unit));
  assert.ok(layer >= 0, `src/${unit} has no layer in test/unit/layers.test.ts: add it where it belongs`);
  return layer;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function localImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+['"](\.[^'"]+)['"]/gm)].map((m) => m[1]!);
  return specs.map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
}

test('every module imports only from its own layer or below', () => {
  const problems: string[] = [];
  for (const file of sources(join(repoRoot, 'src'))) {
    const from = unitOf(file);
    for (const target of localImports(file)) {
      const to = unitOf(target);
      const name = relative(repoRoot, target);
      if (layerOf(to) > layerOf(from)) problems.push(`${relative(repoRoot, file)} imports ${name} (a layer above)`);
      const entry = to === 'workflows' && WORKFLOW_ENTRY_POINTS.has(target.split('/').pop()!.replace(/\.ts$/, ''));
      if (to === 'workflows' && from !== 'workflows' && layerOf(from) > layerOf('workflows') && !entry) {
        problems.push(`${relative(repoRoot, file)} imports ${name}: not a workflow entry point`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test('the report and the CLI take their data types from model/, not from workflows/', () => {
  const problems: string[] = [];
  for (const dir of ['report', 'cli', 'pictures']) {
    for (const file of sources(join(repoRoot, 'src', dir))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*import\s+type\s[^'";]*?from\s+['"](\.[^'"]+)['"]/gm)) {
        if (m[1]!.includes('/workflows/')) problems.push(`${relative(repoRoot, file)}: import type from ${m[1]}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});
