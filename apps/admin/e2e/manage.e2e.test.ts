import { beforeAll, expect, inject, it } from 'vitest';
import { callApi } from './api';
import { browserSession, describeInBrowser, laptopViewport } from './browser';
import { phoneViewport, screenshotsAtBothWidths } from './screenshots';
import { batches, planFile, UPLOAD_BATCH } from '../src/features/upload/upload-plan';

const baseUrl = inject('baseUrl');
const DEMO = 'sotu';
const MANAGED = 'e2e-managed';

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

const session = browserSession();

/** Waits until the rows on screen are the page now in the URL (not the previous one, dimmed). */
const settledDocuments = () =>
  session.page
    .locator('section[aria-label="documents"][aria-busy="false"]:not(.results-stale)')
    .waitFor();
const documentIds = () =>
  session.page
    .locator('section[aria-label="documents"] tbody tr')
    .evaluateAll((items) => items.map((item) => item.getAttribute('data-document-id')));

describeInBrowser('managing collections and documents from the dashboard', session, () => {
  beforeAll(async () => {
    await callApi(baseUrl, 'collections.delete', { name: MANAGED, confirm: MANAGED }).catch(
      () => undefined,
    );
  });

  it('shows the collections at both widths', async () => {
    await session.page.goto(`${baseUrl}/collections`);
    await screenshotsAtBothWidths(session.page, 'collections', () =>
      session.page.getByRole('heading', { name: 'Documents table health' }).waitFor(),
    );
  });

  it("shows a collection's settings, index health and row counts on its page", async () => {
    await session.page.goto(`${baseUrl}/collections/${DEMO}`);
    const settings = session.page.getByRole('region', { name: 'Settings and index' });
    await settings.waitFor();
    expect(
      await settings.locator('.stat', { hasText: 'Dimensions' }).locator('dd').textContent(),
    ).toBe('100');
    expect(await settings.locator('.stat', { hasText: 'Index state' }).textContent()).toContain(
      'ready',
    );
    // How wide a search walks the index, and why (the size, or the index's measured recall).
    expect(
      await settings.locator('.stat', { hasText: 'Search width' }).locator('dd').textContent(),
    ).toMatch(/^ef_search \d+ for 10 results(:|, by the collection's size)/);
    await session.page.getByRole('heading', { name: 'Documents table health' }).waitFor();
    await session.page.getByText('No re-embed has run on this collection.').waitFor();
    // PGlite here: one server, nothing distributed.
    await session.page
      .getByText('One server: the documents are not distributed (no Citus).')
      .waitFor();
    await screenshotsAtBothWidths(session.page, 'collection', () => settings.waitFor());
  });

  it('creates a collection from the dialog and opens its page', async () => {
    const demo = await callApi<{ embeddingModel: string; dimensions: number }>(
      baseUrl,
      'collections.get',
      { name: DEMO },
    );
    await session.page.goto(`${baseUrl}/collections`);
    await session.page.getByRole('button', { name: 'New collection' }).click();
    const dialog = session.page.getByRole('dialog', { name: 'New collection' });
    await dialog.getByLabel('Name').fill(MANAGED);
    await dialog.getByLabel('Dimensions').fill(String(demo.dimensions));
    await dialog.getByLabel('Embedding model').fill(demo.embeddingModel);
    await screenshotsAtBothWidths(session.page, 'create-collection', () => dialog.waitFor(), {
      fullPage: false,
    });
    await dialog.getByRole('button', { name: 'Create' }).click();
    await session.page.waitForURL(new RegExp(`/collections/${MANAGED}$`));
    await session.page.getByRole('heading', { name: `Collection ${MANAGED}` }).waitFor();
    const listed = await callApi<Array<{ name: string }>>(baseUrl, 'collections.list', undefined);
    expect(listed.map((collection) => collection.name)).toContain(MANAGED);
  });

  it("refuses a duplicate name with the server's message and creates nothing", async () => {
    await session.page.goto(`${baseUrl}/collections`);
    await session.page.getByRole('button', { name: 'New collection' }).click();
    const dialog = session.page.getByRole('dialog', { name: 'New collection' });
    await dialog.getByLabel('Name').fill(MANAGED);
    await dialog.getByLabel('Dimensions').fill('100');
    await dialog.getByLabel('Embedding model').fill('anything');
    await dialog.getByRole('button', { name: 'Create' }).click();
    expect(await dialog.getByRole('alert').textContent()).toContain('COLLECTION_EXISTS');
  });

  it('uploads a Markdown file in chunks with progress, and search shows it as text', async () => {
    await session.page.goto(`${baseUrl}/collections/${MANAGED}/upload`);
    await session.page.getByLabel('Files', { exact: true }).setInputFiles({
      name: 'lighthouse.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from(GUIDE),
    });
    await session.page.getByRole('button', { name: 'Upload' }).click();
    const status = session.page.getByRole('status').filter({ hasText: 'chunks sent' });
    await session.page.getByRole('heading', { name: 'Uploaded' }).waitFor();
    // Two sections, so two chunks (the CLI's rule), each with its heading as metadata.
    expect(await status.textContent()).toContain('2 of 2 chunks sent');
    await screenshotsAtBothWidths(session.page, 'upload', () => status.waitFor());
    const listed = await callApi<{ items: Array<{ metadata: Record<string, unknown> }> }>(
      baseUrl,
      'documents.list',
      { collection: MANAGED },
    );
    expect(listed.items.map((item) => item.metadata.heading).sort()).toEqual([
      'Fog signals',
      'Lighthouse keeping',
    ]);

    await session.page.goto(
      `${baseUrl}/collections/${MANAGED}/search?text=${encodeURIComponent(JSON.stringify('fog horn'))}`,
    );
    const snippets = session.page.locator('section[aria-label="results"] li.result .snippet');
    await snippets.first().waitFor();
    const texts = await snippets.allTextContents();
    expect(texts.join('\n')).toContain('Fog signals');
    expect(texts.join('\n')).not.toMatch(/##|```|\*\*/);
    await session.page
      .locator('section[aria-label="results"] li.result')
      .first()
      .getByRole('button', { name: 'Show the full document' })
      .click();
    const full = session.page.getByRole('dialog').locator('.full-document');
    await full.waitFor();
    expect(await full.textContent()).not.toContain('#');
    await session.page.keyboard.press('Escape');
  });

  it('changes the index parameters, showing what the rebuild costs first', async () => {
    await session.page.goto(`${baseUrl}/collections/${MANAGED}`);
    await session.page.getByLabel('HNSW m').fill('8');
    await session.page.getByLabel('ef_construction').fill('32');
    const cost = session.page.getByLabel('rebuild cost');
    expect(await cost.textContent()).toMatch(/reads 2 vectors .* 0\.5× the work/);
    await session.page.getByRole('button', { name: 'Rebuild the index' }).click();
    await session.page.getByText('Rebuilt with m = 8, ef_construction = 32.').waitFor();
    const stored = await callApi<{ hnsw: { m: number; efConstruction: number } }>(
      baseUrl,
      'collections.get',
      { name: MANAGED },
    );
    expect(stored.hnsw).toEqual({ m: 8, efConstruction: 32 });
  });

  it('uploads a file of many chunks in batches, the progress moving after each', async () => {
    const text = Array.from(
      { length: 120 },
      (_, i) => `Harbour log ${i}: the ferry left pier ${i % 7} at dawn with ${i * 3} crates.`,
    ).join('\n\n');
    const chunking = { size: 100, overlap: 0 };
    const planned = planFile('harbour.txt', text, chunking).documents.length;
    // What the page must show after each call: 50 more chunks sent, then the rest.
    const expected = batches(Array.from({ length: planned })).map((_, index) =>
      Math.min((index + 1) * UPLOAD_BATCH, planned),
    );
    expect(expected.length).toBeGreaterThanOrEqual(3);

    await session.page.goto(`${baseUrl}/collections/${MANAGED}/upload`);
    await session.page.getByLabel('Files', { exact: true }).setInputFiles({
      name: 'harbour.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(text),
    });
    await session.page.getByLabel('Chunk size (characters)').fill(String(chunking.size));
    await session.page.getByLabel('Overlap (characters)').fill(String(chunking.overlap));
    // Every status the page shows, in order.
    await session.page.evaluate(() => {
      const seen: string[] = [];
      Object.assign(window, { uploadStatuses: seen });
      new MutationObserver(() => {
        const status = document.querySelector('[aria-label="upload progress"] [role="status"]');
        const text = status?.textContent;
        if (text && seen.at(-1) !== text) seen.push(text);
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await session.page.getByRole('button', { name: 'Upload' }).click();
    await session.page.getByRole('heading', { name: 'Uploaded' }).waitFor();
    const statuses = await session.page.evaluate(
      () => (window as unknown as { uploadStatuses: string[] }).uploadStatuses,
    );
    const sent = statuses
      .map((status) => Number(/^(\d+) of \d+ chunks sent/.exec(status)?.[1]))
      .filter((count) => count > 0);
    expect(sent).toEqual(expected);
    expect(statuses.at(-1)).toContain(`${planned} of ${planned} chunks sent`);

    await session.page.getByRole('link', { name: 'Browse what was uploaded' }).click();
    await session.page.waitForURL(/\/documents\?filter=/);
    await session.page
      .getByLabel('page position')
      .filter({ hasText: `Documents 1–25 of ${planned} matching the selection` })
      .waitFor();
  });

  it('browses documents with the filter builder and cursor pages, and opens one', async () => {
    await session.page.goto(`${baseUrl}/collections/${DEMO}/documents`);
    const rows = session.page.locator('section[aria-label="documents"] tbody tr');
    await rows.first().waitFor();
    expect(await rows.count()).toBe(25);
    await session.page.getByRole('button', { name: 'Add condition' }).click();
    await session.page.getByLabel('condition 1 key').fill('party');
    await session.page.getByLabel('condition 1 operator').selectOption('eq');
    const value = session.page.getByLabel('condition 1 value');
    await value.fill('Democratic');
    // The whole value is visible in its box, at both widths.
    for (const viewport of [phoneViewport, laptopViewport]) {
      await session.page.setViewportSize(viewport);
      expect(await value.evaluate((input) => input.scrollWidth <= input.clientWidth)).toBe(true);
    }
    await session.page.getByRole('button', { name: 'Show documents' }).click();
    await session.page.waitForURL(/filter=/);
    await settledDocuments();
    const parties = await rows
      .locator('.metadata-entry', { hasText: 'party' })
      .locator('.metadata-value')
      .allTextContents();
    expect(parties).toHaveLength(25);
    expect(new Set(parties)).toEqual(new Set(['Democratic']));
    const firstPage = await documentIds();
    await screenshotsAtBothWidths(session.page, 'documents', () => rows.first().waitFor());

    await session.page.getByRole('link', { name: 'Next page' }).click();
    await session.page.waitForURL(/cursor=/);
    await session.page.getByLabel('page position').filter({ hasText: 'Documents 26–50' }).waitFor();
    await settledDocuments();
    const secondPage = await documentIds();
    expect(secondPage).toHaveLength(25);
    expect(secondPage.filter((id) => firstPage.includes(id))).toEqual([]);

    const id = secondPage[0] ?? '';
    await rows
      .first()
      .getByRole('link', { name: /open document/ })
      .click();
    await session.page.waitForURL(new RegExp(`/documents/${id}`));
    await session.page.getByRole('heading', { name: 'Content' }).waitFor();
    await screenshotsAtBothWidths(session.page, 'document', () =>
      session.page.getByRole('list', { name: 'nearest neighbours' }).waitFor(),
    );
  });

  it('goes back a page at a time, and to the first page, keeping the filter', async () => {
    const filter = encodeURIComponent(JSON.stringify({ key: 'party', op: 'eq', value: 'Whig' }));
    await session.page.goto(`${baseUrl}/collections/${DEMO}/documents?filter=${filter}`);
    const nav = session.page.getByRole('navigation', { name: 'pages' });
    const at = async (position: string) => {
      await session.page.getByLabel('page position').filter({ hasText: position }).waitFor();
      await settledDocuments();
      return documentIds();
    };
    const pages = [await at('Documents 1–25')];
    expect(await nav.getByRole('link', { name: 'Previous page' }).count()).toBe(0);
    for (const position of ['Documents 26–50', 'Documents 51–75', 'Documents 76–100']) {
      await nav.getByRole('link', { name: 'Next page' }).click();
      pages.push(await at(position));
    }
    expect(new Set(pages.flat()).size).toBe(100);

    await nav.getByRole('link', { name: 'Previous page' }).click();
    expect(await at('Documents 51–75')).toEqual(pages[2]);
    await nav.getByRole('link', { name: 'Previous page' }).click();
    expect(await at('Documents 26–50')).toEqual(pages[1]);
    // The browser's address holds the way back: a reload is still on this page, and can go back.
    await session.page.reload();
    expect(await at('Documents 26–50')).toEqual(pages[1]);
    await nav.getByRole('link', { name: 'Previous page' }).click();
    expect(await at('Documents 1–25')).toEqual(pages[0]);
    expect(session.page.url()).not.toContain('cursor=');
    expect(session.page.url()).toContain('filter=');

    for (const position of ['Documents 26–50', 'Documents 51–75']) {
      await nav.getByRole('link', { name: 'Next page' }).click();
      await at(position);
    }
    await nav.getByRole('link', { name: 'First page' }).click();
    expect(await at('Documents 1–25')).toEqual(pages[0]);
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Next page']);
  });

  it('explains why a document is missing given the short id the results show', async () => {
    const query = encodeURIComponent(JSON.stringify('tariffs on imported goods'));
    await session.page.goto(`${baseUrl}/collections/${DEMO}/explain?text=${query}&k=5`);
    const firstCell = session.page
      .locator('.compare-table tbody tr')
      .first()
      .locator('code')
      .first();
    await firstCell.waitFor();
    const shortId = (await firstCell.textContent()) ?? '';
    expect(shortId).toMatch(/^[0-9a-f]{8}$/);
    await session.page.getByLabel('Document id').fill(shortId);
    await session.page.getByRole('button', { name: 'Inspect' }).click();
    await session.page.waitForURL(/inspect=/);
    await session.page.locator('.verdict').waitFor();
    expect(session.page.url()).toMatch(new RegExp(`inspect=${shortId}-`));
    await screenshotsAtBothWidths(session.page, 'explain', () =>
      session.page.locator('.verdict').waitFor(),
    );
  });

  it('shows the search page at both widths', async () => {
    const query = encodeURIComponent(JSON.stringify('railroads and canals'));
    await session.page.goto(`${baseUrl}/collections/${DEMO}/search?text=${query}&mode=hybrid`);
    await screenshotsAtBothWidths(session.page, 'search', () =>
      session.page
        .locator('section[aria-label="results"][aria-busy="false"] li.result')
        .first()
        .waitFor(),
    );
  });

  it('deletes a collection only after its name is typed in the confirmation', async () => {
    await session.page.goto(`${baseUrl}/collections/${MANAGED}`);
    await session.page.getByRole('button', { name: 'Delete collection' }).click();
    const dialog = session.page.getByRole('alertdialog');
    const confirm = dialog.getByRole('button', { name: 'Delete', exact: true });
    expect(await confirm.isDisabled()).toBe(true);
    await dialog.getByLabel("Type the collection's name to confirm").fill(MANAGED);
    await screenshotsAtBothWidths(session.page, 'delete-collection', () => dialog.waitFor(), {
      fullPage: false,
    });
    await confirm.click();
    await session.page.waitForURL(/\/collections$/);
    await session.page.getByRole('article', { name: DEMO }).waitFor();
    expect(await session.page.getByRole('article', { name: MANAGED }).count()).toBe(0);
    const listed = await callApi<Array<{ name: string }>>(baseUrl, 'collections.list', undefined);
    expect(listed.map((collection) => collection.name)).not.toContain(MANAGED);
  });

  it('answers an unknown collection page with the API error', async () => {
    await session.page.goto(`${baseUrl}/collections/no-such-collection`);
    expect(await session.page.getByRole('alert').textContent()).toContain('COLLECTION_NOT_FOUND');
  });
});
