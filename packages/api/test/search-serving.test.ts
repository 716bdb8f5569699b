import { createDb } from '@quarry/db';
import { roundTripCounter } from '@quarry/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCaller, createContextInner, openAccess, type QuarryServices } from '../src';
import { createEmbeddingRegistry } from '../src/embeddings';
import {
  clusteredVectors,
  createHarness,
  describeEachTarget,
  testTargets,
  type Harness,
} from './harness';

const DIMENSIONS = 8;
const COUNT = 120;
const vectors = clusteredVectors(COUNT, DIMENSIONS, 3, 4);

async function fill(harness: Harness, name = 'pages', dimensions = DIMENSIONS): Promise<void> {
  await harness.as().collections.create({ name, dimensions, embeddingModel: 'none' });
  await harness.as().documents.ingest({
    collection: name,
    documents: vectors.map((embedding, i) => ({
      externalId: `doc-${i}`,
      content: `note ${i}`,
      embedding: dimensions === DIMENSIONS ? embedding : [...embedding, ...embedding],
      metadata: { even: i % 2 === 0 },
    })),
  });
}

describeEachTarget()('search serving on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target, { limits: { maxK: 100 } });
    await fill(harness);
  });
  afterAll(() => harness?.close());

  it('pages with offset: consecutive pages are the exact ranking, and the last page says so', async () => {
    const query = { collection: 'pages', vector: vectors[3]!, exact: true };
    const whole = await harness.as().search.query({ ...query, k: 30 });
    const first = await harness.as().search.query({ ...query, k: 10 });
    const second = await harness.as().search.query({ ...query, k: 10, offset: first.nextOffset! });
    const third = await harness.as().search.query({ ...query, k: 10, offset: 20 });
    expect(first.nextOffset).toBe(10);
    expect([...first.results, ...second.results, ...third.results].map((r) => r.id)).toEqual(
      whole.results.map((r) => r.id),
    );
    const filtered = await harness.as().search.query({
      ...query,
      k: 30,
      offset: 40,
      filter: { key: 'even', op: 'eq', value: true },
    });
    expect(filtered.results).toHaveLength(20);
    expect(filtered.nextOffset).toBeNull();
  });

  it('refuses k + offset beyond the server limit, naming both', async () => {
    await expect(
      harness.as().search.query({ collection: 'pages', vector: vectors[0]!, k: 60, offset: 50 }),
    ).rejects.toThrow(/k \+ offset is at most 100.*60 \+ 50/);
  });

  it('refuses unknown fields with a 400 naming them, in search and in documents.list', async () => {
    const search = harness
      .as()
      .search.query({ collection: 'pages', vector: vectors[0]!, page: 2 } as never);
    await expect(search).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(search).rejects.toThrow(/page/);
    const hybrid = harness.as().search.query({
      collection: 'pages',
      vector: vectors[0]!,
      hybrid: { rrfk: 10 },
    } as never);
    await expect(hybrid).rejects.toThrow(/rrfk/);
    const list = harness.as().documents.list({ collection: 'pages', offset: 10 } as never);
    await expect(list).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(list).rejects.toThrow(/offset/);
  });

  it('notices in the same request when a cached collection was replaced (as another instance would)', async () => {
    await fill(harness, 'replaced');
    const before = await harness
      .as()
      .search.query({ collection: 'replaced', vector: vectors[0]!, k: 3 });
    expect(before.results).toHaveLength(3);
    // Nothing on this instance is told: only the row's fingerprint changes.
    await harness.as().collections.delete({ name: 'replaced', confirm: 'replaced' });
    await fill(harness, 'replaced', DIMENSIONS * 2);
    const doubled = [...vectors[0]!, ...vectors[0]!];
    const after = await harness
      .as()
      .search.query({ collection: 'replaced', vector: doubled, k: 3 });
    expect(after.results).toHaveLength(3);
    expect(after.results[0]?.externalId).toBe('doc-0');
  });
});

const postgresTarget = testTargets().find((target) => target.name === 'postgres');

describe.skipIf(!postgresTarget)('round trips of a search (counted on the wire)', () => {
  let harness: Harness;
  let proxy: Awaited<ReturnType<typeof roundTripCounter>>;
  let caller: ReturnType<typeof createCaller>;
  let close: () => Promise<void>;
  beforeAll(async () => {
    harness = await createHarness(postgresTarget!);
    await fill(harness);
    proxy = await roundTripCounter(harness.database.url!);
    const database = await createDb({ driver: 'postgres', url: proxy.url, maxConnections: 1 });
    const services: QuarryServices = { database, embeddings: createEmbeddingRegistry([]) };
    caller = createCaller(createContextInner(services, openAccess));
    close = () => database.close();
  });
  afterAll(async () => {
    await close?.();
    await proxy?.close();
    await harness?.close();
  });

  async function tripsOf(run: () => Promise<unknown>): Promise<number> {
    await run(); // warm: connection, collection cache, prepared statements
    await run();
    proxy.take();
    await run();
    return proxy.take();
  }

  // BEGIN, the settings with the collection check, the query and COMMIT, pipelined. (Before: 8.)
  it('an unrestricted vector search takes 1', async () => {
    const trips = await tripsOf(() =>
      caller.search.query({ collection: 'pages', vector: vectors[5]!, k: 5 }),
    );
    expect(trips).toBe(1);
  });

  it('a keyword search takes 1', async () => {
    const trips = await tripsOf(() =>
      caller.search.query({ collection: 'pages', mode: 'keyword', text: 'note', k: 5 }),
    );
    expect(trips).toBe(1);
  });

  // BEGIN, the settings with the collection check, the keyword query, the vector settings, the
  // vector query and COMMIT, pipelined. (Before: 3.)
  it('an unrestricted hybrid search takes 1', async () => {
    const trips = await tripsOf(() =>
      caller.search.query({
        collection: 'pages',
        mode: 'hybrid',
        text: 'note',
        vector: vectors[5]!,
        k: 5,
      }),
    );
    expect(trips).toBe(1);
  });

  // BEGIN, the settings with the collection check and the probe; the query (exact here) and
  // COMMIT. (Before: 10, with the lookup, the settings, and each statement described before it ran.)
  it('a filtered vector search takes 2', async () => {
    const trips = await tripsOf(() =>
      caller.search.query({
        collection: 'pages',
        vector: vectors[5]!,
        k: 5,
        filter: { key: 'even', op: 'eq', value: true },
      }),
    );
    expect(trips).toBe(2);
  });
});
