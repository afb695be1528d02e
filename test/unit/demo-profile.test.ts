import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demoConfig } from '../../src/cli/demo.js';
import { CliError } from '../../src/cli/errors.js';
import type { CryoConfig } from '../../src/config.js';

const config = {
  tools: { profile: 'embedded', mpirun: ['mpirun'], threads: 1, probeArgs: [] },
} as unknown as CryoConfig;

describe('npm run demo -- --profile', () => {
  it('keeps the config profile when not given; switches to relion5 or embedded', () => {
    assert.equal(demoConfig(config, undefined), config);
    assert.equal(demoConfig(config, 'relion5').tools.profile, 'relion5');
    assert.equal(demoConfig(config, 'embedded').tools.profile, 'embedded');
  });

  it('refuses production and unknown names with exit code 2, naming the choices', () => {
    for (const bad of ['production', 'relion6']) {
      assert.throws(
        () => demoConfig(config, bad),
        (err: unknown) =>
          err instanceof CliError && err.exitCode === 2 && /expected embedded or relion5/.test(err.message),
      );
    }
  });
});
