import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaller, createContextInner, openAccess } from '@quarry/api';
import {
  createEmbeddingRegistry,
  createOfflineEmbeddingProvider,
  OFFLINE_MODEL,
} from '@quarry/api/embeddings';
import {
  evaluateKnownItems,
  knownItemDocuments,
  loadKnownItems,
  type KnownItemScores,
} from '@quarry/corpus';
import { testTargets, type TestDatabase } from '@quarry/db/testing';

/**
 * Retrieval quality on the known-item set (packages/corpus/known-items): hybrid search at its
 * default settings finds the relevant passages at least as well as the better of vector and keyword
 * search alone. Not timed; `pnpm bench` (part `quality`) reports the same figures on the whole
 * corpus. Here the collection is every relevant passage plus every 8th other one (about 2,200),
 * so the run stays short; the queries are all 250. Quality does not depend on the driver, so it runs
 * on one target: the real PostgreSQL when QUARRY_TEST_DATABASE_URL is set, else the embedded one.
 */
const OTHER_PASSAGE_EVERY = 8;
const target =
  testTargets().find((candidate) => candidate.name === 'postgres') ?? testTargets()[0]!;

describe(`known-item retrieval (${target.name})`, () => {
  const { items } = loadKnownItems();
  let database: TestDatabase;
  // A caller per call: a caller's context is one request, whose response budget spans its calls.
  let callerFor: () => ReturnType<typeof createCaller>;
  const scores: Record<'vector' | 'keyword' | 'hybrid', KnownItemScores | undefined> = {
    vector: undefined,
    keyword: undefined,
    hybrid: undefined,
  };

  beforeAll(async () => {
    const relevant = new Set(items.map((item) => item.relevant));
    const documents = knownItemDocuments().filter(
      (document, index) => relevant.has(document.externalId) || index % OTHER_PASSAGE_EVERY === 0,
    );
    const provider = createOfflineEmbeddingProvider();
    database = await target.createDatabase();
    const services = { database, embeddings: createEmbeddingRegistry([provider]), limits: {} };
    callerFor = () => createCaller(createContextInner(services, openAccess));
    await callerFor().collections.create({
      name: 'known-items',
      dimensions: provider.dimensions,
      embeddingModel: OFFLINE_MODEL,
    });
    for (let start = 0; start < documents.length; start += 1_000) {
      await callerFor().documents.ingest({
        collection: 'known-items',
        documents: documents.slice(start, start + 1_000).map((document) => ({
          content: document.content,
          metadata: document.metadata,
          externalId: document.externalId,
        })),
      });
    }
  }, 600_000);
  afterAll(() => database?.close());

  for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
    it(`${mode}: MRR@10 and recall@10 over ${items.length} queries`, async () => {
      scores[mode] = await evaluateKnownItems(items, async (text) => {
        const { results } = await callerFor().search.query({
          collection: 'known-items',
          mode,
          text,
          k: 10,
          contentMaxChars: 0,
        });
        return results.map((result) => result.externalId ?? '');
      });
      // Well above chance (10 of ~2,200 passages), so the set and the search are wired right.
      expect(scores[mode].recallAt10).toBeGreaterThan(0.05);
    }, 600_000);
  }

  it('hybrid at its defaults is at least as good as the better of vector and keyword', () => {
    const { vector, keyword, hybrid } = scores;
    if (!vector || !keyword || !hybrid) throw new Error('an evaluation above failed');
    const measured = JSON.stringify(scores);
    expect(hybrid.mrrAt10, measured).toBeGreaterThanOrEqual(
      Math.max(vector.mrrAt10, keyword.mrrAt10),
    );
    expect(hybrid.recallAt10, measured).toBeGreaterThanOrEqual(
      Math.max(vector.recallAt10, keyword.recallAt10),
    );
  });
});
