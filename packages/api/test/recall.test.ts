import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MetadataFilter } from '../src/filter';
import {
  describeEachTarget,
  clusteredVectors,
  createHarness,
  seededRandom,
  type Harness,
} from './harness';

const DIMENSIONS = 32;
const COUNT = 5000;
const QUERIES = 20;
const K = 10;

/**
 * Filtered recall against exact search. exactSearchMaxRows is set below every selectivity here so
 * that all three are answered by the HNSW index (iterative scan), the path whose recall is in question.
 */
const selectivities: Array<{ name: string; filter: MetadataFilter }> = [
  { name: '1%', filter: { key: 'bucket', op: 'eq', value: 0 } },
  { name: '10%', filter: { key: 'bucket', op: 'lt', value: 10 } },
  { name: '50%', filter: { key: 'bucket', op: 'lt', value: 50 } },
];

describeEachTarget()('filtered recall on $name', (target) => {
  let harness: Harness;
  const data = clusteredVectors(COUNT + QUERIES, DIMENSIONS, 11, 24);
  const queries = data.slice(COUNT);
  beforeAll(async () => {
    harness = await createHarness(target, {
      limits: { exactSearchMaxRows: 20, maxBatchDocuments: 1000 },
    });
    await harness
      .as()
      .collections.create({ name: 'recall', dimensions: DIMENSIONS, embeddingModel: 'external' });
    const random = seededRandom(99);
    for (let start = 0; start < COUNT; start += 1000) {
      await harness.as().documents.ingest({
        collection: 'recall',
        documents: data.slice(start, Math.min(start + 1000, COUNT)).map((embedding, offset) => ({
          externalId: String(start + offset),
          content: `point ${start + offset}`,
          embedding,
          metadata: { bucket: Math.floor(random() * 100) },
        })),
      });
    }
  }, 300_000);
  afterAll(() => harness?.close());

  it.each(selectivities)(
    'reaches recall@10 ≥ 0.95 at $name selectivity through the index, never short',
    async ({ filter }) => {
      let found = 0;
      let answeredByIndex = 0;
      for (const vector of queries) {
        const exact = await harness
          .as()
          .search.query({ collection: 'recall', vector, k: K, filter, exact: true });
        const indexed = await harness
          .as()
          .search.query({ collection: 'recall', vector, k: K, filter });
        if (indexed.stats.strategy === 'hnsw_iterative') answeredByIndex++;
        expect(indexed.results).toHaveLength(K);
        const truth = new Set(exact.results.map((r) => r.id));
        found += indexed.results.filter((r) => truth.has(r.id)).length;
      }
      const recall = found / (QUERIES * K);
      expect(recall).toBeGreaterThanOrEqual(0.95);
      // The exact fallback may rescue a rare short answer, but the index must carry the queries.
      expect(answeredByIndex).toBeGreaterThanOrEqual(QUERIES * 0.9);
    },
  );
});
