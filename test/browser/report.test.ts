/**
 * The HTML report in a real browser: the fixture run record rendered by renderReport,
 * written to a temp file and opened with file:// in Debian's chromium (playwright-core).
 * Each plot (FSC, iterations, timeline, cost) is present, visible and has a size, the FSC
 * plot labels its 0.143 line, the timeline has one row per cluster step, and the page
 * logs no errors. Its pictures are real: a synthetic dataset's tilt series reconstructed by
 * the AreTomo2 stand-in (two tomograms) and a map, read and drawn by src/pictures/; each
 * picture is decoded and drawn by the browser. Full-page screenshot:
 * .dev/artifacts/browser/report.png; the pictures alone: report-pictures.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { renderReport } from '../../src/report/index.js';
import type { RunRecord } from '../../src/model/campaign-status.js';
import { ARTIFACTS_DIR, launchBrowser, openPage, screenshot, type TestPage } from '../helpers/browser.js';
import { ARETOMO2_STANDIN, EMBEDDED_PYTHON, MAKE_DATASET } from '../../src/embedded.js';
import { openLocal, readReportPictures } from '../../src/pictures/read.js';
import { repoRoot } from '../helpers/env.js';

const PLOTS = ['fsc-plot', 'iterations-plot', 'timeline', 'cost-plot'] as const;

describe('HTML report in chromium', () => {
  let record: RunRecord;
  let dir: string;
  let browser: Browser;
  let tab: TestPage;
  let pictureCount = 0;

  before(async () => {
    record = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'run-record.json'), 'utf8')) as RunRecord;
    assert.ok(
      record.steps.length > 0 && record.fsc.length > 0 && record.iterations.length > 0,
      'the fixture has steps, FSC and iterations to plot',
    );
    dir = mkdtempSync(join(tmpdir(), 'cryoet-report-'));
    const data = join(dir, 'data');
    execFileSync(EMBEDDED_PYTHON, [MAKE_DATASET, '--out', data, '--size', '128,128,48', '--particles', '8'], {
      stdio: 'ignore',
      timeout: 300_000,
    });
    const tomograms = ['TS_01', 'TS_03'].map((name) => {
      const out = join(dir, `${name}.mrc`);
      execFileSync(
        EMBEDDED_PYTHON,
        [
          ARETOMO2_STANDIN,
          '-InMrc',
          join(data, `${name}.mrc`),
          '-OutMrc',
          out,
          '-AngFile',
          join(data, `${name}.rawtlt`),
          '-VolZ',
          '48',
          '-OutBin',
          '1',
          '-FlipVol',
          '1',
          '-Wbp',
          '1',
        ],
        { stdio: 'ignore', timeout: 300_000 },
      );
      return { name, tomogram: out };
    });
    mkdirSync(join(dir, 'PostProcess'));
    const map = join(dir, 'PostProcess', 'postprocess_masked.mrc');
    copyFileSync(join(data, 'truth', 'particle_refine.mrc'), map);
    const drawn = { ...record, tiltSeries: tomograms, outputs: [{ ...record.outputs[0]!, path: map }] };
    const pictures = await readReportPictures(drawn, openLocal);
    assert.deepEqual(pictures.notes, []);
    pictureCount = pictures.tiltSeries.length * 2 + (pictures.map?.pictures.length ?? 0);
    assert.equal(pictureCount, 8);
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport(record, { generatedAt: '2026-11-30T12:30:00.000Z', pictures }));
    browser = await launchBrowser();
    tab = await openPage(browser);
    await tab.page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  });

  after(async () => {
    await tab?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every plot is present, visible and has a size', async () => {
    const { page } = tab;
    for (const id of PLOTS) {
      const plot = page.locator(`#${id}`);
      assert.equal(await plot.count(), 1, `exactly one #${id}`);
      await plot.waitFor({ state: 'visible' });
      const box = await plot.boundingBox();
      assert.ok(box && box.width > 0 && box.height > 0, `#${id} has a non-zero size (${JSON.stringify(box)})`);
      assert.equal(await page.locator(`#${id}-empty`).count(), 0, `#${id} is a plot, not a "no data" note`);
    }
  });

  test('the FSC plot labels its 0.143 line', async () => {
    const label = tab.page.locator('#fsc-plot text').filter({ hasText: /^\s*0\.143\s*$/ });
    assert.ok((await label.count()) >= 1, 'a 0.143 label in #fsc-plot');
    await label.first().waitFor({ state: 'visible' });
    const box = await label.first().boundingBox();
    assert.ok(box && box.width > 0 && box.height > 0, '0.143 label has a size');
  });

  test('the timeline has one row per step', async () => {
    const rows = tab.page.locator('#timeline .row');
    assert.equal(await rows.count(), record.steps.length, `#timeline rows = ${record.steps.length} steps`);
    for (let i = 0; i < record.steps.length; i++) {
      const box = await rows.nth(i).boundingBox();
      assert.ok(box && box.height > 0, `timeline row ${i} is drawn`);
    }
  });

  test('every picture of the tomograms and the map is decoded and drawn', async () => {
    const { page } = tab;
    const imgs = page.locator('#pictures img');
    assert.equal(await imgs.count(), pictureCount, 'two per tomogram, four of the map');
    for (let i = 0; i < pictureCount; i++) {
      const img = imgs.nth(i);
      await img.scrollIntoViewIfNeeded();
      await img.waitFor({ state: 'visible' });
      const drawn = await img.evaluate((el) => {
        const i = el as HTMLImageElement;
        return {
          complete: i.complete,
          natural: i.naturalWidth * i.naturalHeight,
          shown: i.getBoundingClientRect().width,
        };
      });
      assert.ok(drawn.complete && drawn.natural > 0 && drawn.shown >= 150, `picture ${i}: ${JSON.stringify(drawn)}`);
    }
    await page.locator('#pictures').screenshot({ path: join(ARTIFACTS_DIR, 'report-pictures.png') });
  });

  test('no console errors, and a full-page screenshot', async () => {
    const { page, errors } = tab;
    await page.waitForLoadState('networkidle');
    const file = await screenshot(page, 'report', true);
    assert.deepEqual(errors, [], 'the report page logs no errors');
    assert.ok(readFileSync(file).length > 1000, 'screenshot written');
  });
});
