import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium: Playwright's own browser download is not available here. */
export const chromiumPath = process.env.QUARRY_TEST_CHROMIUM ?? '/usr/bin/chromium';

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
