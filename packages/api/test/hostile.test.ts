import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import type { MetadataFilter } from '../src/filter';
import { createHarness, testTargets, type Harness } from './harness';

const hostileStrings = ["'", '"', '--', ';', ')', '->', "author' = 'alice' OR '1'='1' --", "x'); drop table documents; --", '\\', '$1', '{}', '\u202e'];

/** Hostile keys and values, through every procedure that takes a filter: no rows or a 4xx, never SQL. */
const hostileFilters: MetadataFilter[] = hostileStrings.flatMap((text): MetadataFilter[] => [
  { key: text, op: 'eq', value: 'alice' },
  { key: 'author', op: 'eq', value: text },
  { key: ['author', text], op: 'exists' },
  { key: text, op: 'in', values: [text, 1] },
  { key: 'author', op: 'contains', value: text },
]);

describe.each(testTargets())('hostile filters on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target);
    await harness.as().collections.create({ name: 'victims', dimensions: 2, embeddingModel: 'external' });
    await harness.as().documents.ingest({
      collection: 'victims',
      documents: [
        { content: 'by bob', embedding: [1, 0], metadata: { author: 'bob' } },
        { content: 'by carol', embedding: [0, 1], metadata: { author: 'carol' } },
      ],
    });
  });
  afterAll(() => harness?.close());

  /** Runs `call`; a refusal must be a typed client error, never a server fault. Assertions inside propagate. */
  async function outcome(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (error) {
      if (!(error instanceof TRPCError)) throw error;
      expect(['BAD_REQUEST', 'PAYLOAD_TOO_LARGE']).toContain(error.code);
    }
  }

  it('search, list, count, inspect and delete match nothing and change nothing', async () => {
    const [bob] = (await harness.as().search.query({ collection: 'victims', vector: [1, 0], k: 1 })).results;
    for (const filter of hostileFilters) {
      await outcome(async () => expect((await harness.as().search.query({ collection: 'victims', vector: [1, 0], k: 5, filter })).results).toEqual([]));
      await outcome(async () => expect((await harness.as().search.query({ collection: 'victims', mode: 'hybrid', text: 'by', vector: [1, 0], k: 5, filter })).results).toEqual([]));
      await outcome(async () => expect((await harness.as().documents.list({ collection: 'victims', filter })).items).toEqual([]));
      await outcome(async () => expect((await harness.as().documents.count({ collection: 'victims', filter })).count).toBe(0));
      await outcome(async () => expect((await harness.as().search.inspectDocument({ collection: 'victims', vector: [1, 0], documentId: bob!.id, filter })).passesFilter).toBe(false));
      await outcome(async () => expect((await harness.as().documents.delete({ collection: 'victims', filter })).deleted).toBe(0));
    }
    expect((await harness.as().documents.count({ collection: 'victims' })).count).toBe(2);
  });

  it('refuses a filter nested past the depth cap with a client error', async () => {
    let filter: MetadataFilter = { key: 'author', op: 'eq', value: 'bob' };
    for (let depth = 0; depth < 50; depth++) filter = { not: filter };
    await expect(harness.as().documents.count({ collection: 'victims', filter })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(harness.as().documents.delete({ collection: 'victims', filter })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('refuses hostile collection names, and hostile tenants see nothing', async () => {
    for (const text of hostileStrings) {
      await expect(harness.as().search.query({ collection: text, vector: [1, 0] })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      // A tenant is a bound value: a refusal, or simply a tenant that has no documents.
      await outcome(async () => expect((await harness.as().documents.count({ collection: 'victims', tenant: text })).count).toBe(0));
    }
  });
});
