import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, inject, it } from 'vitest';
import { browserSession, describeInBrowser } from './browser';

const baseUrl = inject('baseUrl');
const screenshots = fileURLToPath(new URL('../test-output/screenshots/', import.meta.url));
const COLLECTION = 'sotu';
const QUERY = 'tariffs on imported goods';

const session = browserSession();

async function screenshot(name: string) {
  await session.page.screenshot({ path: `${screenshots}${name}.png`, fullPage: true });
}

const results = () => session.page.locator('section[aria-label="results"] li.result');

/** Waits until the results on screen answer the query now in the URL (not the previous one). */
async function settledResults() {
  await session.page
    .locator('section[aria-label="results"][aria-busy="false"]:not(.results-stale)')
    .waitFor();
  return results();
}

async function resultIds(): Promise<string[]> {
  const list = await settledResults();
  return list.evaluateAll((items) =>
    items.map((item) => item.getAttribute('data-document-id') ?? ''),
  );
}

async function similarities(): Promise<number[]> {
  const list = await settledResults();
  return (await list.locator('.similarity-value').allTextContents()).map(Number);
}

async function runTextSearch(text: string) {
  await session.page.goto(`${baseUrl}/collections/${COLLECTION}/search`);
  const input = session.page.getByLabel('Query text');
  await input.fill(text);
  await input.press('Enter');
  await session.page.waitForURL(/text=/);
}

describeInBrowser('the dashboard against the real server', session, () => {
  beforeAll(() => {
    mkdirSync(screenshots, { recursive: true });
  });

  it('lists the demo collection with its size and index', async () => {
    await session.page.goto(`${baseUrl}/collections`);
    const card = session.page.getByRole('article', { name: COLLECTION });
    await card.waitFor();
    const documents = Number(
      (await card.locator('.stat', { hasText: 'Documents' }).locator('dd').textContent())?.replace(
        /,/g,
        '',
      ),
    );
    expect(documents).toBeGreaterThan(1000);
    expect(await card.locator('.stat', { hasText: 'Index state' }).textContent()).toContain(
      'ready',
    );
    await session.page.getByRole('heading', { name: 'Documents table health' }).waitFor();
    await screenshot('collections');
  });

  it('runs a text search and shows ranked results with similarity scores', async () => {
    await runTextSearch(QUERY);
    const list = await settledResults();
    expect(await list.count()).toBe(10);
    expect(await list.locator('.result-rank').allTextContents()).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
      '10',
    ]);
    const scores = await similarities();
    expect(scores.every((score) => score > 0 && score <= 1)).toBe(true);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    await screenshot('search-vector');
  });

  it('switches to hybrid and shows vector rank, keyword rank and fused score', async () => {
    await runTextSearch(QUERY);
    const vectorIds = await resultIds();
    await session.page.getByRole('radio', { name: 'Hybrid' }).check();
    await session.page.waitForURL(/mode=hybrid/);
    const hybridIds = await resultIds();
    expect(hybridIds).toHaveLength(10);
    expect(hybridIds).not.toEqual(vectorIds);
    const first = results().first();
    expect(await first.locator('.rank-chip').allTextContents()).toEqual([
      expect.stringMatching(/^vector (#\d+|–)$/),
      expect.stringMatching(/^keyword (#\d+|–)$/),
    ]);
    expect(await first.textContent()).toMatch(/fused \d+\.\d{5}/);
    expect(await first.locator('mark').count()).toBeGreaterThan(0);
    await screenshot('search-hybrid');
  });

  it('narrows the results with a metadata filter from the builder', async () => {
    await runTextSearch(QUERY);
    const unfiltered = await resultIds();
    await session.page.getByRole('button', { name: 'Add condition' }).click();
    await session.page.getByLabel('condition 1 key').fill('party');
    await session.page.getByLabel('condition 1 operator').selectOption('eq');
    await session.page.getByLabel('condition 1 value').fill('Whig');
    await session.page.getByRole('button', { name: 'Search', exact: true }).click();
    await session.page.waitForURL(/filter=/);
    const filtered = await resultIds();
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered).not.toEqual(unfiltered);
    const parties = await results()
      .locator('.metadata-entry', { hasText: 'party' })
      .locator('.metadata-value')
      .allTextContents();
    expect(new Set(parties)).toEqual(new Set(['Whig']));
    await screenshot('search-filter');
  });

  it('narrows the results to a metadata value chosen on a result', async () => {
    await runTextSearch(QUERY);
    const president = await results()
      .nth(2)
      .locator('.metadata-entry', { hasText: 'president' })
      .locator('.metadata-value')
      .textContent();
    await results()
      .nth(2)
      .getByRole('link', { name: `only results with president = ${president}` })
      .click();
    await session.page.waitForURL(/filter=/);
    await settledResults();
    const presidents = await results()
      .locator('.metadata-entry', { hasText: 'president' })
      .locator('.metadata-value')
      .allTextContents();
    expect(presidents.length).toBeGreaterThan(0);
    expect(new Set(presidents)).toEqual(new Set([president]));
    expect(await session.page.getByLabel('condition 1 key').inputValue()).toBe('president');
  });

  it('shows the same filter in the JSON view', async () => {
    await runTextSearch(QUERY);
    await session.page.getByRole('button', { name: 'Add condition' }).click();
    await session.page.getByLabel('condition 1 key').fill('year');
    await session.page.getByLabel('condition 1 operator').selectOption('gte');
    await session.page.getByLabel('condition 1 value').fill('1900');
    await session.page.getByRole('button', { name: 'JSON' }).click();
    const json = await session.page
      .getByLabel('The filter as the API receives it (empty for none)')
      .inputValue();
    expect(JSON.parse(json)).toEqual({ key: 'year', op: 'gte', value: 1900 });
  });

  it('reproduces the whole query from its URL', async () => {
    await runTextSearch(QUERY);
    await session.page.getByRole('radio', { name: 'Hybrid' }).check();
    await session.page.waitForURL(/mode=hybrid/);
    await session.page.getByRole('button', { name: 'Add condition' }).click();
    await session.page.getByLabel('condition 1 key').fill('party');
    await session.page.getByLabel('condition 1 value').fill('Republican');
    await session.page.getByLabel('k (results)').fill('7');
    await session.page.getByRole('button', { name: 'Search', exact: true }).click();
    await session.page.waitForURL(/filter=/);
    const before = await resultIds();
    const link = session.page.url();

    const fresh = await session.browser.context.newPage();
    await session.page.close();
    session.page = fresh;
    await session.page.goto(link);
    expect(await session.page.getByLabel('Query text').inputValue()).toBe(QUERY);
    expect(await session.page.getByRole('radio', { name: 'Hybrid' }).isChecked()).toBe(true);
    expect(await session.page.getByLabel('k (results)').inputValue()).toBe('7');
    expect(await session.page.getByLabel('condition 1 key').inputValue()).toBe('party');
    expect(await session.page.getByLabel('condition 1 value').inputValue()).toBe('Republican');
    expect(await resultIds()).toEqual(before);
  });

  it('compares the results with exact search and reports recall', async () => {
    await runTextSearch(QUERY);
    await settledResults();
    await session.page.getByRole('link', { name: 'Explain these results' }).click();
    await session.page.waitForURL(/\/explain\?/);
    const recall = session.page.getByLabel('recall');
    await recall.waitFor();
    expect(await recall.textContent()).toMatch(/recall@10\s*\d{1,3}(\.\d)?%/);
    expect(await session.page.locator('.compare-table tbody tr').count()).toBe(10);
    await session.page.getByText('Query plan (EXPLAIN ANALYZE of the retrievals)').click();
    expect(await session.page.locator('pre.plan').first().textContent()).toMatch(/Limit/);
    await screenshot('explain');
  });

  it('explains why a document outside the filter is not returned', async () => {
    await runTextSearch(QUERY);
    const [outsider] = await resultIds();
    const outsiderParty = await results()
      .first()
      .locator('.metadata-entry', { hasText: 'party' })
      .locator('.metadata-value')
      .textContent();
    const otherParty = outsiderParty === 'Whig' ? 'Republican' : 'Whig';
    const filter = encodeURIComponent(
      JSON.stringify({ key: 'party', op: 'eq', value: otherParty }),
    );
    await session.page.goto(
      `${baseUrl}/collections/${COLLECTION}/explain?text=${encodeURIComponent(JSON.stringify(QUERY))}&filter=${filter}&inspect=${outsider}`,
    );
    const verdict = session.page.locator('.verdict');
    await verdict.waitFor();
    expect(await verdict.textContent()).toBe(
      'It fails the metadata filter, so the search never considers it.',
    );
    await screenshot('explain-why-not');
  });

  it('sets the threshold from the similarity histogram', async () => {
    await session.page.goto(
      `${baseUrl}/collections/${COLLECTION}/explain?text=${encodeURIComponent(JSON.stringify(QUERY))}`,
    );
    const bars = session.page
      .getByRole('group', { name: 'similarity histogram' })
      .getByRole('button');
    await bars.first().waitFor();
    expect(await bars.count()).toBe(20);
    await bars.nth(10).click();
    await session.page.waitForURL(/minSimilarity=/);
    expect(await session.page.getByText(/minimum similarity [\d.]+ keeps \d+ of \d+/).count()).toBe(
      1,
    );
  });

  it('opens a document with its embedding summary and nearest neighbours, each linking on', async () => {
    await runTextSearch(QUERY);
    const [firstId] = await resultIds();
    await results()
      .first()
      .getByRole('link', { name: /Open document/ })
      .click();
    await session.page.waitForURL(new RegExp(`/documents/${firstId}`));
    await session.page.getByRole('heading', { name: 'Content' }).waitFor();
    expect(
      await session.page.locator('.stat', { hasText: 'Dimensions' }).locator('dd').textContent(),
    ).toBe('100');
    expect(
      Number(
        await session.page.locator('.stat', { hasText: 'Norm (L2)' }).locator('dd').textContent(),
      ),
    ).toBeGreaterThan(0);
    const neighbours = session.page
      .getByRole('list', { name: 'nearest neighbours' })
      .getByRole('link');
    await neighbours.first().waitFor();
    expect(await neighbours.count()).toBe(10);
    await screenshot('document');

    const neighbourHref = await neighbours.first().getAttribute('href');
    await neighbours.first().click();
    await session.page.waitForURL((url) => url.pathname === neighbourHref?.split('?')[0]);
    await session.page
      .getByRole('list', { name: 'nearest neighbours' })
      .getByRole('link')
      .first()
      .waitFor();
    expect(session.page.url()).not.toContain(firstId);
  });

  it('says what to do when the collection does not exist', async () => {
    await session.page.goto(`${baseUrl}/collections/no-such-collection/search?text=%22x%22`);
    const alert = session.page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain(
      'Pick an existing collection on the Collections page.',
    );
    await screenshot('error-state');
  });

  it('runs a search with the keyboard alone', async () => {
    await session.page.goto(`${baseUrl}/collections/${COLLECTION}/search`);
    await session.page.getByLabel('Query text').waitFor();
    await session.page.keyboard.press('Tab'); // to "Skip to content"
    await session.page.keyboard.press('Enter');
    await session.page.keyboard.press('Tab'); // the first control of the page: the query text
    await session.page.keyboard.type('railroads and canals');
    await session.page.keyboard.press('Enter');
    await session.page.waitForURL(/text=/);
    expect(await (await settledResults()).count()).toBe(10);
  });
});
