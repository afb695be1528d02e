/**
 * The result-marker check the watcher runs between status calls: the shell command, run
 * by bash on real files, prints exactly the paths that exist, however they are spelt.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildMarkerCheckCommand } from '../../src/activities/status-query.js';

describe('buildMarkerCheckCommand', () => {
  it('prints the markers that exist and only those, names with spaces, quotes and $ included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cryoet-marker-'));
    try {
      const names = ['cryoet.c1.refine.refine-1', "it's here", 'a b $(touch pwned) `x`', 'not-there', '-n'];
      const paths = names.map((n) => join(dir, n, 'result'));
      for (const [i, p] of paths.entries()) {
        if (names[i] === 'not-there') continue;
        mkdirSync(join(p, '..'), { recursive: true });
        writeFileSync(p, 'exit_code=0\n');
      }
      const out = execFileSync('bash', ['-c', buildMarkerCheckCommand(paths)], { cwd: dir, encoding: 'utf8' });
      assert.deepEqual(
        out.split('\n').filter(Boolean),
        paths.filter((_, i) => names[i] !== 'not-there'),
      );
      assert.throws(() => execFileSync('test', ['-e', join(dir, 'pwned')]), 'nothing in a name ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits 0 with nothing printed when no marker exists yet', () => {
    const out = execFileSync(
      'bash',
      ['-c', buildMarkerCheckCommand(['/nonexistent/cryoet/a/result', '/nonexistent/cryoet/b/result'])],
      { encoding: 'utf8' },
    );
    assert.equal(out, '');
  });
});
