import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { callApi } from './api';
import { browserSession, describeInBrowser } from './browser';
import { stubVector } from './embeddings';
import { screenshotsAtBothWidths } from './screenshots';

const baseUrl = inject('baseUrl');
/** The test server's second model (e2e/embeddings.ts): 64 dimensions, 750 ms a request. */
const target = inject('reembedTarget');
const COLLECTION = 'e2e-reembed';
const MODEL = 'quarry/wink-sg-100d';
/** Four of the worker's batches: the re-embed runs for seconds, long enough to cancel. */
const DOCUMENTS = 1000;

const session = browserSession();

interface Collection {
  embeddingModel: string;
  dimensions: number;
}

const reembedCard = () => session.page.getByRole('region', { name: 'Re-embed with another model' });
const progress = () => reembedCard().getByLabel('re-embed progress');
const settingStat = (label: string) =>
  session.page
    .getByRole('region', { name: 'Settings and index' })
    .locator('.stat', { hasText: label })
    .locator('dd');

async function startReembedFromThePage(dimensions?: number) {
  await session.page.goto(`${baseUrl}/collections/${COLLECTION}`);
  const card = reembedCard();
  await card.getByLabel('New model').fill(target!.model);
  if (dimensions !== undefined) await card.getByLabel('Dimensions').fill(String(dimensions));
  await card.getByRole('button', { name: 'Start re-embedding' }).click();
  await progress().getByText('filling', { exact: true }).waitFor();
}

const describeReembed = target
  ? describeInBrowser
  : (title: string, _session: unknown, body: () => void) =>
      describe.skip(
        `${title} (skipped: a server started elsewhere may have no second model to re-embed to)`,
        body,
      );

describeReembed('re-embedding a collection from its page', session, () => {
  beforeAll(async () => {
    await callApi(baseUrl, 'collections.delete', { name: COLLECTION, confirm: COLLECTION }).catch(
      () => undefined,
    );
    await callApi(baseUrl, 'collections.create', {
      name: COLLECTION,
      dimensions: 100,
      embeddingModel: MODEL,
    });
    for (let start = 0; start < DOCUMENTS; start += 250) {
      await callApi(baseUrl, 'documents.ingest', {
        collection: COLLECTION,
        documents: Array.from({ length: 250 }, (_, i) => ({
          externalId: `note-${start + i}`,
          content: `note ${start + i}: the river ${(start + i) % 13} passes the hill ${(start + i) % 29}`,
        })),
      });
    }
  });

  afterAll(async () => {
    await callApi(baseUrl, 'collections.delete', { name: COLLECTION, confirm: COLLECTION }).catch(
      () => undefined,
    );
  });

  it('starts a re-embed, shows its progress, and cancelling it keeps the model', async () => {
    await session.page.goto(`${baseUrl}/collections/${COLLECTION}`);
    await reembedCard().getByText('No re-embed has run on this collection.').waitFor();
    await startReembedFromThePage(target!.dimensions);
    expect(await progress().textContent()).toContain(
      `${MODEL} (100) → ${target!.model} (${target!.dimensions})`,
    );
    await progress()
      .getByText(/ of 1,000 documents$/)
      .waitFor();
    await progress().getByRole('progressbar', { name: 're-embedded' }).waitFor();

    await reembedCard().getByRole('button', { name: 'Cancel the re-embed' }).click();
    await progress().getByText('cancelled', { exact: true }).waitFor();
    // The form is back, to start another.
    await reembedCard().getByRole('button', { name: 'Start re-embedding' }).waitFor();
    expect(await settingStat('Model').textContent()).toBe(MODEL);
    expect(await settingStat('Dimensions').textContent()).toBe('100');
    const stored = await callApi<Collection>(baseUrl, 'collections.get', { name: COLLECTION });
    expect(stored).toMatchObject({ embeddingModel: MODEL, dimensions: 100 });
    const job = await callApi<{ state: string }>(baseUrl, 'reembed.progress', {
      collection: COLLECTION,
    });
    expect(job.state).toBe('cancelled');
  });

  it('lets a re-embed finish, after which the collection has the new model and dimensions', async () => {
    // No dimensions given: the model's own.
    await startReembedFromThePage();
    // Part-way: some documents have the new model's vectors, not all.
    await progress()
      .getByText(/^[1-9]\d{0,2} of 1,000 documents$/)
      .waitFor();
    await progress().getByText('done', { exact: true }).waitFor({ timeout: 50_000 });
    expect(await progress().textContent()).toContain('1,000 of 1,000 documents');
    // The form is back for another change, empty rather than naming the model now in use.
    expect(await reembedCard().getByLabel('New model').inputValue()).toBe('');
    // The page shows the switched collection without a reload.
    await settingStat('Model').getByText(target!.model, { exact: true }).waitFor();
    expect(await settingStat('Dimensions').textContent()).toBe(String(target!.dimensions));

    const stored = await callApi<Collection>(baseUrl, 'collections.get', { name: COLLECTION });
    expect(stored).toMatchObject({
      embeddingModel: target!.model,
      dimensions: target!.dimensions,
    });
    // Each document now holds the new model's vector of its content.
    const listed = await callApi<{ items: Array<{ id: string }> }>(baseUrl, 'documents.list', {
      collection: COLLECTION,
      limit: 3,
    });
    for (const { id } of listed.items) {
      const document = await callApi<{ content: string; embedding: number[] }>(
        baseUrl,
        'documents.get',
        { collection: COLLECTION, id, includeEmbedding: true },
      );
      // Compared as float32, as the database stores them.
      expect(document.embedding.map(Math.fround)).toEqual(
        stubVector(document.content).map(Math.fround),
      );
    }
    await screenshotsAtBothWidths(session.page, 'collection-reembedded', () =>
      progress().getByText('done', { exact: true }).waitFor(),
    );
  });
});
