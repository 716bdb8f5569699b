import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { callApi } from './api';
import { describeInBrowser, launchBrowser, type LaunchedBrowser } from './browser';
import { startQuarryServer, type RunningServer } from './server';

// A second real server, this one requiring an API key and holding no collections at first.
const API_KEY = 'admin-e2e-key-0123456789';
const ADMIN_KEY = 'admin-e2e-admin-key-0123456789';
const COLLECTION = 'keyed';
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
        QUARRY_API_KEYS: JSON.stringify([
          { key: API_KEY, scopes: ['read'] },
          { key: ADMIN_KEY, name: 'e2e-admin', scopes: ['read', 'write', 'admin'] },
        ]),
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

  it("shows a read-only key a collection's page without the controls that would change it", async () => {
    await callApi(
      server.url,
      'collections.create',
      { name: COLLECTION, dimensions: 3, embeddingModel: 'supplied-3' },
      { apiKey: ADMIN_KEY },
    );
    await page.goto(`${server.url}/collections/${COLLECTION}`);
    // The note appears once the page knows what the key may do: only then is absence meaningful.
    await page.getByText('needs an admin key not bound to a tenant').waitFor();
    await page.getByRole('region', { name: 'Settings and index' }).waitFor();
    expect(await managementControls()).toEqual({
      indexParameters: 0,
      reembed: 0,
      delete: 0,
      upload: 0,
    });
    await page.goto(`${server.url}/collections`);
    await page.getByRole('link', { name: COLLECTION }).first().waitFor();
    expect(await page.getByRole('button', { name: 'New collection' }).count()).toBe(0);
  });

  it("shows an admin key the collection's create, index, re-embed, delete and upload controls", async () => {
    await page.getByRole('button', { name: 'Change API key' }).click();
    await page.getByLabel('API key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('button', { name: 'New collection' }).waitFor();
    await page.goto(`${server.url}/collections/${COLLECTION}`);
    await page.getByRole('heading', { name: 'Change index parameters' }).waitFor();
    expect(await managementControls()).toEqual({
      indexParameters: 1,
      reembed: 1,
      delete: 1,
      upload: 1,
    });
    expect(await page.getByText('needs an admin key not bound to a tenant').count()).toBe(0);
  });
});

/** How many of each control that changes the collection (or its documents) the page shows. */
async function managementControls() {
  return {
    indexParameters: await page.getByRole('heading', { name: 'Change index parameters' }).count(),
    reembed: await page.getByRole('button', { name: 'Start re-embedding' }).count(),
    delete: await page.getByRole('heading', { name: 'Delete', exact: true }).count(),
    upload: await page.getByRole('link', { name: 'Upload files' }).count(),
  };
}

async function screenshot(name: string) {
  await page.screenshot({ path: `${screenshots}${name}.png`, fullPage: true });
}
