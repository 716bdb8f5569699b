import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  and,
  documents,
  dropVectorIndexes,
  eq,
  isNull,
  sql,
  vectorIndexStatus,
  type Collection,
  type Metadata,
  type SqlExecutor,
} from '@quarry/db';
import { randomBytes } from 'node:crypto';
import { openAccess } from '../src/auth';
import { loadCollection } from '../src/collections';
import { createContextInner } from '../src/context';
import { openIngestStream } from '../src/ingest-stream';
import {
  ingestDocuments,
  type IngestItem,
  type PipelineItem,
  type IngestOptions,
  type IngestResult,
} from '../src/ingest';
import { defaultLimits } from '../src/limits';
import {
  describeEachTarget,
  clusteredVectors,
  createHarness,
  hashedBagOfWords,
  type Harness,
} from './harness';

/** Ids compared by pattern: which inputs share a document, and which earlier batch's document each is. */
function idPattern(results: readonly IngestResult[]): number[][] {
  const firstSeen = new Map<string, number>();
  return results.map((result) =>
    result.ids.map((id) => {
      if (!firstSeen.has(id)) firstSeen.set(id, firstSeen.size);
      return firstSeen.get(id) ?? -1;
    }),
  );
}

/** An error's message and its causes' (drivers wrap the database's error differently). */
function messages(error: unknown): string[] {
  return error instanceof Error ? [error.message, ...messages(error.cause)] : [];
}

const itemArbitrary: fc.Arbitrary<IngestItem> = fc.record(
  {
    // Few distinct values, so batches repeat contents, external ids and vectors.
    content: fc.constantFrom('alpha', 'beta', 'gamma', 'delta', 'alpha beta'),
    externalId: fc.constantFrom('k1', 'k2', 'k3', 'k4'),
    metadata: fc.constantFrom<Metadata>({}, { colour: 'red' }, { colour: 'blue', n: 2 }),
    embedding: fc.constantFrom([1, 0, 0], [0, 1, 0], [0.5, 0.25, -1]),
  },
  { requiredKeys: ['content', 'embedding'] },
);
// An external id may appear once per batch.
const batchArbitrary = fc.uniqueArray(itemArbitrary, {
  minLength: 1,
  maxLength: 8,
  selector: (item) => item.externalId ?? Symbol('unkeyed'),
});

describeEachTarget()('ingestDocuments, both write strategies, on $name', (target) => {
  let harness: Harness;
  let collectionCount = 0;
  beforeAll(async () => {
    harness = await createHarness(target, { providers: [hashedBagOfWords('test/bow-16', 16)] });
  });
  afterAll(() => harness?.close());

  /** A trigger change in a transaction where Citus allows one on its distributed table (a placeholder elsewhere). */
  const withTriggersAllowed = (change: (tx: SqlExecutor) => Promise<unknown>) =>
    harness.database.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('citus.enable_unsafe_triggers', 'on', true)`);
      await change(tx);
    });

  async function newCollection(
    dimensions: number,
    embeddingModel = 'external',
  ): Promise<Collection> {
    const name = `bulk-${++collectionCount}`;
    await harness.as().collections.create({ name, dimensions, embeddingModel });
    return loadCollection(harness.database.db, name);
  }
  const ingest = (
    collection: Collection,
    items: readonly PipelineItem[],
    tenant = 'default',
    options: IngestOptions = {},
  ) =>
    ingestDocuments(
      harness.database,
      defaultLimits,
      harness.services.embeddings,
      collection,
      tenant,
      items,
      { enforceBatchLimits: false, ...options },
    );
  /** Binary COPY (new documents straight into the table) whatever the batch's size. */
  const bulk = (collection: Collection, items: readonly PipelineItem[], tenant = 'default') =>
    ingest(collection, items, tenant, { strategy: 'copy' });
  /** Multi-row INSERTs into the staging table whatever the batch's size. */
  const perRequest = (collection: Collection, items: readonly PipelineItem[], tenant = 'default') =>
    ingest(collection, items, tenant, { strategy: 'rows' });
  const counts = ({ ids, inserted, updated, unchanged }: IngestResult) => ({
    ids,
    inserted,
    updated,
    unchanged,
  });
  async function stored(collection: Collection) {
    const rows = await harness.database.db
      .select({
        content: documents.content,
        metadata: documents.metadata,
        externalId: documents.externalId,
        embedding: documents.embedding,
        tenant: documents.tenantId,
      })
      .from(documents)
      .where(eq(documents.collectionId, collection.id));
    return rows.map((row) => JSON.stringify(row)).sort();
  }
  const countIn = async (collection: Collection) => (await stored(collection)).length;

  it('returns the same outcome, counts and ids with either strategy, and stores the same rows, for any sequence of batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batchArbitrary, { minLength: 1, maxLength: 4 }),
        async (batches) => {
          const viaRequest = await newCollection(3);
          const viaBulk = await newCollection(3);
          const expected: IngestResult[] = [];
          const actual: IngestResult[] = [];
          // A refused batch (two differing documents with one content) must be refused by both.
          const outcome = (promise: Promise<IngestResult>, into: IngestResult[]) =>
            promise.then(
              (result) => {
                into.push(result);
                return 'stored';
              },
              (error: { code?: string }) => error.code ?? 'error',
            );
          for (const batch of batches) {
            expect(await outcome(bulk(viaBulk, batch), actual)).toBe(
              await outcome(perRequest(viaRequest, batch), expected),
            );
          }
          const tally = (results: IngestResult[]) =>
            results.map(({ inserted, updated, unchanged }) => ({ inserted, updated, unchanged }));
          expect(tally(actual)).toEqual(tally(expected));
          expect(idPattern(actual)).toEqual(idPattern(expected));
          expect(await stored(viaBulk)).toEqual(await stored(viaRequest));
        },
      ),
      { numRuns: target.name === 'pglite' ? 25 : 15, seed: 6 },
    );
  });

  // Two writers sending the same keys in opposite orders locked them in opposite orders and
  // deadlocked (a 500 from documents.ingest); rows are written in key order now.
  it.each([
    ['rows', perRequest],
    ['copy', bulk],
  ] as const)(
    '%s: concurrent batches with the same keys in opposite orders all succeed',
    async (_, ingest) => {
      const collection = await newCollection(3);
      const batch = (round: number, reversed: boolean) => {
        const items = Array.from({ length: 40 }, (_, i) => [
          {
            externalId: `key-${i}`,
            content: `keyed ${i} round ${round} ${reversed}`,
            embedding: [1, i, round],
          },
          { content: `unkeyed ${i} round ${round}`, embedding: [0, i, round + 1] },
        ]).flat();
        return reversed ? items.reverse() : items;
      };
      for (let round = 0; round < 4; round += 1) {
        const results = await Promise.allSettled([
          ingest(collection, batch(round, false)),
          ingest(collection, batch(round, true)),
        ]);
        expect(
          results.flatMap((result) =>
            result.status === 'rejected' ? messages(result.reason) : [],
          ),
        ).toEqual([]);
      }
      expect(await countIn(collection)).toBe(40 + 4 * 40);
    },
  );

  it('upserts by external id: insert, then unchanged, then updated, keeping the id', async () => {
    const collection = await newCollection(3);
    const first = await bulk(collection, [
      { externalId: 'a', content: 'alpha', embedding: [1, 0, 0] },
    ]);
    expect(first).toMatchObject({ inserted: 1, updated: 0, unchanged: 0 });
    expect(
      counts(await bulk(collection, [{ externalId: 'a', content: 'alpha', embedding: [1, 0, 0] }])),
    ).toEqual({ ...counts(first), inserted: 0, unchanged: 1 });
    expect(
      counts(
        await bulk(collection, [
          { externalId: 'a', content: 'alpha 2', embedding: [1, 0, 0], metadata: { v: 2 } },
        ]),
      ),
    ).toEqual({ ...counts(first), inserted: 0, updated: 1 });
    expect(await stored(collection)).toEqual([
      JSON.stringify({
        content: 'alpha 2',
        metadata: { v: 2 },
        externalId: 'a',
        embedding: [1, 0, 0],
        tenant: 'default',
      }),
    ]);
  });

  it.each([
    ['rows', perRequest],
    ['copy', bulk],
  ] as const)(
    '%s: one document per content without an external id; new metadata or a new vector is an update',
    async (_, write) => {
      const collection = await newCollection(3);
      const result = await write(collection, [
        { content: 'same words', embedding: [0, 1, 0], metadata: { n: 1 } },
        { content: 'other words', embedding: [0, 0, 1] },
        { content: 'same words', embedding: [0, 1, 0], metadata: { n: 1 } },
      ]);
      expect(result).toMatchObject({ inserted: 2, updated: 0, unchanged: 1 });
      expect(result.ids[2]).toBe(result.ids[0]);
      const again = (item: IngestItem) => write(collection, [item]).then(counts);
      expect(
        await again({ content: 'same words', embedding: [0, 1, 0], metadata: { n: 1 } }),
      ).toEqual({ ids: [result.ids[0]], inserted: 0, updated: 0, unchanged: 1 });
      expect(
        await again({ content: 'same words', embedding: [1, 1, 1], metadata: { n: 1 } }),
      ).toEqual({ ids: [result.ids[0]], inserted: 0, updated: 1, unchanged: 0 });
      expect(
        await again({ content: 'same words', embedding: [1, 1, 1], metadata: { n: 2 } }),
      ).toEqual({ ids: [result.ids[0]], inserted: 0, updated: 1, unchanged: 0 });
      const [kept] = await harness.database.db
        .select({ metadata: documents.metadata, embedding: documents.embedding })
        .from(documents)
        .where(
          and(
            eq(documents.collectionId, collection.id),
            isNull(documents.externalId),
            eq(documents.content, 'same words'),
          ),
        );
      expect(kept).toEqual({ metadata: { n: 2 }, embedding: [1, 1, 1] });
      expect(await countIn(collection)).toBe(2);
      // Two differing documents with one content in a batch: one of them would be lost.
      await expect(
        write(collection, [
          { content: 'twice', embedding: [0, 1, 0], metadata: { first: true } },
          { content: 'twice', embedding: [0, 1, 0], metadata: { first: false } },
        ]),
      ).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringContaining('documents[0] and documents[1] have the same content'),
      });
      expect(await countIn(collection)).toBe(2);
    },
  );

  it.each([
    ['rows', perRequest],
    ['copy', bulk],
  ] as const)('%s: stores a metadata key named __proto__ like any other', async (_, write) => {
    const collection = await newCollection(3);
    const metadata = JSON.parse('{"__proto__":"p","kind":"P1"}') as Metadata;
    const { ids } = await write(collection, [{ content: 'proto', embedding: [1, 0, 0], metadata }]);
    const [row] = await harness.database.db
      .select({ metadata: documents.metadata })
      .from(documents)
      .where(eq(documents.id, ids[0] ?? ''));
    expect(JSON.stringify(row?.metadata)).toBe('{"kind":"P1","__proto__":"p"}');
  });

  it('keeps tenants apart: the same content in two tenants is two documents', async () => {
    const collection = await newCollection(3);
    const one = await bulk(collection, [{ content: 'shared', embedding: [1, 0, 0] }], 'tenant-a');
    const two = await bulk(collection, [{ content: 'shared', embedding: [1, 0, 0] }], 'tenant-b');
    expect(two.inserted).toBe(1);
    expect(two.ids[0]).not.toBe(one.ids[0]);
  });

  it('writes nothing when one document of the batch has the wrong dimension, and says which', async () => {
    const collection = await newCollection(3);
    await expect(
      bulk(collection, [
        { content: 'fine', embedding: [1, 1, 1] },
        { content: 'wrong size', embedding: [1, 1] },
      ]),
    ).rejects.toMatchObject({
      code: 'DIMENSION_MISMATCH',
      message: `collection '${collection.name}' expects 3 dimensions, got 2 (documents[1].embedding)`,
    });
    await expect(
      bulk(collection, [{ content: 'nan', embedding: [1, Number.NaN, 1] }]),
    ).rejects.toMatchObject({ code: 'INVALID_VECTOR' });
    expect(await countIn(collection)).toBe(0);
  });

  it('rolls back rows already merged when the database fails later in the load, and stays usable', async () => {
    const collection = await newCollection(3);
    await bulk(collection, [{ externalId: 'kept', content: 'before', embedding: [1, 0, 0] }]);
    // The trigger fails the unkeyed merge, which runs after the keyed rows are already upserted.
    await harness.database.db
      .execute(sql`create or replace function quarry_test_bulk_poison() returns trigger language plpgsql as $$
      begin if new.content = 'poison' then raise exception 'poisoned row'; end if; return new; end $$`);
    // Citus takes a trigger on a distributed table (made on every shard) only when asked to.
    await withTriggersAllowed((tx) =>
      tx.execute(
        sql`create trigger quarry_test_bulk_poison before insert on documents for each row execute function quarry_test_bulk_poison()`,
      ),
    );
    try {
      await expect(
        bulk(collection, [
          { externalId: 'kept', content: 'changed', embedding: [0, 1, 0] },
          { externalId: 'new', content: 'new', embedding: [0, 0, 1] },
          { content: 'poison', embedding: [1, 1, 1] },
        ]),
      ).rejects.toSatisfy((error) =>
        messages(error).some((message) => message.includes('poisoned row')),
      );
    } finally {
      await withTriggersAllowed((tx) =>
        tx.execute(sql`drop trigger quarry_test_bulk_poison on documents`),
      );
    }
    expect(await stored(collection)).toEqual([
      JSON.stringify({
        content: 'before',
        metadata: {},
        externalId: 'kept',
        embedding: [1, 0, 0],
        tenant: 'default',
      }),
    ]);
    expect(
      (await bulk(collection, [{ externalId: 'new', content: 'new', embedding: [0, 0, 1] }]))
        .inserted,
    ).toBe(1);
  });

  // The simulated race counts with a sequence, which a Citus shard's trigger cannot see (it runs on
  // the workers): on Citus the concurrent-key case is the 'opposite orders' test above.
  it.skipIf(target.name === 'citus')(
    'stores everything when the database refuses the streamed rows once, as when a concurrent writer takes a key first',
    async () => {
      const collection = await newCollection(3);
      await bulk(collection, [{ externalId: 'old', content: 'old', embedding: [1, 0, 0] }]);
      // The first insert of 'raced' fails as a unique violation would; sequences ignore rollbacks.
      await harness.database.db.execute(sql`create sequence quarry_test_race_seq`);
      await harness.database.db
        .execute(sql`create or replace function quarry_test_race() returns trigger language plpgsql as $$
      begin if new.content = 'raced' and nextval('quarry_test_race_seq') = 1 then raise unique_violation using message = 'simulated concurrent insert'; end if; return new; end $$`);
      await harness.database.db.execute(
        sql`create trigger quarry_test_race before insert on documents for each row execute function quarry_test_race()`,
      );
      try {
        const result = await bulk(collection, [
          { externalId: 'old', content: 'old, changed', embedding: [1, 0, 0] },
          { externalId: 'new', content: 'raced', embedding: [0, 1, 0] },
          { content: 'unkeyed', embedding: [0, 0, 1] },
          { content: 'unkeyed', embedding: [0, 0, 1] },
        ]);
        expect(result).toMatchObject({ inserted: 2, updated: 1, unchanged: 1 });
        expect(result.ids[3]).toBe(result.ids[2]);
        expect(await countIn(collection)).toBe(3);
      } finally {
        await harness.database.db.execute(sql`drop trigger quarry_test_race on documents`);
        await harness.database.db.execute(sql`drop sequence quarry_test_race_seq`);
      }
    },
  );

  it('refuses text PostgreSQL cannot store, before writing anything', async () => {
    const collection = await newCollection(3);
    await expect(
      bulk(collection, [{ content: 'nul \u0000 inside', embedding: [1, 0, 0] }]),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(
      bulk(collection, [{ content: 'ok', embedding: [1, 0, 0], metadata: { note: 'nul \u0000' } }]),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await countIn(collection)).toBe(0);
  });

  it('embeds documents that come without a vector, with the collection model', async () => {
    const collection = await newCollection(16, 'test/bow-16');
    const [embedded] = await hashedBagOfWords('test/bow-16', 16).embed(['the quick brown fox']);
    await bulk(collection, [{ content: 'the quick brown fox' }]);
    const [row] = await harness.database.db
      .select({ embedding: documents.embedding })
      .from(documents)
      .where(eq(documents.collectionId, collection.id));
    expect(row?.embedding).toEqual(embedded?.map(Math.fround));
  });

  it('keeps the planner informed of a collection it grew, so key lookups go through the unique index', async () => {
    const collection = await newCollection(4);
    const items = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => ({
        content: `grown ${from + i}`,
        externalId: `g-${from + i}`,
        embedding: [1, 2, 3, from + i],
      }));
    await bulk(collection, items(0, 1_500));
    await bulk(collection, items(1_500, 1_510));
    const plan = await harness.database.db.execute(
      sql`explain select id from documents where collection_id = ${collection.id}::integer and tenant_id = 'default' and external_id = 'g-7'`,
    );
    expect(JSON.stringify(plan)).toContain('documents_external_id_key');
  });

  it('loads more documents than one request may carry, each vector stored exactly as float32', async () => {
    const collection = await newCollection(32);
    const vectors = clusteredVectors(3_000, 32, 11);
    const items = vectors.map((embedding, i) => ({
      content: `document ${i}`,
      externalId: i % 2 === 0 ? `ext-${i}` : undefined,
      metadata: { i },
      embedding,
    }));
    const result = await bulk(collection, items);
    expect(result).toMatchObject({ inserted: 3_000, updated: 0, unchanged: 0 });
    expect(new Set(result.ids).size).toBe(3_000);
    const [row] = await harness.database.db
      .select({ embedding: documents.embedding, metadata: documents.metadata })
      .from(documents)
      .where(eq(documents.id, result.ids[2_999] ?? ''));
    expect(row).toEqual({ embedding: vectors[2_999], metadata: { i: 2_999 } });
  });
  it('stores vectors given as float32 components (a decoded base64 vector) exactly, by COPY and by rows', async () => {
    const collection = await newCollection(4);
    // The largest float32, a subnormal-adjacent one and one that float32 rounds.
    const vectorOf = (i: number) =>
      Float32Array.of(0.1 + i, -2.5e-38, 3.4028234663852886e38, -1 / 3);
    const items = (prefix: string, count: number) =>
      Array.from({ length: count }, (_, i) => ({
        content: `${prefix} ${i}`,
        externalId: `${prefix}-${i}`,
        embedding: vectorOf(i),
      }));
    const copied = await bulk(collection, items('copied', 40));
    const inserted = await perRequest(collection, items('inserted', 3));
    expect(copied).toMatchObject({ strategy: 'copy', inserted: 40 });
    expect(inserted).toMatchObject({ strategy: 'rows', inserted: 3 });
    const rows = await harness.database.db
      .select({ id: documents.id, embedding: documents.embedding })
      .from(documents)
      .where(eq(documents.collectionId, collection.id));
    const byId = new Map(rows.map((row) => [row.id, row.embedding]));
    expect(byId.get(copied.ids[39] ?? '')).toEqual(Array.from(vectorOf(39)));
    expect(byId.get(inserted.ids[2] ?? '')).toEqual(Array.from(vectorOf(2)));
  });
  it('defers the HNSW index of a large load into an empty collection, and builds it once at the end', async () => {
    const collection = await newCollection(8);
    const items = clusteredVectors(1_200, 8, 3).map((embedding, i) => ({
      content: `deferred ${i}`,
      embedding,
    }));
    const first = await ingest(collection, items);
    expect(first).toMatchObject({ strategy: 'copy', index: { action: 'deferred-rebuilt' } });
    expect(await vectorIndexStatus(harness.database.db, collection.id)).toMatchObject([
      { valid: true },
    ]);
    // The collection now holds more than the next load brings: its index stays.
    const second = await ingest(
      collection,
      items.slice(0, 1_000).map((item) => ({ ...item, content: `${item.content} again` })),
    );
    expect(second).toMatchObject({ inserted: 1_000, index: { action: 'maintained', ms: 0 } });
    const small = await ingest(collection, [
      { content: 'one more', embedding: items[0]!.embedding },
    ]);
    expect(small).toMatchObject({ strategy: 'rows', index: { action: 'maintained' } });
    expect(await vectorIndexStatus(harness.database.db, collection.id)).toMatchObject([
      { valid: true },
    ]);
    // A collection whose index was dropped by hand does not get one from a load.
    const bare = await newCollection(8);
    await dropVectorIndexes(harness.database, bare.id);
    expect(await ingest(bare, items)).toMatchObject({ index: { action: 'none', ms: 0 } });
    expect(await vectorIndexStatus(harness.database.db, bare.id)).toEqual([]);
  });

  it('with keys expected new, a batch some of whose keys another writer stored is merged as the lookup would, and says so', async () => {
    const collection = await newCollection(3);
    const item = (n: number, metadata: Metadata = {}) => ({
      content: `expected ${n}`,
      externalId: n % 2 === 0 ? `e-${n}` : undefined,
      metadata,
      embedding: [1, n, 0],
    });
    const range = (from: number, to: number, metadata: Metadata = {}) =>
      Array.from({ length: to - from }, (_, i) => item(from + i, metadata));
    // The other writer: stored after the load began.
    const earlier = await bulk(collection, range(0, 40));
    let stored = 0;
    const expectNew = {
      strategy: 'copy',
      expectNewKeys: true,
      onKeysStored: () => stored++,
    } as const;
    const result = await ingest(
      collection,
      [...range(0, 20), ...range(20, 40, { v: 2 }), ...range(40, 80)],
      'default',
      expectNew,
    );
    expect(stored).toBe(1);
    expect(result).toMatchObject({ inserted: 40, updated: 20, unchanged: 20 });
    expect(result.ids.slice(0, 40)).toEqual(earlier.ids);
    expect(new Set(result.ids).size).toBe(80);
    expect(await countIn(collection)).toBe(80);

    // Keys that are new indeed are copied straight in.
    const fresh = await ingest(collection, range(80, 120), 'default', expectNew);
    expect(stored).toBe(1);
    expect(fresh).toMatchObject({ inserted: 40, updated: 0, unchanged: 0 });
    expect(await countIn(collection)).toBe(120);
  });

  it("a stream's chunk written while the one before commits is rolled back when that one fails", async () => {
    const collection = await newCollection(3);
    const stream = await openIngestStream(createContextInner(harness.services, openAccess), {
      collection: collection.name,
    });
    const chunk = (from: number, externalId = (n: number) => `s-${n}`) =>
      Array.from({ length: 40 }, (_, i) => ({
        content: `streamed ${from + i}`,
        externalId: externalId(from + i),
        embedding: [1, from + i, 0],
      }));
    // A key too long for the unique index's btree: only the database refuses it.
    const tooLong = randomBytes(9_000).toString('base64');
    const outcomes = await stream.load(200, () =>
      Promise.allSettled([
        stream.write(chunk(0)),
        stream.write(chunk(40, (n) => (n === 79 ? tooLong : `s-${n}`))),
        stream.write(chunk(80)),
      ]),
    );
    expect(outcomes.value.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
    ]);
    expect(await countIn(collection)).toBe(40);
  });

  it('writes nothing once the request is aborted', async () => {
    const collection = await newCollection(3);
    const controller = new AbortController();
    controller.abort();
    await expect(
      ingest(collection, [{ content: 'late', embedding: [1, 0, 0] }], 'default', {
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(await countIn(collection)).toBe(0);
  });
});
