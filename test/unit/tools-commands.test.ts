/**
 * AreTomo2 command lines, the campaign's parameters, and the job script's commands (commandsIn).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CryoError, ErrorType } from '../../src/errors.js';
import { aretomoCommand } from '../../src/tools/aretomo.js';
import { commandsIn } from '../../src/tools/job-script.js';
import { optimiserPath } from '../../src/tools/refine-iterations.js';
import { commandForRung, continueFrom } from '../../src/tools/rung-command.js';
import {
  dataPath,
  particlePixelSize,
  reconstructCommand,
  refineCommands,
  tomogramFile,
  tomogramPixelSize,
} from '../../src/tools/toolset.js';
import {
  PRODUCTION,
  EMBEDDED,
  SEED_ARETOMO,
  PRODUCTION_TOOLS,
  EMBEDDED_TOOLS,
  PRODUCTION_LAYOUT,
  rung,
  scriptLines,
  run,
} from '../helpers/tool-commands.js';

describe('campaign parameters (campaigns/empiar-10164.yaml)', () => {
  it('are the seed study parameters', () => {
    assert.deepEqual(PRODUCTION.reconstruction, {
      volZ: 2000,
      outBin: 6,
      patch: [0, 0],
      refineTiltAxis: true,
      wbp: true,
      flipVol: true,
      outImod: true,
    });
    assert.deepEqual(PRODUCTION.extraction, { box: 512, crop: 192, bin: 1, maxDose: 50, float16: true, stack2d: true });
    assert.equal(PRODUCTION.tiltSeries[0]!.name, 'TS_01');
    assert.equal(PRODUCTION.tiltSeries[0]!.pixelSize, 1.35);
  });
});

describe('aretomoCommand', () => {
  it('builds exactly the seed study AreTomo2 line from the production campaign', () => {
    const ts = PRODUCTION.tiltSeries[0]!;
    const argv = aretomoCommand(
      'AreTomo2',
      { inMrc: 'TS_01.mrc', outMrc: 'TS_01_aretomo.mrc', angFile: 'TS_01.rawtlt' },
      PRODUCTION.reconstruction,
      ts.pixelSize,
    );
    assert.equal(argv.join(' '), SEED_ARETOMO);
    assert.deepEqual(argv, SEED_ARETOMO.split(' '));
  });

  it('writes booleans as 0/1 and the patch as two numbers', () => {
    const argv = aretomoCommand(
      'A',
      { inMrc: 'i.mrc', outMrc: 'o.mrc', angFile: 'a.rawtlt' },
      { volZ: 64, outBin: 1, patch: [5, 4], wbp: false, flipVol: false, outImod: true, refineTiltAxis: true },
      10,
    );
    assert.deepEqual(argv, [
      'A',
      '-InMrc',
      'i.mrc',
      '-OutMrc',
      'o.mrc',
      '-AngFile',
      'a.rawtlt',
      '-VolZ',
      '64',
      '-OutBin',
      '1',
      '-Patch',
      '5',
      '4',
      '-Gpu',
      '0',
      '-Wbp',
      '0',
      '-PixSize',
      '10',
      '-FlipVol',
      '0',
      '-OutImod',
      '1',
    ]);
  });

  it('passes the nominal tilt axis as -TiltAxis, with -1 when it is not to be refined', () => {
    const files = { inMrc: 'i.mrc', outMrc: 'o.mrc', angFile: 'a.rawtlt' };
    const params = {
      volZ: 64,
      outBin: 1,
      patch: [0, 0] as [number, number],
      wbp: true,
      flipVol: true,
      outImod: true,
      tiltAxis: 85.3,
      refineTiltAxis: true,
    };
    assert.deepEqual(aretomoCommand('A', files, params, 10).slice(-2), ['-TiltAxis', '85.3']);
    assert.deepEqual(aretomoCommand('A', files, { ...params, refineTiltAxis: false }, 10).slice(-3), [
      '-TiltAxis',
      '85.3',
      '-1',
    ]);
  });

  it('reconstructCommand: the seed line with the staged binary and paths under the data/campaign folders', () => {
    const argv = reconstructCommand(PRODUCTION_TOOLS, PRODUCTION_LAYOUT, PRODUCTION, PRODUCTION.tiltSeries[0]!);
    const expectedAretomo =
      '/shared/work/bin/AreTomo2_1.1.2_Cuda121 -InMrc /shared/empiar-10164/tilt_series/TS_01.mrc ' +
      '-OutMrc tomograms/TS_01.mrc -AngFile /shared/empiar-10164/tilt_series/TS_01.rawtlt ' +
      '-VolZ 2000 -OutBin 6 -Patch 0 0 -Gpu 0 -Wbp 1 -PixSize 1.35 -FlipVol 1 -OutImod 1';
    assert.deepEqual(scriptLines(argv), [
      'set -euo pipefail',
      'mkdir -p -- /shared/work/empiar-10164',
      'cd -- /shared/work/empiar-10164',
      'mkdir -p tomograms',
      expectedAretomo,
    ]);
    // The builder runs the staged binary by its full path, reads the stack and angles from
    // dataDir and writes tomograms/<name>.mrc (the seed ran `AreTomo2` from PATH inside the
    // data folder and called its output TS_01_aretomo.mrc). Mapping those three differences
    // back gives the seed's tokens exactly.
    const seedNames: Record<string, string> = {
      '/shared/work/bin/AreTomo2_1.1.2_Cuda121': 'AreTomo2',
      '/shared/empiar-10164/tilt_series/TS_01.mrc': 'TS_01.mrc',
      '/shared/empiar-10164/tilt_series/TS_01.rawtlt': 'TS_01.rawtlt',
      'tomograms/TS_01.mrc': 'TS_01_aretomo.mrc',
    };
    assert.deepEqual(
      expectedAretomo.split(' ').map((t) => seedNames[t] ?? t),
      SEED_ARETOMO.split(' '),
    );
  });

  it('tomogram file and pixel sizes', () => {
    assert.equal(tomogramFile('TS_43'), 'tomograms/TS_43.mrc');
    assert.equal(tomogramPixelSize(PRODUCTION, PRODUCTION.tiltSeries[0]!), 1.35 * 6);
    assert.equal(tomogramPixelSize(EMBEDDED, EMBEDDED.tiltSeries[0]!), 10);
    assert.equal(particlePixelSize(PRODUCTION_TOOLS, PRODUCTION), 1.35);
    assert.equal(particlePixelSize(EMBEDDED_TOOLS, EMBEDDED), (10 * 32) / 24);
  });

  it('dataPath: relative under dataDir, absolute as given', () => {
    assert.equal(dataPath(PRODUCTION_LAYOUT, 'masks/mask_fsc.mrc'), '/shared/empiar-10164/masks/mask_fsc.mrc');
    assert.equal(dataPath(PRODUCTION_LAYOUT, '/elsewhere/ref.mrc'), '/elsewhere/ref.mrc');
  });
});

describe('commandsIn (job script)', () => {
  it('a bash -c script: set -euo pipefail, mkdir and cd into the folder, one line per command', () => {
    assert.deepEqual(
      commandsIn('/w/c1', [
        ['echo', 'a'],
        ['ls', '-l'],
      ]),
      ['bash', '-c', 'set -euo pipefail\nmkdir -p -- /w/c1\ncd -- /w/c1\necho a\nls -l'],
    );
  });

  it('quotes folder names and arguments with spaces and quotes', () => {
    assert.deepEqual(scriptLines(commandsIn("/w/it's a dir", [['echo', 'a b', 'say "hi"', "it's", '']])), [
      'set -euo pipefail',
      `mkdir -p -- '/w/it'\\''s a dir'`,
      `cd -- '/w/it'\\''s a dir'`,
      `echo 'a b' 'say "hi"' 'it'\\''s' ''`,
    ]);
  });

  it('no commands, or a NUL byte, throws', () => {
    assert.throws(() => commandsIn('/w', []), /commandsIn: no commands/);
    assert.throws(
      () => commandsIn('/w', [['echo', 'a\0b']]),
      (err: unknown) => err instanceof CryoError && err.type === ErrorType.NameInvalid,
    );
  });

  it('bash parses the script (bash -n) and reads every argument back byte for byte', () => {
    const base = mkdtempSync(join(tmpdir(), 'cryoet-cmds-'));
    try {
      const dir = join(base, `a dir with 'quotes' "and" $HOME \`x\` spaces`);
      const odd = [
        'a b',
        "it's",
        'say "hi"',
        '$HOME',
        '`whoami`',
        '$(echo no)',
        '',
        '*',
        'line1\nline2',
        'semi;colon',
        'back\\slash',
        'if',
      ];
      const argv = commandsIn(dir, [['printf', '[%s]\\n', ...odd], ['pwd']]);
      const syntax = run(['bash', '-n', '-c', argv[2]!]);
      assert.equal(syntax.status, 0, syntax.stderr);
      const result = run(argv, base);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, odd.map((a) => `[${a}]\n`).join('') + `${dir}\n`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('the first failing command fails the script; later ones do not run', () => {
    const base = mkdtempSync(join(tmpdir(), 'cryoet-cmds-'));
    try {
      const result = run(commandsIn(join(base, 'x'), [['echo', 'before'], ['false'], ['echo', 'after']]));
      assert.equal(result.status, 1);
      assert.equal(result.stdout, 'before\n');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('a production refine script filled in for its rung is valid bash', () => {
    const { command, resume } = refineCommands(
      PRODUCTION_TOOLS,
      PRODUCTION_LAYOUT,
      PRODUCTION,
      'Extract/optimisation_set.star',
    );
    for (const argv of [
      commandForRung(command, rung('gpu:a10g:4')),
      commandForRung(continueFrom(resume, optimiserPath('Refine3D/run', 3)), rung('gpu:1')),
    ]) {
      const r = run(['bash', '-n', '-c', argv[2]!]);
      assert.equal(r.status, 0, r.stderr);
    }
  });
});
