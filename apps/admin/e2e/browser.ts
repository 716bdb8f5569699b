import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe } from 'vitest';

/** Debian's Chromium: Playwright's own browser download is not available here. */
export const chromiumPath = process.env.QUARRY_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or undefined when they can. A machine with only Node.js
 * and npm has no Chromium: its browser suites are reported as skipped, by name, unless
 * QUARRY_TEST_REQUIRE_ALL=1 (CI), where a missing browser fails the run.
 */
export function missingBrowser(): string | undefined {
  if (existsSync(chromiumPath)) return undefined;
  const reason = `no Chromium at ${chromiumPath} (install Debian's chromium, or set QUARRY_TEST_CHROMIUM)`;
  if (process.env.QUARRY_TEST_REQUIRE_ALL === '1') {
    throw new Error(`${reason}, and QUARRY_TEST_REQUIRE_ALL=1 forbids skipping the browser tests`);
  }
  return reason;
}

/**
 * A suite that needs the browser: skipped, with the reason in its name, when there is none.
 * With a `session`, the suite has one browser, and a new tab in `session.page` for each test.
 */
export function describeInBrowser(title: string, body: () => void): void;
export function describeInBrowser(title: string, session: BrowserSession, body: () => void): void;
export function describeInBrowser(
  title: string,
  ...args: [() => void] | [BrowserSession, () => void]
): void {
  const [session, body] = args.length === 1 ? [undefined, args[0]] : args;
  const missing = missingBrowser();
  if (missing) describe.skip(`${title} (skipped: ${missing})`, body);
  else
    describe(title, () => {
      if (session) openPerTest(session);
      body();
    });
}

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A laptop screen: the dashboard must be readable at this size. */
export const laptopViewport = { width: 1440, height: 900 };

export async function launchBrowser(): Promise<LaunchedBrowser> {
  // A fresh profile per run: no cached pages or API keys stored by an earlier run.
  const profile = mkdtempSync(join(tmpdir(), 'quarry-admin-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: laptopViewport,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A new tab in which any uncaught error of the dashboard fails the test that caused it. */
export async function openCheckedPage(browser: LaunchedBrowser): Promise<Page> {
  const page = await browser.context.newPage();
  page.on('pageerror', (error) => {
    throw error;
  });
  return page;
}

/**
 * What a suite's tests drive, filled by `describeInBrowser(title, session, body)`: one browser for the
 * suite, and a fresh checked tab in `page` for each test (a test may replace it).
 */
export interface BrowserSession {
  browser: LaunchedBrowser;
  page: Page;
}

export function browserSession(): BrowserSession {
  return {} as BrowserSession;
}

function openPerTest(session: BrowserSession): void {
  beforeAll(async () => {
    session.browser = await launchBrowser();
  });
  afterAll(async () => {
    await session.browser?.close();
  });
  beforeEach(async () => {
    await session.page?.close();
    session.page = await openCheckedPage(session.browser);
  });
}
