import { afterAll, beforeAll, expect, it } from 'vitest';
import { queryRows } from '@quarry/db';
import { holdCollection, loadCollection } from '../src/collections';
import { reembedStep, startReembedWorker } from '../src/reembed';
import {
  createHarness,
  describeEachTarget,
  hashedBagOfWords,
  principal,
  type Harness,
} from './harness';

const oldModel = hashedBagOfWords('test/bow-32', 32);
const newModel = hashedBagOfWords('test/bow-48', 48);

async function vectorsOf(harness: Harness, collection: string) {
  const listed = await harness.as().documents.list({ collection, limit: 500 });
  return Promise.all(
    listed.items.map(async (doc) => {
      const got = await harness
        .as()
        .documents.get({ collection, id: doc.id, includeEmbedding: true });
      return { id: doc.id, content: got.content, embedding: got.embedding };
    }),
  );
}

describeEachTarget()('re-embedding a collection on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target, { providers: [oldModel, newModel] });
  });
  afterAll(() => harness?.close());

  it('moves every document to the new model and dimension, including ones written during the run', async () => {
    await harness
      .as()
      .collections.create({ name: 're', dimensions: 32, embeddingModel: 'test/bow-32' });
    await harness.as().documents.ingest({
      collection: 're',
      documents: Array.from({ length: 30 }, (_, i) => ({
        content: `paragraph ${i} about rivers and hills`,
        externalId: `d${i}`,
      })),
    });
    const started = await harness
      .as()
      .reembed.start({ collection: 're', model: 'test/bow-48', dimensions: 48 });
    expect(started).toMatchObject({
      state: 'filling',
      total: 30,
      done: 0,
      to: { model: 'test/bow-48', dimensions: 48 },
    });

    const step = (cursor?: string) =>
      reembedStep(harness.database, harness.services.embeddings, started.job, cursor, {
        batchSize: 10,
      });
    const first = await step();
    expect(first).toMatchObject({ kind: 'embedded', count: 10 });
    // Searches still use the old model while the job runs.
    const during = await harness.as().search.query({ collection: 're', text: 'rivers', k: 3 });
    expect(during.results).toHaveLength(3);
    // Written during the run: a new document, and a changed one the first batch had embedded.
    const firstIds = (await vectorsOf(harness, 're'))
      .map((doc) => doc.id)
      .sort()
      .slice(0, 10);
    const changed = (await vectorsOf(harness, 're')).find((doc) => doc.id === firstIds[0])!;
    const changedExternal = (await harness.as().documents.get({ collection: 're', id: changed.id }))
      .externalId!;
    await harness.as().documents.ingest({
      collection: 're',
      documents: [
        { content: 'a late arrival about mountains', externalId: 'late' },
        { content: 'changed text about valleys', externalId: changedExternal },
      ],
    });
    let outcome = await step(first.kind === 'embedded' ? first.cursor : undefined);
    let cursor = outcome.kind === 'embedded' ? outcome.cursor : undefined;
    while (outcome.kind === 'embedded') {
      outcome = await step(cursor);
      cursor = outcome.kind === 'embedded' ? outcome.cursor : undefined;
    }
    expect(outcome).toEqual({ kind: 'switched' });

    const collection = await harness.as().collections.get({ name: 're' });
    expect(collection).toMatchObject({
      embeddingModel: 'test/bow-48',
      dimensions: 48,
      documentCount: 31,
    });
    expect(collection.index).toMatchObject({ valid: true });
    for (const doc of await vectorsOf(harness, 're')) {
      const [expected] = await newModel.embed([doc.content]);
      expect(doc.embedding).toEqual(expected!.map(Math.fround));
    }
    expect(await harness.as().reembed.progress({ collection: 're' })).toMatchObject({
      state: 'done',
      total: 31,
      done: 31,
    });
    const after = await harness.as().search.query({ collection: 're', text: 'valleys', k: 1 });
    expect(after.results[0]?.content).toBe('changed text about valleys');
  });

  it('runs in a worker, and refuses a second start, a tenant-bound key and an unknown model', async () => {
    await harness
      .as()
      .collections.create({ name: 'w', dimensions: 32, embeddingModel: 'test/bow-32' });
    await harness.as().documents.ingest({
      collection: 'w',
      documents: Array.from({ length: 12 }, (_, i) => ({ content: `worker text ${i}` })),
    });
    await expect(
      harness.as().reembed.start({ collection: 'w', model: 'nope/model' }),
    ).rejects.toThrow(/cannot run model 'nope\/model'/);
    await expect(
      harness.as().reembed.start({ collection: 'w', model: 'test/bow-48', dimensions: 12 }),
    ).rejects.toThrow(/produces 48 dimensions/);
    await expect(
      harness
        .as(principal(['admin', 'read'], 'acme'))
        .reembed.start({ collection: 'w', model: 'test/bow-48' }),
    ).rejects.toThrow(/not bound to a tenant/);
    await harness.as().reembed.start({ collection: 'w', model: 'test/bow-48' });
    await expect(
      harness.as().reembed.start({ collection: 'w', model: 'test/bow-48' }),
    ).rejects.toThrow(/already being re-embedded/);
    const worker = startReembedWorker(harness.database, harness.services.embeddings, {
      batchSize: 5,
      pollMs: 50,
    });
    try {
      await expect
        .poll(async () => (await harness.as().reembed.progress({ collection: 'w' }))?.state, {
          timeout: 60_000,
          interval: 50,
        })
        .toBe('done');
    } finally {
      await worker.stop();
    }
    expect(await harness.as().collections.get({ name: 'w' })).toMatchObject({
      embeddingModel: 'test/bow-48',
      dimensions: 48,
    });
  });

  it('cancels before the switch: the collection keeps its model', async () => {
    await harness
      .as()
      .collections.create({ name: 'c', dimensions: 32, embeddingModel: 'test/bow-32' });
    await harness
      .as()
      .documents.ingest({ collection: 'c', documents: [{ content: 'one' }, { content: 'two' }] });
    const started = await harness.as().reembed.start({ collection: 'c', model: 'test/bow-48' });
    await reembedStep(harness.database, harness.services.embeddings, started.job, undefined, {
      batchSize: 1,
    });
    expect(await harness.as().reembed.cancel({ collection: 'c' })).toMatchObject({
      state: 'cancelled',
      done: 0,
    });
    expect(
      await reembedStep(harness.database, harness.services.embeddings, started.job, undefined, {
        batchSize: 1,
      }),
    ).toEqual({ kind: 'gone' });
    expect(await harness.as().collections.get({ name: 'c' })).toMatchObject({
      embeddingModel: 'test/bow-32',
      dimensions: 32,
    });
  });

  it('refuses a write whose vectors were made for the model the collection had before the switch', async () => {
    await harness
      .as()
      .collections.create({ name: 'h', dimensions: 32, embeddingModel: 'test/bow-32' });
    await harness.as().documents.ingest({ collection: 'h', documents: [{ content: 'first' }] });
    const stale = await loadCollection(harness.database.db, 'h');
    const started = await harness.as().reembed.start({ collection: 'h', model: 'test/bow-48' });
    for (let step = 0; step < 5; step++) {
      const outcome = await reembedStep(
        harness.database,
        harness.services.embeddings,
        started.job,
        undefined,
        { batchSize: 10 },
      );
      if (outcome.kind === 'switched') break;
    }
    await expect(
      harness.database.db.transaction((tx) =>
        holdCollection((query) => queryRows(tx, query), stale),
      ),
    ).rejects.toThrow(
      /moved to model 'test\/bow-48' \(48 dimensions\) while this request was running/,
    );
    await harness.database.db.transaction((tx) =>
      holdCollection((query) => queryRows(tx, query), {
        ...stale,
        embeddingModel: 'test/bow-48',
        dimensions: 48,
      }),
    );
  });
});
