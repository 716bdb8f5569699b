import { afterAll, beforeAll, expect, it } from 'vitest';
import { documents, sql } from '@quarry/db';
import {
  describeEachTarget,
  createHarness,
  clusteredVectors,
  hashedBagOfWords,
  planShape,
  type Harness,
} from './harness';
import { openAccess } from '../src/auth';
import { createContextInner } from '../src/context';
import { searchInputSchema } from '../src/search/input';
import { probeRestrictions } from '../src/search/plan';
import { prepareQuery } from '../src/search/prepare';
import { inReadTransaction } from '../src/transaction';
import { encodeBase64Vector } from '../src/vector-base64';

const DIMENSIONS = 16;
const COUNT = 600;
const topics = [
  'apple orchard harvest',
  'river boat fishing',
  'mountain snow climbing',
  'city traffic noise',
];
const vectors = clusteredVectors(COUNT, DIMENSIONS, 7, 8);

function cosineDistance(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    const y = b[i] ?? 0;
    dot += x * y;
    na += x * x;
    nb += y * y;
  });
  return 1 - dot / Math.sqrt(na * nb);
}

describeEachTarget()('search on $name', (target) => {
  let harness: Harness;
  const ids: string[] = [];
  beforeAll(async () => {
    harness = await createHarness(target, {
      limits: { exactSearchMaxRows: 100, maxK: 100 },
      providers: [hashedBagOfWords('test/bow-16', DIMENSIONS)],
    });
    await harness.as().collections.create({
      name: 'corpus',
      dimensions: DIMENSIONS,
      embeddingModel: 'test/bow-16',
    });
    for (let start = 0; start < COUNT; start += 200) {
      const batch = vectors.slice(start, start + 200).map((embedding, offset) => {
        const i = start + offset;
        return {
          externalId: `doc-${i}`,
          content: `${topics[i % topics.length]} note ${i}`,
          embedding,
          metadata: { bucket: i % 10, topic: i % topics.length, even: i % 2 === 0 },
        };
      });
      ids.push(
        ...(await harness.as().documents.ingest({ collection: 'corpus', documents: batch })).ids,
      );
    }
  });
  afterAll(() => harness?.close());

  const query = vectors[0]!.map((x, i) => x + (i % 2 ? 0.05 : -0.05));

  it('returns the exact nearest neighbours, closest first, with similarity = 1 − cosine distance', async () => {
    const { results, stats } = await harness
      .as()
      .search.query({ collection: 'corpus', vector: query, k: 10, exact: true });
    const expected = vectors
      .map((v, i) => ({ i, d: cosineDistance(query, v) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, 10);
    expect(results.map((r) => r.externalId)).toEqual(expected.map((e) => `doc-${e.i}`));
    results.forEach((result, rank) => {
      expect(result.distance).toBeCloseTo(expected[rank]!.d, 4);
      expect(result.similarity).toBeCloseTo(1 - expected[rank]!.d, 4);
      expect(result.vectorRank).toBe(rank + 1);
    });
    expect(stats).toMatchObject({ strategy: 'exact', fewerThanK: false, mode: 'vector' });
  });

  it('answers an unrestricted query from the HNSW index with high overlap with exact search', async () => {
    const exact = await harness
      .as()
      .search.query({ collection: 'corpus', vector: query, k: 10, exact: true });
    const approximate = await harness
      .as()
      .search.query({ collection: 'corpus', vector: query, k: 10 });
    expect(approximate.stats.strategy).toBe('hnsw');
    const overlap = approximate.results.filter((r) =>
      exact.results.some((e) => e.id === r.id),
    ).length;
    expect(overlap).toBeGreaterThanOrEqual(9);
  });

  it('orders by the distance operator through the collection HNSW index (EXPLAIN)', async () => {
    const { plan } = await harness
      .as()
      .search.query({ collection: 'corpus', vector: query, k: 10, explain: true });
    const text = (plan ?? []).join('\n');
    // On Citus: a shard's copy of the index (`..._efc64_102008 on documents_102008`), and the
    // coordinator's merge of the shards' nearest (`Sort Key: remote_scan.distance`).
    expect(text).toMatch(/Index Scan using documents_hnsw_c\d+_m16_efc64(_\d+)? on documents/);
    expect(text).toMatch(/Order By: \(\(embedding\)::vector\(16\) <=> /);
    expect(text.replace('Sort Key: remote_scan.distance', '')).not.toMatch(/Sort Key/);
  });

  it('restricts results to the metadata filter', async () => {
    const { results } = await harness.as().search.query({
      collection: 'corpus',
      vector: query,
      k: 20,
      filter: { key: 'bucket', op: 'eq', value: 3 },
    });
    expect(results).toHaveLength(20);
    expect(results.every((r) => r.metadata.bucket === 3)).toBe(true);
  });

  it('answers a selective filter exactly, and a broad one with the iterative index scan', async () => {
    // 60 rows have bucket 3 (≤ 100, the configured exactSearchMaxRows); 300 are even (> 100).
    const selective = await harness.as().search.query({
      collection: 'corpus',
      vector: query,
      k: 5,
      filter: { key: 'bucket', op: 'eq', value: 3 },
    });
    expect(selective.stats).toMatchObject({ strategy: 'exact', matchedRows: 60 });
    const broad = await harness.as().search.query({
      collection: 'corpus',
      vector: query,
      k: 5,
      filter: { key: 'even', op: 'eq', value: true },
    });
    expect(broad.stats).toMatchObject({
      strategy: 'hnsw_iterative',
      matchedRows: 101,
      matchedRowsCappedAt: 100,
    });
  });

  it('counts the rows a filter matches only where the count can choose an exact scan', async () => {
    // 1,100 rows: a full sample (1,000) that is not the whole collection.
    const rows = 1100;
    await harness
      .as()
      .collections.create({ name: 'probed', dimensions: DIMENSIONS, embeddingModel: 'external' });
    for (let start = 0; start < rows; start += 550) {
      await harness.as().documents.ingest({
        collection: 'probed',
        documents: Array.from({ length: 550 }, (_, offset) => ({
          content: `probed ${start + offset}`,
          embedding: vectors[(start + offset) % COUNT]!,
          metadata: { even: (start + offset) % 2 === 0, rare: (start + offset) % 20 === 0 },
        })),
      });
    }
    const ctx = createContextInner(harness.services, openAccess);
    const probe = async (filter: object, collectionRows: number | null) => {
      const input = searchInputSchema.parse({ collection: 'probed', vector: query, filter });
      const prepared = await prepareQuery(ctx, openAccess, input, harness.database);
      return inReadTransaction(prepared.reader, { statementTimeoutMs: 0 }, (tx) =>
        probeRestrictions(tx, prepared, { boundTenant: undefined, cutoff: 100, collectionRows }),
      );
    };
    const even = { key: 'even', op: 'eq', value: true };
    // Half of 1,100 rows promise 550, past twice the cutoff: not counted.
    expect(await probe(even, rows)).toEqual({
      sampledRows: 1000,
      sampledPassing: 500,
      matchedRows: null,
    });
    // Without the collection's size the sample promises nothing: counted, up to the cutoff + 1.
    expect((await probe(even, null)).matchedRows).toBe(101);
    // 55 rows promise fewer than twice the cutoff: counted, all of them.
    expect((await probe({ key: 'rare', op: 'eq', value: true }, rows)).matchedRows).toBe(55);
  });

  it('switches strategy exactly at the exactSearchMaxRows boundary', async () => {
    const boundary = await createHarness(target, { limits: { exactSearchMaxRows: 60 } });
    try {
      await boundary
        .as()
        .collections.create({ name: 'corpus', dimensions: DIMENSIONS, embeddingModel: 'external' });
      await boundary.as().documents.ingest({
        collection: 'corpus',
        documents: vectors.slice(0, 200).map((embedding, i) => ({
          content: `n ${i}`,
          embedding,
          metadata: { group: i < 60 ? 'a' : i < 121 ? 'b' : 'c' },
        })),
      });
      const atLimit = await boundary.as().search.query({
        collection: 'corpus',
        vector: query,
        k: 5,
        filter: { key: 'group', op: 'eq', value: 'a' },
      });
      const overLimit = await boundary.as().search.query({
        collection: 'corpus',
        vector: query,
        k: 5,
        filter: { key: 'group', op: 'eq', value: 'b' },
      });
      expect(atLimit.stats.strategy).toBe('exact');
      expect(overLimit.stats.strategy).toBe('hnsw_iterative');
      expect(overLimit.results).toHaveLength(5);
      expect(overLimit.results.every((r) => r.metadata.group === 'b')).toBe(true);
    } finally {
      await boundary.close();
    }
  });

  it('returns k results whenever at least k documents match, even far from the query', async () => {
    // Topic 3 documents that are also in bucket 7: few, scattered across clusters.
    const filter = {
      and: [
        { key: 'topic', op: 'eq' as const, value: 3 },
        { key: 'even', op: 'eq' as const, value: false },
      ],
    };
    const matching = (await harness.as().documents.count({ collection: 'corpus', filter })).count;
    expect(matching).toBeGreaterThan(100);
    const { results, stats } = await harness
      .as()
      .search.query({ collection: 'corpus', vector: query, k: 100, filter });
    expect(results).toHaveLength(100);
    expect(stats.fewerThanK).toBe(false);
  });

  it('says when fewer than k documents exist', async () => {
    const { results, stats } = await harness.as().search.query({
      collection: 'corpus',
      vector: query,
      k: 50,
      filter: { key: 'bucket', op: 'in', values: [] },
    });
    expect(results).toHaveLength(0);
    expect(stats.fewerThanK).toBe(true);
  });

  it('drops results below the similarity threshold', async () => {
    const all = await harness
      .as()
      .search.query({ collection: 'corpus', vector: query, k: 30, exact: true });
    const cut = all.results[9]!.similarity!;
    const { results } = await harness.as().search.query({
      collection: 'corpus',
      vector: query,
      k: 30,
      exact: true,
      minSimilarity: cut,
    });
    expect(results.length).toBeGreaterThanOrEqual(10);
    expect(results.every((r) => (r.similarity ?? -Infinity) >= cut)).toBe(true);
  });

  it('answers an unreachable threshold with nothing, without walking the index', async () => {
    const { results, plan } = await harness.as().search.query({
      collection: 'corpus',
      vector: query,
      k: 10,
      minSimilarity: 0.999999,
      filter: { key: 'even', op: 'eq', value: true },
      explain: true,
    });
    expect(results).toEqual([]);
    const indexLine = plan?.find((line) => line.includes('Index Scan using documents_hnsw')) ?? '';
    const scanned = Number(/actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/.exec(indexLine)?.[1] ?? NaN);
    expect(scanned).toBeLessThanOrEqual(10);
  });

  it('finds documents by keyword with websearch syntax, and never fails on odd input', async () => {
    const { results } = await harness
      .as()
      .search.query({ collection: 'corpus', mode: 'keyword', text: 'fishing -apple', k: 5 });
    expect(results).toHaveLength(5);
    expect(
      results.every(
        (r) => r.content.includes('fishing') && r.keywordRank !== null && r.vectorRank === null,
      ),
    ).toBe(true);
    for (const text of ['"unbalanced', '&&| !(', "author' = 'alice' OR '1'='1' --", ':* <-> )']) {
      await expect(
        harness.as().search.query({ collection: 'corpus', mode: 'keyword', text, k: 5 }),
      ).resolves.toBeDefined();
    }
  });

  it('fuses vector and keyword ranks by reciprocal rank in hybrid mode', async () => {
    const { results, stats } = await harness.as().search.query({
      collection: 'corpus',
      mode: 'hybrid',
      text: 'river boat',
      vector: query,
      k: 10,
      hybrid: { fusion: 'rrf', rrfK: 60, vectorWeight: 1, keywordWeight: 2 },
    });
    expect(stats.mode).toBe('hybrid');
    expect(results).toHaveLength(10);
    for (const r of results) {
      const expected =
        (r.vectorRank ? 1 / (60 + r.vectorRank) : 0) +
        (r.keywordRank ? 2 / (60 + r.keywordRank) : 0);
      expect(r.score).toBeCloseTo(expected, 12);
      expect(r.distance).not.toBeNull();
    }
    expect(results.map((r) => r.score)).toEqual(
      [...results.map((r) => r.score)].sort((a, b) => b - a),
    );
    expect(results.some((r) => r.keywordRank !== null)).toBe(true);
  });

  it('plans the keyword half of a hybrid search as it plans a keyword search: the index scan settings of the vector half do not carry over', async () => {
    // A broad filter makes the vector half walk the HNSW index with sequential and bitmap scans
    // switched off; the keyword half that follows in the same transaction must get them back.
    const filter = { key: 'even', op: 'eq', value: true } as const;
    // Statistics settled first: an autoanalyze between the two searches (on a Citus worker, of a
    // shard) could tip the keyword scan between two bitmap plans of near cost, settings or not.
    await harness.database.db.execute(sql`analyze ${documents}`);
    const hybrid = await harness.as().search.query({
      collection: 'corpus',
      mode: 'hybrid',
      text: 'river boat',
      vector: query,
      // The page is the candidates, so the keyword half is the same statement as the search below.
      k: 40,
      hybrid: { candidates: 40 },
      filter,
      explain: true,
    });
    const keyword = await harness.as().search.query({
      collection: 'corpus',
      mode: 'keyword',
      text: 'river boat',
      k: 40,
      filter,
      explain: true,
    });
    expect(hybrid.stats.strategy).toBe('hnsw_iterative');
    expect(hybrid.keywordPlan?.length).toBeGreaterThan(0);
    expect(planShape(hybrid.keywordPlan)).toEqual(planShape(keyword.keywordPlan));
  });

  it('refuses k above the server limit, naming it', async () => {
    await expect(
      harness.as().search.query({ collection: 'corpus', vector: query, k: 101 }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('k is at most 100 on this server, got 101'),
    });
  });

  it('embeds query text with the collection model', async () => {
    const { results } = await harness
      .as()
      .search.query({ collection: 'corpus', text: 'anything at all', k: 3 });
    expect(results).toHaveLength(3);
  });

  it('finds more like a stored document, the document itself first', async () => {
    const { results } = await harness
      .as()
      .search.query({ collection: 'corpus', likeDocumentId: ids[42]!, k: 3, exact: true });
    expect(results[0]?.id).toBe(ids[42]);
  });

  it('refuses a query vector of the wrong dimension, naming both', async () => {
    await expect(
      harness.as().search.query({ collection: 'corpus', vector: [1, 2, 3], k: 3 }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: "collection 'corpus' expects 16 dimensions, got 3 (query vector)",
    });
  });

  it('takes a query vector as base64 float32 as it takes the numbers, and names what is wrong with one', async () => {
    const asFloat32 = Array.from(Float32Array.from(query));
    const byNumbers = await harness
      .as()
      .search.query({ collection: 'corpus', vector: asFloat32, k: 5, exact: true });
    const byBase64 = await harness.as().search.query({
      collection: 'corpus',
      vector: encodeBase64Vector(query),
      k: 5,
      exact: true,
    });
    expect(byBase64.results.map((result) => [result.id, result.distance])).toEqual(
      byNumbers.results.map((result) => [result.id, result.distance]),
    );
    const refusal = (vector: string) =>
      harness.as().search.query({ collection: 'corpus', vector, k: 3 });
    await expect(refusal(encodeBase64Vector([1, 2, 3]))).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: "collection 'corpus' expects 16 dimensions, got 3 (query vector)",
    });
    await expect(
      refusal(encodeBase64Vector([...query.slice(0, 15), Number.NaN])),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('component 15 of the base64 vector is NaN'),
    });
    // Five bytes: not whole float32 components; and text outside base64's alphabet.
    for (const text of ['AAAAAAA=', 'not base64 at all!!']) {
      await expect(refusal(text)).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringContaining('base64 of little-endian float32 components'),
      });
    }
  });

  it('explains why a document is not in the results', async () => {
    const exact = await harness
      .as()
      .search.query({ collection: 'corpus', vector: query, k: 50, exact: true });
    const twentieth = exact.results[19]!;
    const inspected = await harness.as().search.inspectDocument({
      collection: 'corpus',
      vector: query,
      k: 10,
      documentId: twentieth.id,
    });
    expect(inspected).toMatchObject({ exactRank: 20, withinK: false, passesFilter: true });
    expect(inspected.distance).toBeCloseTo(twentieth.distance!, 6);
    const filteredOut = await harness.as().search.inspectDocument({
      collection: 'corpus',
      vector: query,
      k: 10,
      documentId: twentieth.id,
      filter: { key: 'bucket', op: 'eq', value: -1 },
    });
    expect(filteredOut).toMatchObject({ passesFilter: false, exactRank: null, withinK: false });
  });

  it('truncates content on request and says so', async () => {
    const { results } = await harness
      .as()
      .search.query({ collection: 'corpus', vector: query, k: 1, contentMaxChars: 5 });
    expect(results[0]?.content).toHaveLength(5);
    expect(results[0]?.contentTruncated).toBe(true);
  });
});
