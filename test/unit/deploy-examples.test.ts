/**
 * The deployment guide's example configs (docs/examples/*.yaml) are valid temporal.yaml files:
 * the schema and every cross-field rule, with the local files (keys, known_hosts, TLS) taken
 * as present, as `cryoet config check --schema-only` checks them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config.js';
import { repoRoot } from '../helpers/env.js';

const DIR = join(repoRoot, 'docs', 'examples');

describe('deployment guide examples', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

  test('there is at least the ParallelCluster one', () =>
    assert.ok(files.includes('parallelcluster.yaml'), files.join(', ')));

  for (const file of files) {
    test(`${file} is a valid temporal.yaml`, () => {
      const result = parseConfig(readFileSync(join(DIR, file), 'utf8'), {
        fileName: file,
        baseDir: DIR,
        fileExists: () => true,
      });
      assert.ok(result.ok, result.ok ? '' : result.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
      assert.equal(result.config.tools.profile, 'production');
      assert.ok(result.config.temporal.tls, 'the example uses mTLS');
    });
  }
});
