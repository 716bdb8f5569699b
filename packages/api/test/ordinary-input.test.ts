import { afterAll, beforeAll, expect, it } from 'vitest';
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
