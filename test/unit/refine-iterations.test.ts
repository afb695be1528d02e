import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { half1ModelPath, iterationParts, optimiserPath, refineProgress } from '../../src/tools/refine-iterations.js';

/** The six files that make an iteration complete. */
const PARTS = [
  'optimiser.star',
  'data.star',
  'half1_model.star',
  'half2_model.star',
  'half1_class001.mrc',
  'half2_class001.mrc',
];

const it3 = (n: number): string => String(n).padStart(3, '0');

/** Every file RELION writes for iteration `n` of `root` (the six that count, plus sampling.star). */
function iteration(root: string, n: number, except: readonly string[] = []): string[] {
  return [...PARTS, 'sampling.star'].filter((p) => !except.includes(p)).map((p) => `${root}_it${it3(n)}_${p}`);
}

function iterations(root: string, from: number, to: number): string[] {
  const names: string[] = [];
  for (let n = from; n <= to; n++) names.push(...iteration(root, n));
  return names;
}

/** What an auto-refine writes when it converges. */
const FINAL = [
  'run_data.star',
  'run_model.star',
  'run_class001.mrc',
  'run_half1_class001_unfil.mrc',
  'run_half2_class001_unfil.mrc',
  'run_optimiser.star',
  'run_sampling.star',
];

describe('refineProgress', () => {
  it('nothing started: empty folder, or only unrelated files', () => {
    const empty = { started: [], partial: [], finished: false };
    assert.deepEqual(refineProgress([], 'run'), empty);
    assert.deepEqual(
      refineProgress(['job.log', 'note.txt', 'run.out', 'run.err', 'default_pipeline.star'], 'run'),
      empty,
    );
  });

  it('iterations 0..3 complete', () => {
    assert.deepEqual(refineProgress(iterations('run', 0, 3), 'run'), {
      started: [0, 1, 2, 3],
      newestComplete: 3,
      partial: [],
      finished: false,
    });
  });

  it('file order does not matter', () => {
    const names = iterations('run', 0, 3).reverse();
    assert.deepEqual(refineProgress(names, 'run'), {
      started: [0, 1, 2, 3],
      newestComplete: 3,
      partial: [],
      finished: false,
    });
  });

  for (const missing of PARTS) {
    it(`iteration 4 without ${missing} is partial; 3 is the newest complete`, () => {
      const names = [...iterations('run', 0, 3), ...iteration('run', 4, [missing])];
      assert.deepEqual(refineProgress(names, 'run'), {
        started: [0, 1, 2, 3, 4],
        newestComplete: 3,
        partial: [4],
        finished: false,
      });
    });
  }

  it('sampling.star is not needed for a complete iteration', () => {
    const names = iteration('run', 0, ['sampling.star']);
    assert.deepEqual(refineProgress(names, 'run'), { started: [0], newestComplete: 0, partial: [], finished: false });
  });

  it('only the optimiser of iteration 0 (ranks write it first): started, partial, none complete', () => {
    assert.deepEqual(refineProgress(['run_it000_optimiser.star'], 'run'), {
      started: [0],
      partial: [0],
      finished: false,
    });
  });

  it('several partial iterations above the newest complete one', () => {
    const names = [
      ...iterations('run', 0, 2),
      'run_it003_optimiser.star',
      'run_it003_data.star',
      'run_it004_half2_class001.mrc',
    ];
    assert.deepEqual(refineProgress(names, 'run'), {
      started: [0, 1, 2, 3, 4],
      newestComplete: 2,
      partial: [3, 4],
      finished: false,
    });
  });

  it('an incomplete iteration below a complete one is not partial', () => {
    const names = [...iteration('run', 0), ...iteration('run', 1, ['data.star']), ...iteration('run', 2)];
    assert.deepEqual(refineProgress(names, 'run'), {
      started: [0, 1, 2],
      newestComplete: 2,
      partial: [],
      finished: false,
    });
  });

  it('finished: <root>_model.star and <root>_half1_class001_unfil.mrc', () => {
    const names = [...iterations('run', 0, 17), ...FINAL];
    const all = refineProgress(names, 'run');
    assert.equal(all.finished, true);
    assert.equal(all.newestComplete, 17);
    assert.deepEqual(all.partial, []);
    assert.equal(all.started.length, 18);
  });

  it('not finished with only one of the two final files', () => {
    const done = iterations('run', 0, 2);
    assert.equal(refineProgress([...done, 'run_model.star'], 'run').finished, false);
    assert.equal(refineProgress([...done, 'run_half1_class001_unfil.mrc'], 'run').finished, false);
    assert.equal(refineProgress([...done, 'run_class001.mrc', 'run_data.star'], 'run').finished, false);
    assert.equal(refineProgress([...done, 'run_model.star', 'run_half1_class001_unfil.mrc'], 'run').finished, true);
  });

  it('other runs in the same folder are ignored', () => {
    const names = [
      ...iterations('run', 0, 1),
      ...iteration('run', 2, ['half2_model.star']),
      // Other roots: longer names sharing the prefix, a continued run, another job's files.
      ...iterations('run2', 0, 9),
      ...iterations('run_ct5', 5, 9),
      ...iterations('myrun', 0, 9),
      ...iterations('Run', 0, 9),
      'run2_model.star',
      'run2_half1_class001_unfil.mrc',
      'run_ct5_model.star',
      'run_ct5_half1_class001_unfil.mrc',
    ];
    assert.deepEqual(refineProgress(names, 'run'), {
      started: [0, 1, 2],
      newestComplete: 1,
      partial: [2],
      finished: false,
    });
    assert.deepEqual(refineProgress(names, 'run2'), {
      started: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      newestComplete: 9,
      partial: [],
      finished: true,
    });
  });

  it('a root with regular-expression characters is matched literally', () => {
    const names = [...iterations('r.n', 0, 1), ...iterations('rXn', 0, 5)];
    assert.deepEqual(refineProgress(names, 'r.n'), {
      started: [0, 1],
      newestComplete: 1,
      partial: [],
      finished: false,
    });
  });

  it('iteration numbers beyond 999 and names that are not iterations', () => {
    const names = [...iteration('run', 1000), 'run_it01_optimiser.star', 'run_itABC_optimiser.star', 'run_it999'];
    assert.deepEqual(refineProgress(names, 'run'), {
      started: [1000],
      newestComplete: 1000,
      partial: [],
      finished: false,
    });
  });

  it('started iterations sort numerically', () => {
    const names = ['run_it010_data.star', 'run_it002_data.star', 'run_it100_data.star', 'run_it009_data.star'];
    assert.deepEqual(refineProgress(names, 'run').started, [2, 9, 10, 100]);
  });
});

describe('iteration file paths', () => {
  it('optimiserPath: zero-padded to three digits', () => {
    assert.equal(optimiserPath('Refine3D/run', 0), 'Refine3D/run_it000_optimiser.star');
    assert.equal(optimiserPath('Refine3D/run', 6), 'Refine3D/run_it006_optimiser.star');
    assert.equal(optimiserPath('Refine3D/run', 17), 'Refine3D/run_it017_optimiser.star');
    assert.equal(optimiserPath('run', 123), 'run_it123_optimiser.star');
    assert.equal(optimiserPath('run', 1234), 'run_it1234_optimiser.star');
  });

  it('half1ModelPath: zero-padded to three digits', () => {
    assert.equal(half1ModelPath('Refine3D/run', 6), 'Refine3D/run_it006_half1_model.star');
    assert.equal(half1ModelPath('Refine3D/run', 42), 'Refine3D/run_it042_half1_model.star');
    assert.equal(half1ModelPath('/abs/Refine3D/run', 100), '/abs/Refine3D/run_it100_half1_model.star');
  });

  it('the paths name files refineProgress counts', () => {
    const names = iteration('run', 7).map((n) => `Refine3D/${n}`);
    assert.ok(names.includes(optimiserPath('Refine3D/run', 7)));
    assert.ok(names.includes(half1ModelPath('Refine3D/run', 7)));
  });
});

describe('refineProgress on RELION 5 (the file names of a real RELION 5.0.1 auto-refine)', () => {
  const listing = readFileSync(new URL('../fixtures/relion5-refine-listing.txt', import.meta.url), 'utf8')
    .trim()
    .split('\n');
  const suffixes = (n: number) =>
    listing
      .filter((f) => f.startsWith(`run_it${it3(n)}_`))
      .map((f) => f.slice('run_itNNN_'.length))
      .sort();

  it('the rule is exactly what RELION 5 writes per iteration: ten files for iteration 0, twelve after', () => {
    assert.deepEqual(suffixes(0), [...iterationParts('5', 0)].sort());
    for (let n = 1; n <= 19; n++) assert.deepEqual(suffixes(n), [...iterationParts('5', n)].sort(), `iteration ${n}`);
  });

  it(
    'the converged folder: iterations 0..19 complete, finished; ' +
      'the last pass wrote only its unfiltered half maps as 20',
    () => {
      const p = refineProgress(listing, 'run', '5');
      assert.equal(p.newestComplete, 19);
      assert.deepEqual(p.partial, [20]);
      assert.equal(p.finished, true);
    },
  );

  for (const missing of iterationParts('5', 7)) {
    it(`iteration 7 without ${missing} (killed mid-write) is partial; 6 is the newest complete`, () => {
      const cut = listing.filter(
        (f) => f.startsWith('run_it') && f.slice(6, 9) <= '007' && f !== `run_it007_${missing}`,
      );
      const p = refineProgress(cut, 'run', '5');
      assert.equal(p.newestComplete, 6);
      assert.deepEqual(p.partial, [7]);
      assert.equal(p.finished, false);
    });
  }

  it('a folder that has the last iteration but not yet the final sampling.star is not finished', () => {
    assert.equal(
      refineProgress(
        listing.filter((f) => f !== 'run_sampling.star'),
        'run',
        '5',
      ).finished,
      false,
    );
  });

  it('the RELION 3.1 rule would call an iteration complete that RELION 5 has not finished writing', () => {
    const cut = listing.filter(
      (f) => f.slice(6, 9) <= '007' && f.startsWith('run_it') && f !== 'run_it007_optimisation_set.star',
    );
    assert.equal(refineProgress(cut, 'run', '3.1').newestComplete, 7);
    assert.equal(refineProgress(cut, 'run', '5').newestComplete, 6);
  });
});
