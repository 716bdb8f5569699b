/**
 * fast-check arbitraries of hostile input, shared by the fast property tests (packages/api/test)
 * and the long suite over HTTP (apps/server/reliability). Test support only: fast-check is a
 * development dependency.
 */
import {
  collections,
  vectorIndexDrift,
  vectorIndexStatus,
  type Database,
  type Metadata,
} from '@quarry/db';
import fc from 'fast-check';
import { HARD_LIMITS } from './limits';

/** A value nested `depth` levels deep, alternating objects and arrays, with `leaf` at the bottom. */
export function nested(depth: number, leaf: unknown = 1): unknown {
  let value = leaf;
  for (let level = 0; level < depth; level++) value = level % 2 === 0 ? [value] : { k: value };
  return value;
}

/** Metadata for seeded documents, against which a filter's reference selection is evaluated in memory. */
export const seededMetadata: Metadata[] = [
  { kind: 'a', n: 1, tags: ['red', 'blue'] },
  { kind: 'b', n: 2.5, nested: { deep: { x: 'y' } } },
  { kind: 'a', n: -0.5, tags: [] },
  { kind: null, s: 'é', n: '3' },
  { "it's": true, '': 0, __proto__: 'p' },
  { n: 1e21, tags: ['red', ['red']], kind: 'C' },
  {},
  { kind: 'b', tags: [{ id: 1 }, { id: 2, x: 3 }], s: '😀' },
];

/**
 * Filters from well-formed to garbage: conditions with any operator and value, combinators nested
 * past the depth cap or wider than the condition cap, lists past the `in` cap, extra properties,
 * and arbitrary JSON. `overHttp` leaves out what JSON cannot carry unchanged (NaN, infinities, -0,
 * properties whose value JSON drops), so the reference sees what the server receives.
 */
export function hostileFilterArb({ overHttp }: { overHttp: boolean }): fc.Arbitrary<unknown> {
  const keyArb = fc.oneof(
    fc.constantFrom<string | string[]>(
      'kind',
      'n',
      'tags',
      's',
      '',
      "it's",
      '__proto__',
      ['nested', 'deep', 'x'],
      ['tags', '0'],
    ),
    fc.string({ unit: 'binary', maxLength: 6 }),
    fc.array(fc.string({ maxLength: 4 }), { maxLength: 10 }),
    fc.constant('k'.repeat(300)),
  );
  const notJson = overHttp ? [] : [-0, Number.NaN, Infinity];
  const valueArb: fc.Arbitrary<unknown> = fc.oneof(
    fc.constantFrom<unknown>(
      'a',
      'b',
      'C',
      'red',
      'é',
      '😀',
      1,
      2.5,
      1e21,
      null,
      true,
      '\u0000',
      '\ud800',
      's'.repeat(1100),
      ...notJson,
    ),
    fc.jsonValue({ maxDepth: 3 }),
    fc.constant(nested(12, 'red')),
  );
  const opArb = fc.constantFrom(
    'eq',
    'ne',
    'gt',
    'gte',
    'lt',
    'lte',
    'in',
    'nin',
    'exists',
    'contains',
    'like',
    '$where',
    '',
  );
  const extraProperty = fc.record({
    key: keyArb,
    op: fc.constant('eq'),
    value: valueArb,
    extra: fc.anything(),
  });
  const { filter } = fc.letrec<{ filter: unknown }>((tie) => ({
    filter: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ key: keyArb, op: opArb, value: valueArb }, { requiredKeys: ['key', 'op'] }),
      fc.record({
        key: keyArb,
        op: fc.constantFrom('in', 'nin'),
        values: fc.array(valueArb, { maxLength: 120 }),
      }),
      ...(overHttp ? [] : [extraProperty]),
      fc.record({ and: fc.array(tie('filter'), { maxLength: 4 }) }),
      fc.record({ or: fc.array(tie('filter'), { maxLength: 4 }) }),
      fc.record({ not: tie('filter') }),
      fc.tuple(fc.integer({ min: 1, max: 20 }), tie('filter')).map(([depth, inner]) => {
        let wrapped = inner;
        for (let level = 0; level < depth; level++) wrapped = { not: wrapped };
        return wrapped;
      }),
      // Far past the depth cap. (Deeper than this, the test process's own stack overflows: deeper
      // filters are sent as text by the HTTP suite.)
      fc.integer({ min: 1, max: 1_000 }).map((depth) => {
        let wrapped: unknown = { key: 'kind', op: 'eq', value: 'a' };
        for (let level = 0; level < depth; level++) wrapped = { not: wrapped };
        return wrapped;
      }),
      fc.integer({ min: 50, max: 80 }).map((n) => ({
        and: Array.from({ length: n }, (_, i) => ({ key: 'n', op: 'ne', value: i })),
      })),
      fc.jsonValue({ maxDepth: 4 }),
    ),
  }));
  return filter;
}

/** Query text with operators of every search syntax, quotes, controls and arbitrary code units. */
export const hostileQueryTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc
    .array(
      fc.constantFrom(
        'plan',
        'secret',
        'acme',
        'globex',
        '&',
        '|',
        '!',
        '<->',
        '<2>',
        ':*',
        '(',
        ')',
        '"',
        "'",
        '-',
        'OR',
        'AND',
        'NOT',
        'or',
        '\\',
        '*',
        ' ',
        '\t',
        '\n',
        '\u0000',
        '\ud800',
        '😀',
        'İ',
        'ß',
        "'; drop table documents; --",
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join('')),
  fc.constant('x'.repeat(HARD_LIMITS.queryTextChars + 1)),
);

export { seededRandom } from '@quarry/db/testing';

/** A call of the collection race workload: a procedure, its input, and how long to wait before sending it. */
export interface RaceStep {
  procedure:
    | 'collections.create'
    | 'collections.updateIndex'
    | 'collections.delete'
    | 'collections.list'
    | 'documents.ingest'
    | 'search.query';
  input: Record<string, unknown>;
  delayMs: number;
}

/**
 * What a race step may be answered besides success: the collection is gone or already there (404,
 * 409), or the request kept colliding with the concurrent changes after its retries and was rolled
 * back whole, with a 409 that says to retry (seen on Citus, where the distributed deadlock detector
 * cancels one side of an ingest racing a delete).
 */
export const raceRefusals: ReadonlySet<string> = new Set([
  'COLLECTION_NOT_FOUND',
  'COLLECTION_EXISTS',
  'TRANSACTION_CONFLICT',
]);

/**
 * One round of the collection race (issue 13: ingest during delete was a foreign-key 500,
 * updateIndex during delete "cache lookup failed", orphaned indexes, recorded parameters unlike
 * the live index): for each name, a create, two ingests, two updateIndex with random parameters,
 * usually a delete, a list and a search, shuffled, each sent after a random 0–40 ms.
 */
export function collectionRaceRound(random: () => number, names: readonly string[]): RaceStep[] {
  const hnsw = () => {
    const m = 2 + Math.floor(random() * 15);
    return { m, efConstruction: 2 * m + Math.floor(random() * 40) };
  };
  const documents = (name: string) =>
    Array.from({ length: 20 }, (_, i) => ({
      content: `race ${name} ${Math.floor(random() * 1e9)} ${i}`,
      embedding: [random() + 0.01, random(), random(), random()],
    }));
  const steps: Array<Omit<RaceStep, 'delayMs'>> = names.flatMap((name) => [
    {
      procedure: 'collections.create' as const,
      input: { name, dimensions: 4, embeddingModel: 'external', hnsw: hnsw() },
    },
    {
      procedure: 'documents.ingest' as const,
      input: { collection: name, documents: documents(name) },
    },
    {
      procedure: 'documents.ingest' as const,
      input: { collection: name, documents: documents(name) },
    },
    { procedure: 'collections.updateIndex' as const, input: { name, hnsw: hnsw() } },
    { procedure: 'collections.updateIndex' as const, input: { name, hnsw: hnsw() } },
    ...(random() < 0.75
      ? [{ procedure: 'collections.delete' as const, input: { name, confirm: name } }]
      : []),
    { procedure: 'search.query' as const, input: { collection: name, vector: [1, 0, 0, 0], k: 5 } },
  ]);
  steps.push({ procedure: 'collections.list', input: {} });
  for (let i = steps.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [steps[i], steps[j]] = [steps[j]!, steps[i]!];
  }
  return steps.map((step) => ({ ...step, delayMs: Math.floor(random() * 40) }));
}

/**
 * What is wrong with the HNSW indexes after a race, in words (none: an empty list): indexes of
 * collections that no longer exist, a collection without exactly one valid index, or one whose
 * live m/ef_construction (read from the index's storage options) differ from those recorded.
 */
export async function collectionIndexProblems(database: Database): Promise<string[]> {
  const problems: string[] = [];
  const drift = await vectorIndexDrift(database.db);
  for (const orphan of drift.orphaned)
    problems.push(`index ${orphan.name} of deleted collection ${orphan.collectionId}`);
  for (const collection of await database.db.select().from(collections)) {
    const indexes = await vectorIndexStatus(database.db, collection.id);
    const [index] = indexes;
    if (indexes.length !== 1 || !index?.valid) {
      problems.push(
        `collection '${collection.name}' has ${indexes.length} indexes (${indexes.map((i) => `${i.name}${i.valid ? '' : ' invalid'}`).join(', ')}), not one valid`,
      );
    } else if (
      index.m !== collection.hnswM ||
      index.efConstruction !== collection.hnswEfConstruction
    ) {
      problems.push(
        `collection '${collection.name}' records m=${collection.hnswM}, ef_construction=${collection.hnswEfConstruction}; its index ${index.name} has m=${index.m}, ef_construction=${index.efConstruction}`,
      );
    }
  }
  return problems;
}

/**
 * The vocabulary of the reliability load test's documents and keyword searches
 * (apps/server/reliability/load.test.ts), which the benchmark's throughput part repeats.
 */
export const LOAD_TEST_WORDS: readonly string[] = [
  'harbor',
  'lantern',
  'granite',
  'meadow',
  'copper',
  'violet',
  'thunder',
  'saffron',
  'glacier',
  'orchard',
  'falcon',
  'ember',
];
