/**
 * Browser tests: Debian's chromium (/usr/bin/chromium, installed by scripts/setup.sh)
 * driven by playwright-core. No browser is ever downloaded. Screenshots are kept as test
 * artifacts under .dev/artifacts/browser/ (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { repoRoot } from './env.js';

/** Debian's chromium. */
export const CHROMIUM = '/usr/bin/chromium';
/** Where screenshots go. */
export const ARTIFACTS_DIR = join(repoRoot, '.dev', 'artifacts', 'browser');
/** Every page gets this viewport, so screenshots are comparable between runs. */
export const VIEWPORT = { width: 1440, height: 900 } as const;
/** Upper bound for any single wait in a browser test. */
export const WAIT_MS = 30_000;

/** Headless chromium (no sandbox: the test sandboxes run as root). */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    timeout: WAIT_MS,
  });
}

export interface TestPage {
  readonly page: Page;
  /** Console messages of type 'error' and uncaught page errors, in order. */
  readonly errors: string[];
  close(): Promise<void>;
}

/** A fresh context and page with the fixed viewport and bounded default timeouts. */
export async function openPage(browser: Browser): Promise<TestPage> {
  const context = await browser.newContext({
    viewport: { ...VIEWPORT },
    deviceScaleFactor: 1,
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.setDefaultNavigationTimeout(WAIT_MS);
  const errors: string[] = [];
  page.on('console', (msg: ConsoleMessage) => {
    if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`);
  });
  page.on('pageerror', (err: Error) => errors.push(`pageerror: ${err.message}`));
  return { page, errors, close: () => context.close() };
}

/** Screenshot to .dev/artifacts/browser/<name>.png; returns the file's path. */
export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage, timeout: WAIT_MS });
  return file;
}
