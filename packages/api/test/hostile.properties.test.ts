import type { JsonValue } from '@quarry/db';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { matchesFilter, type MetadataFilter } from '../src/filter';
import { HARD_LIMITS } from '../src/limits';
import { hostileFilterArb, hostileQueryTextArb, nested, seededMetadata } from '../src/testing';
import { describeEachTarget, createHarness, principal, type Harness } from './harness';
import {
  everyString,
  isStorable,
  nestingDepth,
  refusedOrAnswered,
  verdict,
} from './hostile-fixture';

/**
 * Hostile input through the procedures, on every database target: each case is refused with a 4xx
 * that leaves the database as it was, or answered correctly (checked against a reference). The long
 * version, over HTTP against the real server, is apps/server/reliability/hostile.test.ts.
 */
const RUNS = 20;

const FLOAT32_MAX = 3.4028234663852886e38;
const HALF_MAX = 65_504;

const componentArb = fc.oneof(
  { arbitrary: fc.double({ min: -10, max: 10, noNaN: true }), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      Number.NaN,
      Infinity,
      -Infinity,
      1e39,
      -3.5e38,
      FLOAT32_MAX,
      -3e38,
      HALF_MAX,
      -65_505,
      1e5,
      -0,
      5e-324,
      1e-300,
    ),
    weight: 2,
  },
  { arbitrary: fc.double(), weight: 1 },
);

interface VectorSpec {
  length: number;
  fill: number;
  /** Components set after the fill: [index, value]. */
  overrides: Array<[number, number]>;
}

/** A vector for a collection of `dimensions`: mostly the right length, some not, a few huge; small to print. */
function vectorSpecArb(dimensions: number): fc.Arbitrary<VectorSpec> {
  const sized = (length: number) =>
    fc.record({
      length: fc.constant(length),
      fill: fc.double({ min: -1, max: 1, noNaN: true }),
      overrides: fc.array(fc.tuple(fc.nat(Math.max(0, length - 1)), componentArb), {
        maxLength: length === 0 ? 0 : 3,
      }),
    });
  return fc.oneof(
    { arbitrary: sized(dimensions), weight: 6 },
    { arbitrary: fc.constantFrom(dimensions - 1, dimensions + 1, 1).chain(sized), weight: 2 },
    { arbitrary: fc.constantFrom(0, HARD_LIMITS.vectorDimensions + 1).chain(sized), weight: 1 },
  );
}

function vectorOf(spec: VectorSpec): number[] {
  const vector = new Array<number>(spec.length).fill(spec.fill);
  for (const [index, component] of spec.overrides) vector[index] = component;
  return vector;
}

/**
 * The documented rule: the collection's length, finite float32 components, half precision above
 * 2,000 dimensions, not zero for cosine distance.
 */
function fits(vector: readonly number[], dimensions: number): boolean {
  const max = dimensions > 2000 ? HALF_MAX : FLOAT32_MAX;
  // 'small' uses cosine distance, which a vector that is zero in float32 does not have.
  const zero = dimensions <= 2000 && vector.every((x) => Math.fround(Math.fround(x) ** 2) === 0);
  return (
    vector.length === dimensions &&
    vector.every((x) => Number.isFinite(x) && Math.abs(x) <= max) &&
    !zero
  );
}

const filterArb = hostileFilterArb({ overHttp: false });

/** The reference: which seeded documents the filter selects, or `undefined` when the evaluator refuses it. */
function reference(filter: unknown): boolean[] | undefined {
  try {
    return seededMetadata.map((metadata) => matchesFilter(metadata, filter as MetadataFilter));
  } catch {
    return undefined;
  }
}

describeEachTarget()('hostile input properties on $name', (target) => {
  let harness: Harness;
  /** Seeded document ids by position, in collection "filtered" for tenant "acme". */
  let seededIds: string[] = [];
  const reader = principal(['read'], 'acme');
  // Room for one 2,001-dimension vector (about 16 KB by the estimate), not for 30 long documents.
  const limits = { maxBatchDocuments: 20, maxPayloadBytes: 64 * 1024 };

  beforeAll(async () => {
    harness = await createHarness(target, { limits });
    for (const [name, dimensions] of [
      ['small', 3],
      ['wide', 2001],
      ['filtered', 2],
      ['batches', 2],
    ] as const) {
      await harness.as().collections.create({
        name,
        dimensions,
        metric: name === 'wide' ? 'l2' : 'cosine',
        embeddingModel: 'external',
      });
    }
    seededIds = (
      await harness.as().documents.ingest({
        collection: 'filtered',
        tenant: 'acme',
        documents: seededMetadata.map((metadata, i) => ({
          content: `plan number ${i}`,
          metadata,
          embedding: [1, i],
        })),
      })
    ).ids;
    await harness.as().documents.ingest({
      collection: 'filtered',
      tenant: 'globex',
      documents: seededMetadata.map((metadata, i) => ({
        content: `globex plan ${i}`,
        metadata,
        embedding: [1, i],
      })),
    });
    await harness.as().documents.ingest({
      collection: 'small',
      documents: [{ content: 'anchor', embedding: [1, 0, 0] }],
    });
  });
  afterAll(() => harness?.close());

  it('vectors of any length and any component are refused with a 4xx, or stored as float32 and searchable', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(['small', 3] as const, ['wide', 2001] as const)
          .chain(([collection, dimensions]) =>
            fc.tuple(fc.constant(collection), fc.constant(dimensions), vectorSpecArb(dimensions)),
          ),
        async ([collection, dimensions, spec]) => {
          const vector = vectorOf(spec);
          const valid = fits(vector, dimensions);
          const search = await refusedOrAnswered(harness.database, () =>
            harness.as().search.query({ collection, vector: vector, k: 3, exact: true }),
          );
          expect(verdict(search)).toMatch(valid ? /^accepted$/ : /^refused BAD_REQUEST/);
          const ingest = await refusedOrAnswered(harness.database, () =>
            harness.as().documents.ingest({
              collection,
              documents: [{ content: `vector ${JSON.stringify(spec)}`, embedding: vector }],
            }),
          );
          expect(verdict(ingest)).toMatch(valid ? /^accepted$/ : /^refused BAD_REQUEST/);
          if (!ingest.accepted) return;
          const [id] = ingest.value.ids;
          const stored = await harness
            .as()
            .documents.get({ collection, id: id!, includeEmbedding: true });
          // pgvector prints the shortest decimal that is the same float32: compare as float32 (and -0 as 0).
          const float32 = (values: number[]) => values.map((x) => Math.fround(x) + 0);
          expect(float32(stored.embedding ?? [])).toEqual(float32(vector));
          const inspected = await harness
            .as()
            .search.inspectDocument({ collection, vector: vector, documentId: id!, exact: true });
          expect(inspected.passesFilter).toBe(true);
          await harness.as().documents.delete({ collection, ids: [id!] });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('keyword and hybrid queries with any Unicode and operators are refused with a 4xx, or answered within the tenant', async () => {
    const acmeIds = new Set(seededIds);
    await fc.assert(
      fc.asyncProperty(
        hostileQueryTextArb,
        fc.constantFrom('keyword', 'hybrid'),
        fc.integer({ min: 1, max: 20 }),
        async (text, mode, k) => {
          const valid =
            text.length >= 1 && text.length <= HARD_LIMITS.queryTextChars && isStorable(text);
          const outcome = await refusedOrAnswered(harness.database, () =>
            harness
              .as(reader)
              .search.query({ collection: 'filtered', mode, text, vector: [1, 0], k }),
          );
          expect(verdict(outcome)).toMatch(valid ? /^accepted$/ : /^refused BAD_REQUEST/);
          if (!outcome.accepted) return;
          const { results } = outcome.value;
          expect(results.length).toBeLessThanOrEqual(k);
          for (const result of results) expect(acmeIds.has(result.id)).toBe(true);
          if (mode === 'hybrid') expect(results).toHaveLength(Math.min(k, seededIds.length));
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('filters from well-formed to garbage are refused with a 4xx, or select exactly what the reference evaluator selects', async () => {
    await fc.assert(
      fc.asyncProperty(filterArb, async (filter) => {
        const expected = reference(filter);
        const expectedIds = seededIds.filter((_, i) => expected?.[i]).sort();
        const f = filter as MetadataFilter;
        const as = harness.as(reader);
        const count = await refusedOrAnswered(harness.database, () =>
          as.documents.count({ collection: 'filtered', filter: f }),
        );
        expect(verdict(count)).toMatch(
          expected !== undefined ? /^accepted$/ : /^refused BAD_REQUEST/,
        );
        if (!count.accepted) {
          const search = await refusedOrAnswered(harness.database, () =>
            as.search.query({ collection: 'filtered', vector: [1, 0], filter: f }),
          );
          expect(search.accepted).toBe(false);
          return;
        }
        expect(count.value.count).toBe(expectedIds.length);
        const listed = await as.documents.list({ collection: 'filtered', filter: f, limit: 100 });
        expect(listed.items.map((item) => item.id).sort()).toEqual(expectedIds);
        for (const mode of ['vector', 'hybrid'] as const) {
          const { results } = await as.search.query({
            collection: 'filtered',
            mode,
            text: 'plan',
            vector: [1, 0],
            k: 50,
            exact: true,
            filter: f,
          });
          expect(results.map((r) => r.id).sort()).toEqual(expectedIds);
        }
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('a delete by any filter is refused with a 4xx and deletes nothing, or deletes exactly what the reference selects', async () => {
    await fc.assert(
      fc.asyncProperty(filterArb, async (filter) => {
        const expected = reference(filter);
        const { ids } = await harness.as().documents.ingest({
          collection: 'batches',
          documents: seededMetadata.map((metadata, i) => ({
            content: `doomed ${i}`,
            metadata,
            embedding: [1, i],
          })),
        });
        const outcome = await refusedOrAnswered(harness.database, () =>
          harness
            .as()
            .documents.delete({ collection: 'batches', filter: filter as MetadataFilter }),
        );
        expect(verdict(outcome)).toMatch(
          expected !== undefined ? /^accepted$/ : /^refused BAD_REQUEST/,
        );
        if (outcome.accepted)
          expect(outcome.value.ids.sort()).toEqual(ids.filter((_, i) => expected?.[i]).sort());
        await harness.as().documents.delete({ collection: 'batches', all: true });
      }),
      { numRuns: RUNS },
    );
  });

  it('batches of any size, content and metadata are refused whole with a 4xx, or stored exactly', async () => {
    const itemArb = fc.record(
      {
        content: fc.oneof(
          fc.string({ unit: 'binary', maxLength: 40 }),
          fc.string({ minLength: 1_000, maxLength: 5_000 }),
        ),
        metadata: fc.oneof(
          fc.dictionary(
            fc.string({ unit: 'binary', maxLength: 5 }),
            fc.jsonValue({ maxDepth: 2 }),
            { maxKeys: 3 },
          ),
          fc.integer({ min: 1, max: 100 }).map((depth) => ({ d: nested(depth - 1) as JsonValue })),
        ),
        externalId: fc.constantFrom('a', 'b', '\u0000', 'c'),
        embedding: fc.oneof(
          { arbitrary: fc.constant([0.5, 0.5]), weight: 8 },
          { arbitrary: fc.constantFrom([1], [Number.NaN, 1], [1e39, 0]), weight: 1 },
        ),
      },
      { requiredKeys: ['content', 'embedding'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(itemArb, { minLength: 1, maxLength: 30 }), async (documents) => {
        const externalIds = documents.flatMap((d) =>
          d.externalId === undefined ? [] : [d.externalId],
        );
        const wellFormed =
          new Set(externalIds).size === externalIds.length &&
          documents.every(
            (d) =>
              d.content.length > 0 &&
              isStorable(d.content) &&
              (d.externalId === undefined || isStorable(d.externalId)) &&
              everyString(d.metadata ?? {}, isStorable) &&
              nestingDepth(d.metadata ?? {}) <= HARD_LIMITS.metadataDepth &&
              fits(d.embedding, 2),
          );
        const valid = wellFormed && documents.length <= limits.maxBatchDocuments;
        const bytes = Buffer.byteLength(JSON.stringify(documents));
        const outcome = await refusedOrAnswered(harness.database, () =>
          harness.as().documents.ingest({ collection: 'batches', documents: documents as never }),
        );
        if (wellFormed && documents.length > limits.maxBatchDocuments)
          expect(outcome.accepted ? 'accepted' : outcome.error.code).toBe('PAYLOAD_TOO_LARGE');
        // A valid batch may still be refused for its size, but only near the byte limit.
        if (outcome.accepted || bytes < limits.maxPayloadBytes / 2)
          expect(verdict(outcome)).toMatch(valid ? /^accepted$/ : /^refused/);
        if (!outcome.accepted) return;
        // Documents without an external id and with the same content are one document (dedupe).
        for (const [i, id] of outcome.value.ids.entries()) {
          const stored = await harness.as().documents.get({ collection: 'batches', id });
          expect({
            content: stored.content,
            metadata: stored.metadata,
            externalId: stored.externalId,
          }).toEqual({
            content: documents[i]!.content,
            metadata: JSON.parse(JSON.stringify(documents[i]!.metadata ?? {})) as unknown,
            externalId: documents[i]!.externalId ?? null,
          });
        }
        await harness.as().documents.delete({ collection: 'batches', all: true });
      }),
      { numRuns: RUNS },
    );
  });
});
