import { afterAll, beforeAll, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import type { MetadataFilter } from '../src/filter';
import { HARD_LIMITS } from '../src/limits';
import { describeEachTarget, createHarness, type Harness } from './harness';
import { nested } from '../src/testing';
import { refused } from './hostile-fixture';

const hostileStrings = [
  "'",
  '"',
  '--',
  ';',
  ')',
  '->',
  "author' = 'alice' OR '1'='1' --",
  "x'); drop table documents; --",
  '\\',
  '$1',
  '{}',
  '\u202e',
];

/** Hostile keys and values, through every procedure that takes a filter: no rows or a 4xx, never SQL. */
const hostileFilters: MetadataFilter[] = hostileStrings.flatMap((text): MetadataFilter[] => [
  { key: text, op: 'eq', value: 'alice' },
  { key: 'author', op: 'eq', value: text },
  { key: ['author', text], op: 'exists' },
  { key: text, op: 'in', values: [text, 1] },
  { key: 'author', op: 'contains', value: text },
]);

describeEachTarget()('hostile filters on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target);
    await harness
      .as()
      .collections.create({ name: 'victims', dimensions: 2, embeddingModel: 'external' });
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
    const [bob] = (await harness.as().search.query({ collection: 'victims', vector: [1, 0], k: 1 }))
      .results;
    for (const filter of hostileFilters) {
      await outcome(async () =>
        expect(
          (await harness.as().search.query({ collection: 'victims', vector: [1, 0], k: 5, filter }))
            .results,
        ).toEqual([]),
      );
      await outcome(async () =>
        expect(
          (
            await harness.as().search.query({
              collection: 'victims',
              mode: 'hybrid',
              text: 'by',
              vector: [1, 0],
              k: 5,
              filter,
            })
          ).results,
        ).toEqual([]),
      );
      await outcome(async () =>
        expect(
          (await harness.as().documents.list({ collection: 'victims', filter })).items,
        ).toEqual([]),
      );
      await outcome(async () =>
        expect((await harness.as().documents.count({ collection: 'victims', filter })).count).toBe(
          0,
        ),
      );
      await outcome(async () =>
        expect(
          (
            await harness.as().search.inspectDocument({
              collection: 'victims',
              vector: [1, 0],
              documentId: bob!.id,
              filter,
            })
          ).passesFilter,
        ).toBe(false),
      );
      await outcome(async () =>
        expect(
          (await harness.as().documents.delete({ collection: 'victims', filter })).deleted,
        ).toBe(0),
      );
    }
    expect((await harness.as().documents.count({ collection: 'victims' })).count).toBe(2);
  });

  it('refuses a filter nested past the depth cap with a client error', async () => {
    let filter: MetadataFilter = { key: 'author', op: 'eq', value: 'bob' };
    for (let depth = 0; depth < 50; depth++) filter = { not: filter };
    await expect(
      harness.as().documents.count({ collection: 'victims', filter }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      harness.as().documents.delete({ collection: 'victims', filter }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('refuses hostile collection names, and hostile tenants see nothing', async () => {
    for (const text of hostileStrings) {
      await expect(
        harness.as().search.query({ collection: text, vector: [1, 0] }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      // A tenant is a bound value: a refusal, or simply a tenant that has no documents.
      await outcome(async () =>
        expect(
          (await harness.as().documents.count({ collection: 'victims', tenant: text })).count,
        ).toBe(0),
      );
    }
  });
});

/**
 * Counterexamples the hostile-input properties (hostile.properties.test.ts) found, each a 500 from
 * the database before it was refused at the edge. Each must now be a 400 that changes nothing.
 */
describeEachTarget()('hostile input regressions on $name', (target) => {
  let harness: Harness;
  const wide = Array.from({ length: 2001 }, () => 0.01);
  beforeAll(async () => {
    harness = await createHarness(target);
    await harness
      .as()
      .collections.create({ name: 'plain', dimensions: 2, embeddingModel: 'external' });
    await harness.as().collections.create({
      name: 'wide',
      dimensions: 2001,
      metric: 'l2',
      embeddingModel: 'external',
    });
    await harness.as().documents.ingest({
      collection: 'plain',
      documents: [{ content: 'hello world', embedding: [1, 0], metadata: { a: 1 } }],
    });
  });
  afterAll(() => harness?.close());

  it('refuses a NUL character in keyword query text', async () => {
    expect(
      await refused(harness.database, () =>
        harness.as().search.query({ collection: 'plain', mode: 'keyword', text: 'a\u0000' }),
      ),
    ).toBe('BAD_REQUEST');
  });

  it('refuses a NUL character in an external id and in an embedding model name', async () => {
    expect(
      await refused(harness.database, () =>
        harness.as().documents.ingest({
          collection: 'plain',
          documents: [{ content: 'x', externalId: '\u0000', embedding: [1, 0] }],
        }),
      ),
    ).toBe('BAD_REQUEST');
    expect(
      await refused(harness.database, () =>
        harness.as().collections.create({ name: 'nul', dimensions: 2, embeddingModel: '\u0000' }),
      ),
    ).toBe('BAD_REQUEST');
  });

  it('refuses an unpaired surrogate in metadata values and keys, and in content', async () => {
    expect(
      await refused(harness.database, () =>
        harness.as().documents.ingest({
          collection: 'plain',
          documents: [{ content: 'x', embedding: [1, 0], metadata: { a: '\ud800' } }],
        }),
      ),
    ).toBe('BAD_REQUEST');
    expect(
      await refused(harness.database, () =>
        harness.as().documents.ingest({
          collection: 'plain',
          documents: [{ content: 'x', embedding: [1, 0], metadata: { '\udc00': [{ b: 1 }] } }],
        }),
      ),
    ).toBe('BAD_REQUEST');
    // Stored as text, it would silently become U+FFFD: not the content that was sent.
    expect(
      await refused(harness.database, () =>
        harness.as().documents.ingest({
          collection: 'plain',
          documents: [{ content: 'x\ud800', embedding: [1, 0] }],
        }),
      ),
    ).toBe('BAD_REQUEST');
  });

  it('refuses a forged list cursor whose timestamp is not a timestamp', async () => {
    const cursor = Buffer.from(
      JSON.stringify({ createdAt: '0', id: '00000000-0000-4000-8000-000000000000' }),
    ).toString('base64url');
    expect(
      await refused(harness.database, () =>
        harness.as().documents.list({ collection: 'plain', cursor }),
      ),
    ).toBe('BAD_REQUEST');
  });

  it('refuses dates before year 1, which PostgreSQL has no value for', async () => {
    expect(
      await refused(harness.database, () =>
        harness.as().documents.count({ collection: 'plain', createdAfter: '0000-01-01T00:00:00Z' }),
      ),
    ).toBe('BAD_REQUEST');
    // Year 1 in its own time zone, year 0 in UTC.
    expect(
      await refused(harness.database, () =>
        harness.as().search.query({
          collection: 'plain',
          vector: [1, 0],
          createdBefore: '0001-01-01T00:00:00+01:00',
        }),
      ),
    ).toBe('BAD_REQUEST');
    expect(
      (
        await harness
          .as()
          .documents.count({ collection: 'plain', createdAfter: '0001-01-01T00:00:00Z' })
      ).count,
    ).toBe(1);
  });

  it('refuses components beyond half precision in a collection indexed as halfvec, and takes the largest', async () => {
    const over = wide.map((x, i) => (i === 7 ? 65_505 : x));
    expect(
      await refused(harness.database, () =>
        harness.as().documents.ingest({
          collection: 'wide',
          documents: [{ content: 'over', embedding: over }],
        }),
      ),
    ).toBe('BAD_REQUEST');
    expect(
      await refused(harness.database, () =>
        harness.as().search.query({ collection: 'wide', vector: over }),
      ),
    ).toBe('BAD_REQUEST');
    const largest = wide.map((x, i) => (i === 7 ? -65_504 : x));
    const { ids } = await harness.as().documents.ingest({
      collection: 'wide',
      documents: [{ content: 'largest', embedding: largest }],
    });
    expect(
      (await harness.as().search.query({ collection: 'wide', vector: largest, k: 1 })).results.map(
        (r) => r.id,
      ),
    ).toEqual(ids);
  });

  it(`refuses metadata nested deeper than ${HARD_LIMITS.metadataDepth} levels with a message that says so`, async () => {
    // 1,500 levels overflowed the stack of one target but not the other before the cap.
    for (const depth of [HARD_LIMITS.metadataDepth + 1, 1_500, 100_000]) {
      await expect(
        harness.as().documents.ingest({
          collection: 'plain',
          documents: [
            {
              content: `deep ${depth}`,
              embedding: [1, 0],
              metadata: { d: nested(depth - 1) as never },
            },
          ],
        }),
      ).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        message: expect.stringContaining(`at most ${HARD_LIMITS.metadataDepth} levels`) as string,
      });
    }
    const metadata = { d: nested(HARD_LIMITS.metadataDepth - 1) as never };
    const { ids } = await harness.as().documents.ingest({
      collection: 'plain',
      documents: [{ content: 'deep enough', embedding: [1, 0], metadata }],
    });
    expect(
      (await harness.as().documents.get({ collection: 'plain', id: ids[0]! })).metadata,
    ).toEqual(metadata);
  });
});
