import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect, inject, it } from 'vitest';
import { callApi } from './api';
import {
  describeInBrowser,
  launchBrowser,
  openCheckedPage,
  laptopViewport,
  type LaunchedBrowser,
} from './browser';

const baseUrl = inject('baseUrl');
/** Committed: the README links them (a page at a phone's width and at a laptop's). */
const docs = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));
const DEMO = 'sotu';
const MANAGED = 'e2e-managed';
const phoneViewport = { width: 390, height: 844 };

const GUIDE = [
  '# Lighthouse keeping',
  '',
  'The keeper trims the **wick** every evening and logs the weather in the `daybook`.',
  '',
  '## Fog signals',
  '',
  'When fog rolls in, the keeper sounds the horn every thirty seconds.',
  '',
  '```sh',
  'horn --interval 30',
  '```',
].join('\n');

let launched: LaunchedBrowser;

/** Waits until the rows on screen are the page now in the URL (not the previous one, dimmed). */
const settledDocuments = () =>
  page.locator('section[aria-label="documents"][aria-busy="false"]:not(.results-stale)').waitFor();
let page: Page;

/** Both widths: the page must not scroll sideways on a phone, and each is saved for the README. */
async function screenshotsAtBothWidths(name: string, ready: () => Promise<unknown>) {
  for (const viewport of [laptopViewport, phoneViewport]) {
    await page.setViewportSize(viewport);
    await ready();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow, `${name} scrolls sideways at ${viewport.width} px`).toBe(0);
    await page.screenshot({ path: `${docs}${name}-${viewport.width}.png`, fullPage: true });
  }
  await page.setViewportSize(laptopViewport);
}

describeInBrowser('managing collections and documents from the dashboard', () => {
  beforeAll(async () => {
    mkdirSync(docs, { recursive: true });
    await callApi(baseUrl, 'collections.delete', { name: MANAGED, confirm: MANAGED }).catch(
      () => undefined,
    );
    launched = await launchBrowser();
  });

  afterAll(async () => {
    await launched?.close();
  });

  beforeEach(async () => {
    await page?.close();
    page = await openCheckedPage(launched);
  });

  it('shows the collections at both widths', async () => {
    await page.goto(`${baseUrl}/collections`);
    await screenshotsAtBothWidths('collections', () =>
      page.getByRole('heading', { name: 'Documents table health' }).waitFor(),
    );
  });

  it("shows a collection's settings, index health and row counts on its page", async () => {
    await page.goto(`${baseUrl}/collections/${DEMO}`);
    const settings = page.getByRole('region', { name: 'Settings and index' });
    await settings.waitFor();
    expect(
      await settings.locator('.stat', { hasText: 'Dimensions' }).locator('dd').textContent(),
    ).toBe('100');
    expect(await settings.locator('.stat', { hasText: 'Index state' }).textContent()).toContain(
      'ready',
    );
    await page.getByRole('heading', { name: 'Documents table health' }).waitFor();
    await page.getByText('No re-embed has run on this collection.').waitFor();
    // PGlite here: one server, nothing distributed.
    await page.getByText('One server: the documents are not distributed (no Citus).').waitFor();
    await screenshotsAtBothWidths('collection', () => settings.waitFor());
  });

  it('creates a collection from the dialog and opens its page', async () => {
    const demo = await callApi<{ embeddingModel: string; dimensions: number }>(
      baseUrl,
      'collections.get',
      { name: DEMO },
    );
    await page.goto(`${baseUrl}/collections`);
    await page.getByRole('button', { name: 'New collection' }).click();
    const dialog = page.getByRole('dialog', { name: 'New collection' });
    await dialog.getByLabel('Name').fill(MANAGED);
    await dialog.getByLabel('Dimensions').fill(String(demo.dimensions));
    await dialog.getByLabel('Embedding model').fill(demo.embeddingModel);
    await page.setViewportSize(phoneViewport);
    await page.screenshot({ path: `${docs}create-collection-390.png` });
    await page.setViewportSize(laptopViewport);
    await page.screenshot({ path: `${docs}create-collection-1440.png` });
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(new RegExp(`/collections/${MANAGED}$`));
    await page.getByRole('heading', { name: `Collection ${MANAGED}` }).waitFor();
    const listed = await callApi<Array<{ name: string }>>(baseUrl, 'collections.list', undefined);
    expect(listed.map((collection) => collection.name)).toContain(MANAGED);
  });

  it("refuses a duplicate name with the server's message and creates nothing", async () => {
    await page.goto(`${baseUrl}/collections`);
    await page.getByRole('button', { name: 'New collection' }).click();
    const dialog = page.getByRole('dialog', { name: 'New collection' });
    await dialog.getByLabel('Name').fill(MANAGED);
    await dialog.getByLabel('Dimensions').fill('100');
    await dialog.getByLabel('Embedding model').fill('anything');
    await dialog.getByRole('button', { name: 'Create' }).click();
    expect(await dialog.getByRole('alert').textContent()).toContain('COLLECTION_EXISTS');
  });

  it('uploads a Markdown file in chunks with progress, and search shows it as text', async () => {
    await page.goto(`${baseUrl}/collections/${MANAGED}/upload`);
    await page.getByLabel('Files', { exact: true }).setInputFiles({
      name: 'lighthouse.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from(GUIDE),
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    const status = page.getByRole('status').filter({ hasText: 'chunks sent' });
    await page.getByRole('heading', { name: 'Uploaded' }).waitFor();
    // Two sections, so two chunks (the CLI's rule), each with its heading as metadata.
    expect(await status.textContent()).toContain('2 of 2 chunks sent');
    await screenshotsAtBothWidths('upload', () => status.waitFor());
    const listed = await callApi<{ items: Array<{ metadata: Record<string, unknown> }> }>(
      baseUrl,
      'documents.list',
      { collection: MANAGED },
    );
    expect(listed.items.map((item) => item.metadata.heading).sort()).toEqual([
      'Fog signals',
      'Lighthouse keeping',
    ]);

    await page.goto(
      `${baseUrl}/collections/${MANAGED}/search?text=${encodeURIComponent(JSON.stringify('fog horn'))}`,
    );
    const snippets = page.locator('section[aria-label="results"] li.result .snippet');
    await snippets.first().waitFor();
    const texts = await snippets.allTextContents();
    expect(texts.join('\n')).toContain('Fog signals');
    expect(texts.join('\n')).not.toMatch(/##|```|\*\*/);
    await page
      .locator('section[aria-label="results"] li.result')
      .first()
      .getByRole('button', { name: 'Show the full document' })
      .click();
    const full = page.getByRole('dialog').locator('.full-document');
    await full.waitFor();
    expect(await full.textContent()).not.toContain('#');
    await page.keyboard.press('Escape');
  });

  it('changes the index parameters, showing what the rebuild costs first', async () => {
    await page.goto(`${baseUrl}/collections/${MANAGED}`);
    await page.getByLabel('HNSW m').fill('8');
    await page.getByLabel('ef_construction').fill('32');
    const cost = page.getByLabel('rebuild cost');
    expect(await cost.textContent()).toMatch(/reads 2 vectors .* 0\.5× the work/);
    await page.getByRole('button', { name: 'Rebuild the index' }).click();
    await page.getByText('Rebuilt with m = 8, ef_construction = 32.').waitFor();
    const stored = await callApi<{ hnsw: { m: number; efConstruction: number } }>(
      baseUrl,
      'collections.get',
      { name: MANAGED },
    );
    expect(stored.hnsw).toEqual({ m: 8, efConstruction: 32 });
  });

  it('browses documents with the filter builder and cursor pages, and opens one', async () => {
    await page.goto(`${baseUrl}/collections/${DEMO}/documents`);
    const rows = page.locator('section[aria-label="documents"] tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(25);
    await page.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('condition 1 key').fill('party');
    await page.getByLabel('condition 1 operator').selectOption('eq');
    const value = page.getByLabel('condition 1 value');
    await value.fill('Democratic');
    // The whole value is visible in its box, at both widths.
    for (const viewport of [phoneViewport, laptopViewport]) {
      await page.setViewportSize(viewport);
      expect(await value.evaluate((input) => input.scrollWidth <= input.clientWidth)).toBe(true);
    }
    await page.getByRole('button', { name: 'Show documents' }).click();
    await page.waitForURL(/filter=/);
    await settledDocuments();
    const parties = await rows
      .locator('.metadata-entry', { hasText: 'party' })
      .locator('.metadata-value')
      .allTextContents();
    expect(parties).toHaveLength(25);
    expect(new Set(parties)).toEqual(new Set(['Democratic']));
    const firstPage = await rows.evaluateAll((items) =>
      items.map((item) => item.getAttribute('data-document-id')),
    );
    await screenshotsAtBothWidths('documents', () => rows.first().waitFor());

    await page.getByRole('link', { name: 'Next page' }).click();
    await page.waitForURL(/cursor=/);
    await page.getByLabel('page position').filter({ hasText: 'Documents 26–50' }).waitFor();
    await settledDocuments();
    const secondPage = await rows.evaluateAll((items) =>
      items.map((item) => item.getAttribute('data-document-id')),
    );
    expect(secondPage).toHaveLength(25);
    expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);

    const id = secondPage[0] ?? '';
    await rows
      .first()
      .getByRole('link', { name: /open document/ })
      .click();
    await page.waitForURL(new RegExp(`/documents/${id}`));
    await page.getByRole('heading', { name: 'Content' }).waitFor();
    await screenshotsAtBothWidths('document', () =>
      page.getByRole('list', { name: 'nearest neighbours' }).waitFor(),
    );
  });

  it('explains why a document is missing given the short id the results show', async () => {
    const query = encodeURIComponent(JSON.stringify('tariffs on imported goods'));
    await page.goto(`${baseUrl}/collections/${DEMO}/explain?text=${query}&k=5`);
    const firstCell = page.locator('.compare-table tbody tr').first().locator('code').first();
    await firstCell.waitFor();
    const shortId = (await firstCell.textContent()) ?? '';
    expect(shortId).toMatch(/^[0-9a-f]{8}$/);
    await page.getByLabel('Document id').fill(shortId);
    await page.getByRole('button', { name: 'Inspect' }).click();
    await page.waitForURL(/inspect=/);
    await page.locator('.verdict').waitFor();
    expect(page.url()).toMatch(new RegExp(`inspect=${shortId}-`));
    await screenshotsAtBothWidths('explain', () => page.locator('.verdict').waitFor());
  });

  it('shows the search page at both widths', async () => {
    const query = encodeURIComponent(JSON.stringify('railroads and canals'));
    await page.goto(`${baseUrl}/collections/${DEMO}/search?text=${query}&mode=hybrid`);
    await screenshotsAtBothWidths('search', () =>
      page.locator('section[aria-label="results"][aria-busy="false"] li.result').first().waitFor(),
    );
  });

  it('deletes a collection only after its name is typed in the confirmation', async () => {
    await page.goto(`${baseUrl}/collections/${MANAGED}`);
    await page.getByRole('button', { name: 'Delete collection' }).click();
    const dialog = page.getByRole('alertdialog');
    const confirm = dialog.getByRole('button', { name: 'Delete', exact: true });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel("Type the collection's name to confirm").fill(MANAGED);
    await page.screenshot({ path: `${docs}delete-collection-1440.png` });
    await confirm.click();
    await page.waitForURL(/\/collections$/);
    await page.getByRole('article', { name: DEMO }).waitFor();
    expect(await page.getByRole('article', { name: MANAGED }).count()).toBe(0);
    const listed = await callApi<Array<{ name: string }>>(baseUrl, 'collections.list', undefined);
    expect(listed.map((collection) => collection.name)).not.toContain(MANAGED);
  });

  it('answers an unknown collection page with the API error', async () => {
    await page.goto(`${baseUrl}/collections/no-such-collection`);
    expect(await page.getByRole('alert').textContent()).toContain('COLLECTION_NOT_FOUND');
  });
});
