import { afterAll, beforeAll, expect, it } from 'vitest';
import { collections, documents as documentsTable, eq, KEYWORD_INDEXED_CHARS } from '@quarry/db';
import { HARD_LIMITS } from '../src/limits';
import { describeEachTarget, createHarness, type Harness } from './harness';

/**
 * Ordinary input that used to be a 500 (issue 13): each is answered, or refused with a 400 that
 * says what to change.
 */
describeEachTarget()('ordinary input on $name', (target) => {
  let harness: Harness;
  let ids: string[] = [];
  beforeAll(async () => {
    harness = await createHarness(target);
    await harness.as().collections.create({ name: 'notes', dimensions: 3, embeddingModel: 'x' });
    ids = (
      await harness.as().documents.ingest({
        collection: 'notes',
        documents: [
          { content: 'first note about tides', embedding: [1, 0, 0] },
          { content: 'second note about tides', embedding: [0, 1, 0] },
        ],
      })
    ).ids;
  });
  afterAll(() => harness?.close());

  // The ends of what an ISO date-time with an offset can say: PostgreSQL refused the first as
  // "time zone displacement out of range" (JavaScript writes year 10000 as +010000), the second
  // for its offset beyond ±15:59.
  const farFuture = ['9999-12-31T23:59:59-14:00', '9999-12-31T23:59:59.999999-23:59'];
  const longAgo = ['0001-01-01T00:00:00Z', '0001-01-01T12:00:00.000001+11:59'];
  const query = { collection: 'notes', text: 'tides', vector: [1, 0, 0] };

  it('takes any date up to the end of year 9999 in any offset, in every procedure that takes dates', async () => {
    const caller = harness.as();
    for (const createdBefore of farFuture) {
      for (const createdAfter of longAgo) {
        const range = { createdAfter, createdBefore };
        expect((await caller.documents.count({ collection: 'notes', ...range })).count).toBe(2);
        expect(
          (await caller.documents.list({ collection: 'notes', ...range })).items.map((d) => d.id),
        ).toEqual(expect.arrayContaining(ids));
        for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
          for (const exact of [false, true]) {
            const { results } = await caller.search.query({ ...query, mode, exact, ...range });
            expect(results).toHaveLength(2);
          }
        }
        const inspected = await caller.search.inspectDocument({
          ...query,
          ...range,
          documentId: ids[0]!,
        });
        expect(inspected).toMatchObject({ inDateRange: true, exactRank: 1 });
        expect(
          await caller.documents.delete({
            collection: 'notes',
            ...range,
            filter: { key: 'nothing', op: 'exists' },
          }),
        ).toEqual({ deleted: 0, ids: [] });
      }
      // After the far future, nothing.
      const after = { createdAfter: createdBefore };
      expect((await caller.documents.count({ collection: 'notes', ...after })).count).toBe(0);
      expect((await caller.documents.list({ collection: 'notes', ...after })).items).toEqual([]);
      expect((await caller.search.query({ ...query, ...after })).results).toEqual([]);
      expect(
        (await caller.search.inspectDocument({ ...query, ...after, documentId: ids[0]! }))
          .inDateRange,
      ).toBe(false);
      expect(await caller.documents.delete({ collection: 'notes', ...after })).toEqual({
        deleted: 0,
        ids: [],
      });
    }
    expect((await caller.documents.count({ collection: 'notes' })).count).toBe(2);
  });

  it('refuses a zero vector in a cosine collection, for which cosine distance is undefined', async () => {
    const caller = harness.as();
    const zero = { content: 'nothing points anywhere', embedding: [0, 0, 0] };
    const documents = [1, 2, 3].map((n) => ({ content: `fine ${n}`, embedding: [n, 1, 0] }));
    await expect(
      caller.documents.ingest({ collection: 'notes', documents: [...documents, zero] }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message:
        "collection 'notes' uses cosine distance, which is undefined for a zero vector (documents[3].embedding)",
    });
    // A vector whose squared norm underflows float32, as pgvector sums it, is zero there too.
    const tiny = [1e-30, -1e-30, 1e-25];
    for (const vector of [[0, 0, 0], [-0, 0, 0], tiny]) {
      for (const mode of ['vector', 'hybrid'] as const) {
        await expect(
          caller.search.query({ collection: 'notes', mode, text: 'tides', vector }),
        ).rejects.toMatchObject({
          code: 'BAD_REQUEST',
          message:
            "collection 'notes' uses cosine distance, which is undefined for a zero vector (query vector)",
        });
      }
      await expect(
        caller.search.inspectDocument({ collection: 'notes', vector, documentId: ids[0]! }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    }
    expect((await caller.documents.count({ collection: 'notes' })).count).toBe(2);
    // One stored before the refusal, written directly: "more like this" refuses it too.
    const [collection] = await harness.database.db
      .select()
      .from(collections)
      .where(eq(collections.name, 'notes'));
    const [stored] = await harness.database.db
      .insert(documentsTable)
      .values({ collectionId: collection!.id, content: 'zero from before', embedding: [0, 0, 0] })
      .returning({ id: documentsTable.id });
    await expect(
      caller.search.query({ collection: 'notes', likeDocumentId: stored!.id }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: `collection 'notes' uses cosine distance, which is undefined for a zero vector (the stored vector of document ${stored!.id})`,
    });
    await caller.documents.delete({ collection: 'notes', ids: [stored!.id] });
    // The smallest vector that is not zero for pgvector is answered, with a similarity.
    const { results } = await caller.search.query({ collection: 'notes', vector: [1e-19, 0, 0] });
    expect(results[0]).toMatchObject({ id: ids[0], similarity: 1 });
  });

  it('takes a zero vector where the metric defines it (l2, inner product)', async () => {
    const caller = harness.as();
    for (const metric of ['l2', 'inner_product'] as const) {
      const name = `zero-${metric.replace('_', '-')}`;
      await caller.collections.create({ name, dimensions: 3, metric, embeddingModel: 'x' });
      const [id] = (
        await caller.documents.ingest({
          collection: name,
          documents: [{ content: 'origin', embedding: [0, 0, 0] }],
        })
      ).ids;
      const { results } = await caller.search.query({ collection: name, vector: [0, 0, 0] });
      expect(results.map((r) => [r.id, Math.abs(r.distance ?? NaN)])).toEqual([[id, 0]]);
      expect(results[0]?.similarity).not.toBeNull();
    }
  });

  /** Distinct words joined by spaces, cut to `chars` characters. */
  function distinctWords(chars: number, word: (i: number) => string): string {
    const words: string[] = [];
    for (let i = 0, length = 0; length < chars; i += 1) {
      words.push(word(i));
      length += words.at(-1)!.length + 1;
    }
    return words.join(' ').slice(0, chars);
  }

  it(`indexes the first ${KEYWORD_INDEXED_CHARS.toLocaleString('en')} characters of a long document for keyword search`, async () => {
    const caller = harness.as();
    // The kind of document, at the content cap: distinct words, whose tsvector as a whole
    // would take 1,461,282 bytes ("string is too long for tsvector", a 500).
    const content = distinctWords(HARD_LIMITS.contentChars, (i) => `w${i}x`);
    const late = 'w50000x';
    expect(content.indexOf(late)).toBeGreaterThan(KEYWORD_INDEXED_CHARS);
    const [id] = (
      await caller.documents.ingest({
        collection: 'notes',
        documents: [{ content, embedding: [0, 0, 1] }],
      })
    ).ids;
    const found = async (text: string) =>
      (await caller.search.query({ collection: 'notes', mode: 'keyword', text })).results.map(
        (r) => r.id,
      );
    expect(await found('w1x')).toEqual([id]);
    expect(await found('w9000x')).toEqual([id]);
    expect(await found(late)).toEqual([]);
    // The whole content is stored all the same.
    const stored = await caller.documents.get({ collection: 'notes', id: id! });
    expect(stored.content).toBe(content);
    await caller.documents.delete({ collection: 'notes', ids: [id!] });
  });

  it('stores a document at the content cap written in the densest text for a tsvector', async () => {
    // Hyphenated compounds of 4-byte letters, every part distinct: each compound is indexed whole
    // and in parts, about 7.7 bytes of tsvector per character.
    const letter = (n: number) => String.fromCodePoint(0x20000 + (n % 40_000));
    const part = (n: number) => letter(n) + letter(Math.floor(n / 40_000) + n * 7);
    const words = distinctWords(
      HARD_LIMITS.contentChars * 2,
      (i) => `${part(2 * i)}-${part(2 * i + 1)}`,
    );
    const content = Array.from(words).slice(0, HARD_LIMITS.contentChars).join('');
    const [first] = words.split(' ');
    const caller = harness.as();
    const [id] = (
      await caller.documents.ingest({
        collection: 'notes',
        documents: [{ content, embedding: [0, 1, 1] }],
      })
    ).ids;
    const { results } = await caller.search.query({
      collection: 'notes',
      mode: 'keyword',
      text: first!,
    });
    expect(results.map((r) => r.id)).toEqual([id]);
    await caller.documents.delete({ collection: 'notes', ids: [id!] });
  });

  it('reads a date with an offset as the same instant in UTC', async () => {
    const caller = harness.as();
    const [newest] = (await caller.documents.list({ collection: 'notes', limit: 1 })).items;
    const at = new Date(newest!.createdAt);
    // The same instant two ways: in UTC and at +05:30.
    const shifted = new Date(at.getTime() + 5.5 * 3600_000).toISOString().replace('Z', '+05:30');
    for (const instant of [newest!.createdAt, shifted]) {
      // Stored with microseconds: a millisecond bound is at or before the stored instant.
      const count = (await caller.documents.count({ collection: 'notes', createdAfter: instant }))
        .count;
      expect(count).toBeGreaterThanOrEqual(1);
    }
  });
});
