import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryoError } from '../../src/errors.js';
import { buildDependencyUpdateArgs, parseDependencyUpdate } from '../../src/slurm/dependency.js';

describe('buildDependencyUpdateArgs', () => {
  it('re-points a job at the jobs given, afterok, colon-separated', () => {
    assert.deepEqual(buildDependencyUpdateArgs('17', ['18']), [
      'scontrol',
      'update',
      'JobId=17',
      'Dependency=afterok:18',
    ]);
    assert.deepEqual(buildDependencyUpdateArgs('17', ['18', '19_2']), [
      'scontrol',
      'update',
      'JobId=17',
      'Dependency=afterok:18:19_2',
    ]);
  });

  it('leaves out the nodes given (found bad since the job was queued), each once', () => {
    assert.deepEqual(buildDependencyUpdateArgs('17', ['18'], ['n1', 'n2', 'n1']), [
      'scontrol',
      'update',
      'JobId=17',
      'Dependency=afterok:18',
      'ExcNodeList=n1,n2',
    ]);
    assert.throws(() => buildDependencyUpdateArgs('17', ['18'], ['n1;reboot']), CryoError);
  });

  it('clears the dependency when no job is left', () => {
    assert.deepEqual(buildDependencyUpdateArgs('17', []), ['scontrol', 'update', 'JobId=17', 'Dependency=']);
  });

  it('refuses ids that are not job ids, naming them', () => {
    for (const bad of ['17;rm -rf /', '', 'x', '1 2']) {
      assert.throws(
        () => buildDependencyUpdateArgs(bad, ['18']),
        (err: unknown) => err instanceof CryoError && err.message.includes(JSON.stringify(bad)),
      );
      assert.throws(() => buildDependencyUpdateArgs('17', ['18', bad]), CryoError);
    }
  });
});

describe('parseDependencyUpdate', () => {
  // Slurm 22.05, measured on the dev cluster: a job pending with DependencyNeverSatisfied
  // takes the update (exit 0, nothing printed); an ended one refuses.
  it('reads an update, an ended job, and anything else as unknown', () => {
    assert.equal(parseDependencyUpdate(0, ''), 'updated');
    assert.equal(parseDependencyUpdate(1, 'Job has already finished for job 14\n'), 'ended');
    assert.equal(parseDependencyUpdate(1, 'slurm_update error: Invalid job id specified\n'), 'ended');
    assert.equal(
      parseDependencyUpdate(1, 'slurm_update error: Unable to contact slurm controller (connect failure)\n'),
      undefined,
    );
    assert.equal(parseDependencyUpdate(1, 'Job dependency problem\n'), undefined);
  });
});
