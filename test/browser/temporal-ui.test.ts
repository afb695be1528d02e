/**
 * The Temporal UI shows a campaign the way an operator finds it: a dev server WITH its UI
 * (the other suites' servers are headless), two campaign workflows started without any
 * worker (a task queue nobody polls, so they stay Running with only what was set at
 * start: the CryoCampaign search attribute and the static summary / details), and
 * Debian's chromium through playwright-core. The list filtered by
 * `CryoCampaign="<id>"` shows that campaign and not the other; the workflow's User
 * Metadata tab shows its summary and details. Screenshots: .dev/artifacts/browser/.
 * Needs no Slurm.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Browser, FrameLocator } from 'playwright-core';
import { campaignInput, placementFor } from '../../src/campaign/input.js';
import { parseCampaign } from '../../src/campaign/load.js';
import type { CampaignSpec } from '../../src/model/campaign-spec.js';
import { startCampaign } from '../../src/client.js';
import type { CryoConfig } from '../../src/config.js';
import { EMBEDDED_CAMPAIGN } from '../../src/embedded.js';
import { cryoSearchAttributes } from '../../src/search-attributes.js';
import { launchBrowser, openPage, screenshot, WAIT_MS, type TestPage } from '../helpers/browser.js';
import { devConfig, freePort, repoRoot, uniqueId, waitUntil } from '../helpers/env.js';

/** Whitespace-normalised text, as a browser lays it out. */
const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** Waits until the body of `frame` contains every one of `texts`; returns its text. */
async function frameText(frame: FrameLocator, what: string, texts: readonly string[]): Promise<string> {
  let last = '';
  try {
    return await waitUntil(
      what,
      async () => {
        last = squash(
          await frame
            .locator('body')
            .innerText({ timeout: 2_000 })
            .catch(() => ''),
        );
        return texts.every((t) => last.includes(squash(t))) ? last : undefined;
      },
      WAIT_MS,
      250,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; it shows: ${JSON.stringify(last)}`);
  }
}

describe('Temporal UI in chromium', () => {
  let env: TestWorkflowEnvironment;
  let uiPort: number;
  let uiBase: string;
  let config: CryoConfig;
  let spec: CampaignSpec;
  let browser: Browser;
  let tab: TestPage;
  const handles: WorkflowHandleWithFirstExecutionRunId[] = [];
  const id1 = uniqueId('campaign-ui');
  const id2 = uniqueId('campaign-ui');

  before(async () => {
    uiPort = await freePort();
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: join(repoRoot, '.venv', 'bin', 'temporal') },
        ip: '127.0.0.1', // the UI binds to the same address
        port: await freePort(),
        ui: true,
        uiPort,
        searchAttributes: [...cryoSearchAttributes],
        extraArgs: [
          '--http-port',
          String(await freePort()),
          '--metrics-port',
          String(await freePort()),
          '--log-level',
          'error',
        ],
      },
    });
    uiBase = `http://127.0.0.1:${uiPort}`;
    const dev = await devConfig();
    // A task queue nobody polls: the campaigns stay Running with no workflow task done.
    config = { ...dev, temporal: { ...dev.temporal, taskQueue: uniqueId('nobody-polls') } };
    const parsed = parseCampaign(readFileSync(EMBEDDED_CAMPAIGN, 'utf8'), 'embedded');
    assert.ok(parsed.ok, 'the embedded campaign file parses');
    spec = parsed.spec;
    for (const id of [id1, id2]) handles.push(await startCampaign(env.client, config, campaignInput(config, spec, id)));
    browser = await launchBrowser();
    tab = await openPage(browser);
  });

  after(async () => {
    await tab?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    for (const h of handles) await h.terminate('browser test done').catch(() => undefined);
    await env?.teardown();
  });

  test('the workflow list filtered by CryoCampaign shows that campaign only', async () => {
    const { page } = tab;
    // Unfiltered first: both campaigns are visible to the UI, so the filter below has
    // something to filter out.
    await page.goto(`${uiBase}/namespaces/default/workflows`);
    const rows = page.getByTestId('workflows-summary-configurable-table-row');
    for (const id of [id1, id2]) await rows.getByRole('link', { name: id, exact: true }).waitFor();

    const query = `CryoCampaign="${id1}"`;
    await page.goto(`${uiBase}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    await rows.getByRole('link', { name: id1, exact: true }).waitFor();
    await waitUntil(
      'the filtered list to settle on one row',
      async () => ((await rows.count()) === 1 ? true : undefined),
      WAIT_MS,
    );
    assert.equal(await rows.getByRole('link', { name: id2, exact: true }).count(), 0, `${id2} is filtered out`);
    assert.equal(await page.getByText(id2).count(), 0, `${id2} appears nowhere on the filtered page`);
    // The UI took the query: it shows it as a filter chip and counts one workflow.
    await page.getByText(`CryoCampaign = "${id1}"`).first().waitFor();
    assert.equal(squash(await page.getByTestId('workflow-count').innerText()), '1', 'the UI counts one workflow');
    assert.match(squash(await rows.first().innerText()), /Running/i);
    await screenshot(page, 'temporal-ui-list');
  });

  test("the campaign's page shows its static summary and details", async () => {
    const { page } = tab;
    const [h1] = handles;
    assert.ok(h1);
    const description = await h1.describe();
    const summary = await description.staticSummary();
    const details = await description.staticDetails();
    assert.equal(summary, `${spec.name} · ${spec.tiltSeries.length} tilt series · embedded profile`);
    assert.ok(details !== undefined);
    assert.equal(spec.tiltSeries.length, 5);

    // From the filtered list (previous test) into the workflow.
    if (!page.url().includes('query=')) {
      await page.goto(`${uiBase}/namespaces/default/workflows?query=${encodeURIComponent(`CryoCampaign="${id1}"`)}`);
    }
    await page
      .getByTestId('workflows-summary-configurable-table-row')
      .getByRole('link', { name: id1, exact: true })
      .click();
    await page.waitForURL(new RegExp(`/workflows/${id1}/${h1.firstExecutionRunId}(/|$)`));
    await page.getByTestId('workflow-id-heading').filter({ hasText: id1 }).waitFor();
    assert.match(squash(await page.getByTestId('execution-status').first().innerText()), /running/i);
    await screenshot(page, 'temporal-ui-workflow');

    // Summary and details live under the "User Metadata" tab, each rendered in an iframe.
    await page.getByTestId('user-metadata-tab').click();
    await page.waitForURL(/\/user-metadata$/);
    const shownSummary = await frameText(page.frameLocator('#user-metadata-summary'), 'the summary', [summary!]);
    assert.equal(shownSummary, squash(summary!));
    const detailLines = details!.split('\n');
    const shownDetails = await frameText(page.frameLocator('#user-metadata-details'), 'the details', detailLines);
    for (const line of [
      `dataset: ${spec.dataset}`,
      `tilt series: ${spec.tiltSeries.map((ts) => ts.name).join(', ')}`,
      `refine ladder: ${placementFor(config, 'refine')
        .ladder.map((r) => `${r.cluster}/${r.partition} ${r.gres}`)
        .join(' → ')}`,
    ]) {
      assert.ok(shownDetails.includes(squash(line)), `details show ${JSON.stringify(line)}`);
    }
    // No worker ever ran, so the Current Details pane is empty.
    assert.equal(await page.locator('#user-metadata-current-details').count(), 1, 'a Current Details pane');
    assert.equal(
      squash(
        await page
          .frameLocator('#user-metadata-current-details')
          .locator('body')
          .innerText({ timeout: 5_000 })
          .catch(() => ''),
      ),
      '',
    );
    // The app scrolls inside its own container (a full-page shot is the viewport): bring
    // the whole details block into view for the screenshot.
    await page.locator('#user-metadata-details').evaluate((el) => el.scrollIntoView({ block: 'end' }));
    await screenshot(page, 'temporal-ui-summary-details');
  });
});
