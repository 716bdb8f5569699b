import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { seededRandom } from '@quarry/db/testing';
import { callApi, createSuppliedVectorCollection } from './api';
import { describeInBrowser, launchBrowser, openCheckedPage, type LaunchedBrowser } from './browser';

// OpenAI's small model's size, and the guide's: a query vector this long is about 34 KB of text.
const DIMENSIONS = 1536;
const COLLECTION = 'wide-vectors';
const DOCUMENTS = 40;

const baseUrl = inject('baseUrl');
const screenshots = fileURLToPath(new URL('../test-output/screenshots/', import.meta.url));

let launched: LaunchedBrowser;
let page: Page;
/** Every call the dashboard made to the API: method and URL length. */
const apiCalls: Array<{ method: string; urlLength: number }> = [];
const vectors: number[][] = [];
const ids: string[] = [];

const results = () => page.locator('section[aria-label="results"] li.result');

async function resultIds(): Promise<string[]> {
  await page
    .locator('section[aria-label="results"][aria-busy="false"]:not(.results-stale)')
    .waitFor();
  return results().evaluateAll((items) =>
    items.map((item) => item.getAttribute('data-document-id') ?? ''),
  );
}

describeInBrowser('the dashboard searching a 1,536-dimension collection', () => {
  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    await createSuppliedVectorCollection(baseUrl, COLLECTION, DIMENSIONS);
    const random = seededRandom(1536);
    for (let i = 0; i < DOCUMENTS; i += 1) {
      // Rounded to 6 decimals: what a user pastes is what the test compares against.
      vectors.push(Array.from({ length: DIMENSIONS }, () => Number((random() * 2 - 1).toFixed(6))));
    }
    const ingested = await callApi<{ ids: string[] }>(baseUrl, 'documents.ingest', {
      collection: COLLECTION,
      documents: vectors.map((embedding, i) => ({
        content: `Wide document ${i}`,
        externalId: `wide-${i}`,
        metadata: { n: i },
        embedding,
      })),
    });
    ids.push(...ingested.ids);
    launched = await launchBrowser();
    page = await openCheckedPage(launched);
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/trpc/'))
        apiCalls.push({ method: request.method(), urlLength: request.url().length });
    });
  });

  afterAll(async () => {
    await launched?.close();
  });

  it('finds a document by its pasted 1,536-number vector, sending the query as POST', async () => {
    expect(ids).toHaveLength(DOCUMENTS);
    await page.goto(`${baseUrl}/collections/${COLLECTION}/search`);
    await page.getByRole('radio', { name: 'Pasted vector' }).check();
    const pasted = vectors[7]!.join(', ');
    expect(pasted.length).toBeGreaterThan(10_000);
    await page.getByLabel('Query vector').fill(pasted);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/source=/);
    const found = await resultIds();
    expect(found).toHaveLength(10);
    expect(found[0]).toBe(ids[7]);
    expect(await results().first().locator('.similarity-value').textContent()).toBe('1.0000');
    expect(apiCalls.length).toBeGreaterThan(0);
    expect(apiCalls.filter((call) => call.method !== 'POST')).toEqual([]);
    expect(Math.max(...apiCalls.map((call) => call.urlLength))).toBeLessThan(2_000);
    await page.screenshot({ path: `${screenshots}search-wide-vector.png`, fullPage: true });
  });

  it('finds more like a result in the same collection', async () => {
    const pastedResults = await resultIds();
    const second = pastedResults[1]!;
    await results().nth(1).getByRole('link', { name: 'More like this' }).click();
    await page.waitForURL(new RegExp(`like=${second}`));
    const similar = await resultIds();
    expect(similar[0]).toBe(second);
    expect(similar).toHaveLength(10);
    expect(apiCalls.filter((call) => call.method !== 'POST')).toEqual([]);
  });

  it('abbreviates the pasted vector in the EXPLAIN plan instead of printing 1,536 numbers', async () => {
    await page.goto(`${baseUrl}/collections/${COLLECTION}/search`);
    await page.getByRole('radio', { name: 'Pasted vector' }).check();
    await page.getByLabel('Query vector').fill(vectors[3]!.join(' '));
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL(/source=/);
    await resultIds();
    // A link within the app: the page's own URL carries the vector, the API calls do not.
    await page.getByRole('link', { name: 'Explain these results' }).click();
    await page.waitForURL(/\/explain\?/);
    await page.getByText('Query plan (EXPLAIN ANALYZE of the retrievals)').click();
    const plan = page.locator('pre.plan').first();
    await plan.waitFor();
    const text = (await plan.textContent()) ?? '';
    expect(text).toContain('(1,536 numbers)');
    expect(Math.max(...text.split('\n').map((line) => line.length))).toBeLessThan(400);
    expect(apiCalls.filter((call) => call.method !== 'POST')).toEqual([]);
  });
});
