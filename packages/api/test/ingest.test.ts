import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type Metadata } from '@quarry/db';
import { contentHash } from '../src/index';
import { encodeBase64Vector } from '../src/vector-base64';
import { describeEachTarget, createHarness, hashedBagOfWords, type Harness } from './harness';

describeEachTarget()('documents.ingest on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target, {
      providers: [hashedBagOfWords('test/bow-16', 16)],
      limits: { maxBatchDocuments: 50, maxPayloadBytes: 64 * 1024 },
    });
    await harness
      .as()
      .collections.create({ name: 'notes', dimensions: 16, embeddingModel: 'test/bow-16' });
    await harness
      .as()
      .collections.create({ name: 'vectors', dimensions: 3, embeddingModel: 'external' });
  });
  afterAll(() => harness?.close());

  const count = async (collection: string) =>
    (await harness.as().documents.count({ collection })).count;

  it('embeds documents that come without a vector, with the collection model', async () => {
    const result = await harness
      .as()
      .documents.ingest({ collection: 'notes', documents: [{ content: 'the quick brown fox' }] });
    expect(result).toMatchObject({ inserted: 1, updated: 0, unchanged: 0 });
    const stored = await harness
      .as()
      .documents.get({ collection: 'notes', id: result.ids[0] ?? '', includeEmbedding: true });
    expect(stored.dimensions).toBe(16);
    expect(stored.norm).toBeCloseTo(1, 5);
  });

  it('upserts by external id: insert, then unchanged, then updated', async () => {
    const first = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [{ externalId: 'a', content: 'alpha', embedding: [1, 0, 0] }],
    });
    expect(first).toMatchObject({ inserted: 1, updated: 0, unchanged: 0 });
    const again = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [{ externalId: 'a', content: 'alpha', embedding: [1, 0, 0] }],
    });
    expect(again).toMatchObject({ inserted: 0, updated: 0, unchanged: 1, ids: first.ids });
    const changed = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [
        { externalId: 'a', content: 'alpha 2', embedding: [1, 0, 0], metadata: { v: 2 } },
      ],
    });
    expect(changed).toMatchObject({ inserted: 0, updated: 1, unchanged: 0, ids: first.ids });
    const stored = await harness
      .as()
      .documents.get({ collection: 'vectors', id: first.ids[0] ?? '' });
    expect(stored).toMatchObject({ content: 'alpha 2', metadata: { v: 2 }, externalId: 'a' });
  });

  it('deduplicates documents without an external id by content', async () => {
    const before = await count('vectors');
    const result = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [
        { content: 'same words', embedding: [0, 1, 0] },
        { content: 'same words', embedding: [0, 1, 0] },
        { content: 'other words', embedding: [0, 0, 1] },
      ],
    });
    expect(result).toMatchObject({ inserted: 2, unchanged: 1 });
    expect(result.ids[0]).toBe(result.ids[1]);
    const rerun = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [{ content: 'same words', embedding: [0, 1, 0] }],
    });
    expect(rerun).toMatchObject({ inserted: 0, unchanged: 1, ids: [result.ids[0]] });
    expect(await count('vectors')).toBe(before + 2);
  });

  it('documents.stored answers which documents an ingest would leave unchanged, by the same rule', async () => {
    const keyed = {
      externalId: 'kept',
      content: 'kept words',
      embedding: [1, 1, 0],
      metadata: { v: 1 },
    };
    const unkeyed = { content: 'loose words', embedding: [0, 1, 1], metadata: { file: 'a.md' } };
    await harness.as().documents.ingest({ collection: 'vectors', documents: [keyed, unkeyed] });
    type Item = { content: string; externalId?: string; metadata?: Metadata; embedding?: number[] };
    const ask = ({ content, ...rest }: Item, tenant?: string) =>
      harness.as().documents.stored({
        collection: 'vectors',
        ...(tenant ? { tenant } : {}),
        items: [{ ...rest, contentHash: contentHash(content) }],
      });
    const stored = async (item: Item, tenant?: string) =>
      (await ask(item, tenant)).stored.length === 1;
    const keyedWithoutEmbedding = { ...keyed, embedding: undefined };
    // Each case is checked against what an ingest of it then does.
    const cases: Array<[string, Item, boolean]> = [
      ['the same keyed document', keyed, true],
      ['keyed, without its embedding', keyedWithoutEmbedding, true],
      ['keyed, other metadata', { ...keyed, metadata: { v: 2 } }, false],
      ['keyed, other content', { ...keyed, content: 'kept words, edited' }, false],
      ['keyed, other embedding', { ...keyed, embedding: [1, 0, 1] }, false],
      ['an unknown external id', { ...keyed, externalId: 'new' }, false],
      ['the same unkeyed content', unkeyed, true],
      [
        'unkeyed content with other metadata (the ingest updates it)',
        { ...unkeyed, metadata: { file: 'b.md' } },
        false,
      ],
      ['unkeyed content with another embedding', { ...unkeyed, embedding: [1, 1, 1] }, false],
      ['unkeyed content not stored', { ...unkeyed, content: 'never sent' }, false],
    ];
    for (const [name, item, expected] of cases)
      expect({ name, stored: await stored(item) }).toEqual({ name, stored: expected });
    expect(await ask(keyed)).toEqual({
      stored: [{ externalId: 'kept', contentHash: contentHash(keyed.content) }],
    });
    // Another tenant has none of them.
    expect(await stored(keyed, 'someone-else')).toBe(false);
    expect(await stored(unkeyed, 'someone-else')).toBe(false);
    // And an ingest agrees: what is stored is unchanged.
    const rerun = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [keyed, unkeyed],
    });
    expect(rerun).toMatchObject({ inserted: 0, updated: 0, unchanged: 2 });
    const moved = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [{ ...unkeyed, metadata: { file: 'b.md' } }],
    });
    expect(moved).toMatchObject({ inserted: 0, updated: 1, unchanged: 0 });
    const changed = await harness
      .as()
      .documents.ingest({ collection: 'vectors', documents: [{ ...keyed, embedding: [1, 0, 1] }] });
    expect(changed).toMatchObject({ updated: 1 });
  });

  it('refuses every field it does not use, naming it, and an id that is not externalId', async () => {
    const send = (document: Record<string, unknown>) =>
      harness.as().documents.ingest({
        collection: 'vectors',
        // Fields the input type does not have, as a JSON client may send them.
        documents: [{ content: 'field check', embedding: [1, 0, 0], ...document }],
      });
    await expect(send({ id: 'doc-1' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/unknown field 'id'.*externalId/),
    });
    await expect(send({ tags: ['a'] })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining("unknown field 'tags'"),
    });
    expect(
      (await harness.as().documents.list({ collection: 'vectors' })).items.some(
        (document) => document.content === 'field check',
      ),
    ).toBe(false);
  });

  it('stores a metadata key named __proto__ like any other, and a metadata change of unkeyed content is an update', async () => {
    const metadata = JSON.parse('{"__proto__":"p","kind":"P1"}') as Metadata;
    const { ids } = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [{ content: 'prototype words', embedding: [1, 0, 0], metadata }],
    });
    const stored = await harness.as().documents.get({ collection: 'vectors', id: ids[0] ?? '' });
    expect(JSON.stringify(stored.metadata)).toBe('{"kind":"P1","__proto__":"p"}');
    const again = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [{ content: 'prototype words', embedding: [1, 0, 0], metadata: { kind: 'P2' } }],
    });
    expect(again).toMatchObject({ inserted: 0, updated: 1, unchanged: 0, ids });
  });

  it('documents.stored refuses more items than an ingest batch may hold', async () => {
    const items = Array.from({ length: 51 }, (_, i) => ({ contentHash: contentHash(`d${i}`) }));
    await expect(
      harness.as().documents.stored({ collection: 'vectors', items }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('writes nothing when one document of the batch is bad', async () => {
    const before = await count('vectors');
    await expect(
      harness.as().documents.ingest({
        collection: 'vectors',
        documents: [
          { content: 'fine', embedding: [1, 1, 1] },
          { content: 'wrong size', embedding: [1, 1] },
        ],
      }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: "collection 'vectors' expects 3 dimensions, got 2 (documents[1].embedding)",
    });
    expect(await count('vectors')).toBe(before);
  });

  it('rolls back rows already written when the database fails later in the batch', async () => {
    // A trigger makes the database itself fail on the last document, after the keyed ones are written.
    await harness.database.db
      .execute(sql`create or replace function quarry_test_poison() returns trigger language plpgsql as $$
      begin if new.content = 'poison' then raise exception 'poisoned row'; end if; return new; end $$`);
    // Citus takes a trigger on a distributed table (made on every shard) only when asked to.
    await harness.database.db.transaction(async (tx) => {
      await tx.execute(sql`select set_config('citus.enable_unsafe_triggers', 'on', true)`);
      await tx.execute(
        sql`create trigger quarry_test_poison before insert on documents for each row execute function quarry_test_poison()`,
      );
    });
    const before = await count('vectors');
    try {
      await expect(
        harness.as().documents.ingest({
          collection: 'vectors',
          documents: [
            { externalId: 'written-first', content: 'ok 1', embedding: [1, 2, 3] },
            { content: 'poison', embedding: [3, 2, 1] },
          ],
        }),
      ).rejects.toMatchObject({ code: 'INTERNAL_SERVER_ERROR' });
      expect(await count('vectors')).toBe(before);
    } finally {
      await harness.database.db.transaction(async (tx) => {
        await tx.execute(sql`select set_config('citus.enable_unsafe_triggers', 'on', true)`);
        await tx.execute(sql`drop trigger quarry_test_poison on documents`);
      });
    }
  });

  it('refuses a batch over the configured size, saying the cap', async () => {
    const documents = Array.from({ length: 51 }, (_, i) => ({
      content: `doc ${i}`,
      embedding: [i, 1, 1],
    }));
    await expect(
      harness.as().documents.ingest({ collection: 'vectors', documents }),
    ).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: 'a batch holds at most 50 documents, got 51; split it into smaller batches',
    });
  });

  it('refuses a payload over the configured bytes', async () => {
    const documents = [{ content: 'x'.repeat(70 * 1024), embedding: [1, 1, 1] }];
    await expect(
      harness.as().documents.ingest({ collection: 'vectors', documents }),
    ).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('refuses NaN and Infinity components', async () => {
    await expect(
      harness.as().documents.ingest({
        collection: 'vectors',
        documents: [{ content: 'nan', embedding: [1, Number.NaN, 1] }],
      }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      harness.as().documents.ingest({
        collection: 'vectors',
        documents: [{ content: 'inf', embedding: [1, Number.POSITIVE_INFINITY, 1] }],
      }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('stores a base64 float32 embedding as the same numbers, and it is the same vector on a re-send', async () => {
    const vector = [0.25, -1.5, 3];
    const first = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [
        { content: 'base64 vector', externalId: 'b64', embedding: encodeBase64Vector(vector) },
      ],
    });
    expect(first).toMatchObject({ inserted: 1 });
    const stored = await harness
      .as()
      .documents.get({ collection: 'vectors', id: first.ids[0]!, includeEmbedding: true });
    expect(stored.embedding).toEqual(vector);
    const again = await harness.as().documents.ingest({
      collection: 'vectors',
      documents: [{ content: 'base64 vector', externalId: 'b64', embedding: vector }],
    });
    expect(again).toMatchObject({ unchanged: 1 });
    await expect(
      harness.as().documents.ingest({
        collection: 'vectors',
        documents: [{ content: 'short', embedding: encodeBase64Vector([1, 2]) }],
      }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: "collection 'vectors' expects 3 dimensions, got 2 (documents[0].embedding)",
    });
  });

  it('names an unknown collection', async () => {
    await expect(
      harness.as().documents.ingest({ collection: 'missing', documents: [{ content: 'x' }] }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: "collection 'missing' does not exist; create it first or check the name",
    });
  });

  it('refuses the same external id twice in one batch', async () => {
    await expect(
      harness.as().documents.ingest({
        collection: 'vectors',
        documents: [
          { externalId: 'dup', content: 'a', embedding: [1, 0, 0] },
          { externalId: 'dup', content: 'b', embedding: [0, 1, 0] },
        ],
      }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message:
        "documents[0] and documents[1] share externalId 'dup'; an external id may appear once per batch",
    });
  });

  it('refuses text-only documents when the collection model is not available', async () => {
    await expect(
      harness
        .as()
        .documents.ingest({ collection: 'vectors', documents: [{ content: 'no vector' }] }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message:
        "collection 'vectors' uses model 'external', which this server cannot run; send an embedding with each document",
    });
  });

  it('pages through documents with a cursor, newest first, without repeats', async () => {
    await harness
      .as()
      .collections.create({ name: 'paged', dimensions: 2, embeddingModel: 'external' });
    await harness.as().documents.ingest({
      collection: 'paged',
      documents: Array.from({ length: 7 }, (_, i) => ({
        content: `page doc ${i}`,
        embedding: [i + 1, 1],
      })),
    });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await harness.as().documents.list({ collection: 'paged', limit: 3, cursor });
      seen.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
  });

  it('deletes by filter, and refuses an unfiltered delete without all: true', async () => {
    await harness
      .as()
      .collections.create({ name: 'deletable', dimensions: 2, embeddingModel: 'external' });
    await harness.as().documents.ingest({
      collection: 'deletable',
      documents: [
        { content: 'keep', embedding: [1, 0], metadata: { keep: true } },
        { content: 'drop', embedding: [0, 1], metadata: { keep: false } },
      ],
    });
    await expect(harness.as().documents.delete({ collection: 'deletable' })).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
    const deleted = await harness.as().documents.delete({
      collection: 'deletable',
      filter: { key: 'keep', op: 'eq', value: false },
    });
    expect(deleted.deleted).toBe(1);
    expect(await count('deletable')).toBe(1);
    expect(
      (await harness.as().documents.delete({ collection: 'deletable', all: true })).deleted,
    ).toBe(1);
  });
});
