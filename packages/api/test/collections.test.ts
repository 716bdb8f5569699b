import { afterAll, beforeAll, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import {
  describeEachTarget,
  createHarness,
  hashedBagOfWords,
  principal,
  type Harness,
} from './harness';

describeEachTarget()('collections on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target, { providers: [hashedBagOfWords('test/bow-64', 64)] });
  });
  afterAll(() => harness?.close());

  it('creates a collection with its own HNSW index using the metric operator class', async () => {
    const created = await harness.as().collections.create({
      name: 'l2-docs',
      dimensions: 8,
      metric: 'l2',
      embeddingModel: 'external',
    });
    expect(created).toMatchObject({
      name: 'l2-docs',
      dimensions: 8,
      metric: 'l2',
      indexType: 'vector',
      operatorClass: 'vector_l2_ops',
      documentCount: 0,
    });
    expect(created.hnsw).toEqual({ m: 16, efConstruction: 64 });
    expect(created.index).toMatchObject({
      valid: true,
      name: expect.stringContaining(`c${created.id}_m16_efc64`),
    });
  });

  it('shows how the cluster holds a collection to an unbound admin key only', async () => {
    const layout = await harness.as().collections.cluster({ name: 'l2-docs' });
    expect(layout.distributed).toBe(target.name === 'citus');
    for (const key of [principal(['read', 'write', 'admin'], 'acme'), principal(['read'])]) {
      await expect(harness.as(key).collections.cluster({ name: 'l2-docs' })).rejects.toMatchObject({
        code: 'FORBIDDEN',
      });
    }
  });

  it('indexes a 3072-dimension collection through halfvec', async () => {
    const created = await harness.as().collections.create({
      name: 'large-model',
      dimensions: 3072,
      embeddingModel: 'openai/text-embedding-3-large',
    });
    expect(created).toMatchObject({ indexType: 'halfvec', operatorClass: 'halfvec_cosine_ops' });
    expect(created.index?.valid).toBe(true);
  });

  it('refuses a dimension no index can serve, saying why', async () => {
    await expect(
      harness.as().collections.create({ name: 'too-wide', dimensions: 4001, embeddingModel: 'x' }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/4001 dimensions cannot be indexed.*4000 as halfvec/),
    });
  });

  it('refuses a collection whose model produces another dimension', async () => {
    await expect(
      harness
        .as()
        .collections.create({ name: 'mismatch', dimensions: 32, embeddingModel: 'test/bow-64' }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: "model 'test/bow-64' produces 64 dimensions, but the collection was asked for 32",
    });
  });

  it('reports a duplicate name as a conflict', async () => {
    await harness.as().collections.create({ name: 'dupe', dimensions: 4, embeddingModel: 'x' });
    await expect(
      harness.as().collections.create({ name: 'dupe', dimensions: 4, embeddingModel: 'x' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('rebuilds the index with new parameters and drops the old one', async () => {
    await harness.as().collections.create({ name: 'tunable', dimensions: 4, embeddingModel: 'x' });
    const updated = await harness
      .as()
      .collections.updateIndex({ name: 'tunable', hnsw: { m: 24, efConstruction: 100 } });
    expect(updated.hnsw).toEqual({ m: 24, efConstruction: 100 });
    expect(updated.index).toMatchObject({
      valid: true,
      name: expect.stringContaining('_m24_efc100'),
    });
    const detail = await harness.as().collections.get({ name: 'tunable' });
    expect(detail.index?.name).toBe(updated.index?.name);
  });

  it('lists collections with counts and reports table health', async () => {
    await harness.as().collections.create({ name: 'listed', dimensions: 2, embeddingModel: 'x' });
    await harness.as().documents.ingest({
      collection: 'listed',
      documents: [
        { content: 'a', embedding: [1, 0] },
        { content: 'b', embedding: [0, 1] },
      ],
    });
    const listed = (await harness.as().collections.list()).find((c) => c.name === 'listed');
    expect(listed?.documentCount).toBe(2);
    const detail = await harness.as().collections.get({ name: 'listed' });
    expect(detail.table?.tableBytes).toBeGreaterThan(0);
  });

  it('deletes only with the name repeated as confirmation, and takes the documents along', async () => {
    await harness.as().collections.create({ name: 'doomed', dimensions: 2, embeddingModel: 'x' });
    await harness
      .as()
      .documents.ingest({ collection: 'doomed', documents: [{ content: 'a', embedding: [1, 0] }] });
    await expect(
      harness.as().collections.delete({ name: 'doomed', confirm: 'yes' }),
    ).rejects.toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(await harness.as().collections.delete({ name: 'doomed', confirm: 'doomed' })).toEqual({
      name: 'doomed',
      deletedDocuments: 1,
    });
    await expect(harness.as().collections.get({ name: 'doomed' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: "collection 'doomed' does not exist; create it first or check the name",
    });
  });

  it('requires the admin scope to manage collections', async () => {
    const error = await harness
      .as(principal(['read', 'write']))
      .collections.create({ name: 'nope', dimensions: 2, embeddingModel: 'x' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect(error).toMatchObject({
      code: 'FORBIDDEN',
      message: "this API key lacks the 'admin' scope",
    });
  });
});
