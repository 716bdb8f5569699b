import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaller, createContextInner, openAccess } from '../src/index';
import { createHarness, describeEachTarget, type Harness } from './harness';

const DIMENSIONS = 4;

/**
 * Content of `chars` characters whose first words tell documents apart. The rest is one long
 * "word", which full-text parsing skips quickly: a 1 MB document of prose takes PostgreSQL ~0.4 s
 * to turn into its tsvector, this one ~0.05 s.
 */
function longContent(i: number, chars: number): string {
  const head = `document ${i} about quarry stones. `;
  return head + 'x'.repeat(chars - head.length);
}

function embedding(i: number): number[] {
  return [1, (i % 10) / 10, Math.floor(i / 10) / 10, 0.5];
}

/** Collection 'notes': 40 documents of 3,000 characters (~120 kB whole). */
async function seedNotes(harness: Harness): Promise<void> {
  await harness.as().collections.create({
    name: 'notes',
    dimensions: DIMENSIONS,
    embeddingModel: 'external',
  });
  await harness.as().documents.ingest({
    collection: 'notes',
    documents: Array.from({ length: 40 }, (_, i) => ({
      content: longContent(i, 3_000),
      embedding: embedding(i),
    })),
  });
}

describeEachTarget()('bounded responses on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target, {
      limits: { contentPreviewChars: 20, maxResponseBytes: 64 * 1024 },
    });
    await seedNotes(harness);
  });
  afterAll(() => harness?.close());

  it('lists and searches the first contentPreviewChars characters, saying how long the whole is', async () => {
    const { items } = await harness.as().documents.list({ collection: 'notes', limit: 5 });
    const searched = await harness
      .as()
      .search.query({ collection: 'notes', vector: embedding(3), k: 5 });
    for (const shown of [...items, ...searched.results]) {
      expect(shown.content).toHaveLength(20);
      expect(shown.content.startsWith('document ')).toBe(true);
      expect(shown.contentTruncated).toBe(true);
      expect(shown.contentLength).toBeGreaterThanOrEqual(3_000);
    }
    const whole = await harness.as().documents.get({ collection: 'notes', id: items[0]!.id });
    expect(whole.content).toHaveLength(items[0]!.contentLength);
    expect(whole.contentTruncated).toBe(false);
  });

  it('shows short content whole and untruncated', async () => {
    const { items } = await harness
      .as()
      .documents.list({ collection: 'notes', limit: 1, contentMaxChars: 10 });
    expect(items[0]?.content).toHaveLength(10);
    await harness.as().documents.ingest({
      collection: 'notes',
      documents: [{ content: 'short one', embedding: [0, 0, 0, 1] }],
    });
    const { results } = await harness
      .as()
      .search.query({ collection: 'notes', vector: [0, 0, 0, 1], k: 1 });
    expect(results[0]).toMatchObject({
      content: 'short one',
      contentTruncated: false,
      contentLength: 9,
    });
  });

  it('refuses contentMaxChars above the preview size, naming it and documents.get', async () => {
    for (const call of [
      () => harness.as().documents.list({ collection: 'notes', contentMaxChars: 21 }),
      () =>
        harness
          .as()
          .search.query({ collection: 'notes', vector: embedding(1), contentMaxChars: 21 }),
    ]) {
      await expect(call()).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/contentMaxChars is at most 20 .*documents\.get/),
      });
    }
  });

  it('refuses a response past maxResponseBytes with a 400 that names the limit and what to ask for', async () => {
    const big = await createHarness(target, {
      limits: { contentPreviewChars: 3_000, maxResponseBytes: 64 * 1024 },
    });
    try {
      await seedNotes(big); // whole contents: ~120 kB, over the 64 KiB limit
      await expect(
        big.as().documents.list({ collection: 'notes', limit: 40 }),
      ).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/limit of 65536 bytes; .*smaller limit/),
      });
      await expect(
        big.as().search.query({ collection: 'notes', vector: embedding(1), k: 40 }),
      ).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringMatching(/limit of 65536 bytes; .*smaller k/),
      });
      expect(
        (await big.as().documents.list({ collection: 'notes', limit: 10 })).items,
      ).toHaveLength(10);
      // The calls of one request (a tRPC batch shares its context) draw on one budget; a refused
      // call adds nothing to it.
      const oneRequest = createCaller(createContextInner(big.services, openAccess));
      const page = () => oneRequest.documents.list({ collection: 'notes', limit: 12 });
      await page(); // ~37 kB
      await expect(page()).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      expect(
        (await oneRequest.documents.list({ collection: 'notes', limit: 5 })).items,
      ).toHaveLength(5);
    } finally {
      await big.close();
    }
  });
});

// ~100 documents of ~1 MB: a list or search of all of them used to serialise every whole content
// (`RangeError: Invalid string length` past V8's string limit, gigabytes of RSS before it).
describeEachTarget(['postgres', 'citus'])('a hundred 1 MB documents on $name', (target) => {
  const COUNT = 100;
  const CHARS = 1_000_000; // HARD_LIMITS.contentChars
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target, { limits: { maxPayloadBytes: 64 * 1024 * 1024 } });
    await harness.as().collections.create({
      name: 'big',
      dimensions: DIMENSIONS,
      embeddingModel: 'external',
    });
    for (let start = 0; start < COUNT; start += 10) {
      await harness.as().documents.ingest({
        collection: 'big',
        documents: Array.from({ length: 10 }, (_, offset) => ({
          externalId: `big-${start + offset}`,
          content: longContent(start + offset, CHARS),
          embedding: embedding(start + offset),
        })),
      });
    }
  }, 300_000);
  afterAll(() => harness?.close());

  it('lists 100 of them with each content cut to the preview size', async () => {
    const { items } = await harness.as().documents.list({ collection: 'big', limit: 100 });
    expect(items).toHaveLength(COUNT);
    for (const item of items) {
      expect(item.content).toHaveLength(4_000);
      expect(item.contentTruncated).toBe(true);
      expect(item.contentLength).toBeGreaterThanOrEqual(CHARS);
    }
    expect(Buffer.byteLength(JSON.stringify(items))).toBeLessThan(1_000_000);
  });

  it('searches k 100 of them, vector and hybrid, with each content cut to the preview size', async () => {
    for (const mode of ['vector', 'hybrid'] as const) {
      const { results } = await harness.as().search.query({
        collection: 'big',
        mode,
        vector: embedding(7),
        text: 'quarry stones',
        k: 100,
      });
      expect(results).toHaveLength(COUNT);
      for (const result of results) {
        expect(result.content).toHaveLength(4_000);
        expect(result).toMatchObject({ contentTruncated: true });
        expect(result.contentLength).toBeGreaterThanOrEqual(CHARS);
      }
    }
  });

  it('returns one of them whole from documents.get', async () => {
    const { items } = await harness.as().documents.list({ collection: 'big', limit: 1 });
    const whole = await harness.as().documents.get({ collection: 'big', id: items[0]!.id });
    const i = Number(/^document (\d+) /.exec(whole.content)?.[1]);
    expect(whole.content).toBe(longContent(i, CHARS));
    expect(whole).toMatchObject({ contentTruncated: false, contentLength: whole.content.length });
  });
});

describe('the preview size by default', () => {
  it('is 4,000 characters and a response is at most 16 MiB', async () => {
    const { defaultLimits } = await import('../src/limits');
    expect(defaultLimits).toMatchObject({
      contentPreviewChars: 4_000,
      maxResponseBytes: 16 * 1024 * 1024,
    });
  });
});
