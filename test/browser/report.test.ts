/**
 * The HTML report in a real browser: the fixture run record rendered by renderReport,
 * written to a temp file and opened with file:// in Debian's chromium (playwright-core).
 * Each plot (FSC, iterations, timeline, cost) is present, visible and has a size, the FSC
 * plot labels its 0.143 line, the timeline has one row per cluster step, and the page
 * logs no errors. Full-page screenshot: .dev/artifacts/browser/report.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'playwright-core';
import { renderReport } from '../../src/report/index.js';
import type { RunRecord } from '../../src/workflows/campaign-status.js';
import { launchBrowser, openPage, screenshot, type TestPage } from '../helpers/browser.js';
import { repoRoot } from '../helpers/env.js';

const PLOTS = ['fsc-plot', 'iterations-plot', 'timeline', 'cost-plot'] as const;

describe('HTML report in chromium', () => {
  let record: RunRecord;
  let dir: string;
  let browser: Browser;
  let tab: TestPage;

  before(async () => {
    record = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'run-record.json'), 'utf8')) as RunRecord;
    assert.ok(record.steps.length > 0 && record.fsc.length > 0 && record.iterations.length > 0, 'the fixture has steps, FSC and iterations to plot');
    dir = mkdtempSync(join(tmpdir(), 'cryoet-report-'));
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport(record, { generatedAt: '2026-11-30T12:30:00.000Z' }));
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

  test('no console errors, and a full-page screenshot', async () => {
    const { page, errors } = tab;
    await page.waitForLoadState('networkidle');
    const file = await screenshot(page, 'report', true);
    assert.deepEqual(errors, [], 'the report page logs no errors');
    assert.ok(readFileSync(file).length > 1000, 'screenshot written');
  });
});
