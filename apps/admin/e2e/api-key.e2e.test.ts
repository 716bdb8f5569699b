import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInBrowser, launchBrowser, type LaunchedBrowser } from './browser';
import { startQuarryServer, type RunningServer } from './server';

// A second real server, this one requiring an API key and holding no collections.
const API_KEY = 'admin-e2e-key-0123456789';
const screenshots = fileURLToPath(new URL('../test-output/screenshots/', import.meta.url));

let dataDir: string;
let server: RunningServer;
let launched: LaunchedBrowser;
let page: Page;

describeInBrowser('the dashboard against a server that requires an API key', () => {
  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'quarry-admin-keyed-'));
    server = await startQuarryServer({
      dataDir,
      readyTimeoutMs: 120_000,
      log: () => {},
      env: {
        QUARRY_DEMO: 'false',
        QUARRY_API_KEYS: JSON.stringify([{ key: API_KEY, scopes: ['read'] }]),
      },
    });
    launched = await launchBrowser();
    page = await launched.context.newPage();
  });

  afterAll(async () => {
    await launched?.close();
    await server?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('asks for an API key when the server requires one, and uses the key once entered', async () => {
    await page.goto(`${server.url}/collections`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('enter one under "API key" at the top of the page');
    await screenshot('api-key-required');

    await page.getByRole('button', { name: 'Enter API key' }).click();
    await page.getByLabel('API key').fill(API_KEY);
    await page.getByRole('button', { name: 'Save' }).click();

    // This server has no collections: the empty state says how to make one.
    await page.getByText('No collections yet.').waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    await screenshot('collections-empty');
  });

  it('keeps the key in this browser across reloads', async () => {
    await page.reload();
    await page.getByText('No collections yet.').waitFor();
    expect(await page.getByRole('button', { name: 'Change API key' }).textContent()).toContain(
      API_KEY.slice(-4),
    );
  });
});

async function screenshot(name: string) {
  await page.screenshot({ path: `${screenshots}${name}.png`, fullPage: true });
}
