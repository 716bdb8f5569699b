import type { JsonValue, Metadata } from '@quarry/db';
import { describeEachTarget, type TestDatabase } from '@quarry/db/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type {
  EqualityOperator,
  JsonScalar,
  ListOperator,
  MetadataCondition,
  MetadataFilter,
  MetadataKey,
  OrderingOperator,
} from '../src/filter';
import { referenceEngine, sqlEngine, type FilterEngine } from './filter-fixture';

/**
 * Random documents and random filters over their keys: on every database target, the rows the
 * compiled SQL selects are exactly the documents the reference evaluator matches.
 */
const RUNS_PER_TARGET = 300;

// Pools make collisions likely (a filter hits a key or value that documents hold); the free-form
// arbitraries beside them cover everything else.
const keyPool = [
  'a',
  'b',
  'tags',
  'a.b',
  '',
  "it's",
  'ключ',
  '🔑',
  '__proto__',
  'constructor',
  '0',
  '->',
  "x' OR '1'='1",
];
const stringPool = [
  'a',
  'b',
  'A',
  '',
  '1',
  'é',
  'e\u0301',
  '\uffff',
  '😀',
  "it's",
  '"q"',
  '--',
  ';',
  ')',
  'null',
  'true',
];
const numberPool = [0, 1, -1, 1.5, 2, 10, 0.1, 0.30000000000000004, 1e21, -1e-7, 2 ** 53];

/** PostgreSQL cannot store NUL or unpaired surrogates, so no document holds them. */
const storable = (text: string) => !text.includes('\u0000') && !/\p{Surrogate}/u.test(text);

const stringArb = fc.oneof(
  { arbitrary: fc.constantFrom(...stringPool), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }).filter(storable), weight: 1 },
);
const numberArb = fc.oneof(
  { arbitrary: fc.constantFrom(...numberPool), weight: 3 },
  { arbitrary: fc.integer({ min: -20, max: 20 }), weight: 2 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 1 },
);
const scalarArb: fc.Arbitrary<JsonScalar> = fc.oneof(
  { arbitrary: stringArb, weight: 3 },
  { arbitrary: numberArb, weight: 3 },
  { arbitrary: fc.boolean(), weight: 1 },
  { arbitrary: fc.constant(null), weight: 1 },
);
const keyArb = fc.oneof(
  { arbitrary: fc.constantFrom(...keyPool), weight: 8 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 4 }).filter(storable), weight: 1 },
);

function objectOf(valueArb: fc.Arbitrary<JsonValue>): fc.Arbitrary<{ [key: string]: JsonValue }> {
  // fromEntries makes "__proto__" an own key, as JSON.parse does.
  return fc
    .uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([key]) => key, maxLength: 5 })
    .map((entries) => Object.fromEntries(entries));
}

const { value: jsonValueArb } = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 3, depthSize: 'small' },
    scalarArb,
    fc.array(tie('value'), { maxLength: 4 }),
    objectOf(tie('value')),
  ),
}));
// Top-level keys mostly from a handful, values mostly scalars: documents share keys, and filters
// on a key see several documents holding values of several types there.
const metadataArb: fc.Arbitrary<Metadata> = fc
  .uniqueArray(
    fc.tuple(
      fc.oneof(
        { arbitrary: fc.constantFrom('a', 'b', 'n', 'tags'), weight: 3 },
        { arbitrary: keyArb, weight: 1 },
      ),
      fc.oneof({ arbitrary: scalarArb, weight: 2 }, { arbitrary: jsonValueArb, weight: 1 }),
    ),
    { selector: ([key]) => key, maxLength: 5 },
  )
  .map((entries) => Object.fromEntries(entries));

function isScalar(value: JsonValue): value is JsonScalar {
  return value === null || typeof value !== 'object';
}

/**
 * What the documents hold: the values at each object path, every scalar anywhere, and paths that
 * would reach into an array if a segment like "0" indexed it (it must not).
 */
interface Found {
  paths: Map<string, { path: string[]; values: JsonValue[] }>;
  scalars: JsonScalar[];
  intoArrays: string[][];
}

function survey(documents: readonly Metadata[]): Found {
  const found: Found = { paths: new Map(), scalars: [], intoArrays: [] };
  const visit = (value: JsonValue, path: string[] | undefined) => {
    if (path && path.length > 0) {
      const id = JSON.stringify(path);
      const entry = found.paths.get(id) ?? { path, values: [] };
      entry.values.push(value);
      found.paths.set(id, entry);
    }
    if (isScalar(value)) {
      found.scalars.push(value);
    } else if (Array.isArray(value)) {
      if (path && value.length > 0)
        found.intoArrays.push([...path, '0'], [...path, String(value.length - 1)]);
      for (const element of value) visit(element, undefined);
    } else {
      for (const [key, inner] of Object.entries(value)) visit(inner, path && [...path, key]);
    }
  };
  for (const document of documents) visit(document, []);
  return found;
}

/** A value the given one contains: a sub-array of contained elements, a sub-object of contained values. */
function containedIn(value: JsonValue): fc.Arbitrary<JsonValue> {
  if (isScalar(value)) return fc.constant(value);
  if (Array.isArray(value)) {
    return fc.subarray(value).chain((elements) => fc.tuple(...elements.map(containedIn)));
  }
  return fc
    .subarray(Object.entries(value))
    .chain((entries) =>
      fc.tuple(
        ...entries.map(([key, inner]) =>
          containedIn(inner).map((part): [string, JsonValue] => [key, part]),
        ),
      ),
    )
    .map((entries) => Object.fromEntries(entries));
}

/** A one-segment path sometimes as the plain string key, which means the same thing. */
function keyOf(path: string[]): fc.Arbitrary<MetadataKey> {
  const [only] = path;
  return path.length === 1 && only !== undefined
    ? fc.constantFrom<MetadataKey>(only, path)
    : fc.constant(path);
}

/** Conditions of every operator on keys from `key`, with values from the given arbitraries. */
function conditionArb(
  key: fc.Arbitrary<MetadataKey>,
  scalar: fc.Arbitrary<JsonScalar>,
  contained: fc.Arbitrary<JsonValue>,
): fc.Arbitrary<MetadataCondition> {
  const orderable = fc.oneof(
    scalar.filter(
      (value): value is number | string => typeof value === 'number' || typeof value === 'string',
    ),
    numberArb,
    stringArb,
  );
  return fc.oneof(
    fc.record({ key, op: fc.constantFrom<EqualityOperator>('eq', 'ne'), value: scalar }),
    fc.record({
      key,
      op: fc.constantFrom<OrderingOperator>('gt', 'gte', 'lt', 'lte'),
      value: orderable,
    }),
    fc.record({
      key,
      op: fc.constantFrom<ListOperator>('in', 'nin'),
      values: fc.array(scalar, { maxLength: 4 }),
    }),
    fc.record({ key, op: fc.constant('exists' as const) }),
    fc.record({ key, op: fc.constant('contains' as const), value: contained }),
  );
}

function filterArb(documents: readonly Metadata[]): fc.Arbitrary<MetadataFilter> {
  const found = survey(documents);
  const knownScalars =
    found.scalars.length > 0 ? [{ arbitrary: fc.constantFrom(...found.scalars), weight: 2 }] : [];
  const scalar = fc.oneof(scalarArb, ...knownScalars);

  // Anywhere: random paths, values from the pools or from anywhere in the documents.
  const randomPath = fc.array(keyArb, { minLength: 1, maxLength: 3 });
  const intoArrays = found.intoArrays.length > 0 ? [fc.constantFrom(...found.intoArrays)] : [];
  const anywhere = conditionArb(
    fc.oneof(randomPath, ...intoArrays).chain(keyOf),
    scalar,
    fc.oneof(scalar, jsonValueArb),
  );
  // Anchored on a path documents hold, with values found there (and values those contain), so
  // that conditions often select some documents but not all.
  const anchored = [...found.paths.values()].map(({ path, values }) => {
    const scalarsHere = values.filter(isScalar);
    // Paths several documents hold are where a condition can tell documents apart.
    const weight = values.length * values.length;
    const arbitrary = conditionArb(
      keyOf(path),
      scalarsHere.length > 0
        ? fc.oneof({ arbitrary: fc.constantFrom(...scalarsHere), weight: 3 }, scalar)
        : scalar,
      fc
        .constantFrom(...values)
        .chain((value) =>
          containedIn(value).chain((part) =>
            Array.isArray(part) && part.length === 1 && part[0] !== undefined && isScalar(part[0])
              ? fc.constantFrom<JsonValue>(part, part[0])
              : fc.constant(part),
          ),
        ),
    );
    return { arbitrary, weight };
  });
  const condition =
    anchored.length > 0
      ? fc.oneof(
          { arbitrary: anywhere, weight: 1 },
          { arbitrary: fc.oneof(...anchored), weight: 2 },
        )
      : anywhere;

  return fc.letrec<{ filter: MetadataFilter }>((tie) => ({
    filter: fc.oneof(
      { maxDepth: 3, depthSize: 'small' },
      { arbitrary: condition, weight: 4 },
      fc.array(tie('filter'), { maxLength: 3 }).map((and) => ({ and })),
      fc.array(tie('filter'), { maxLength: 3 }).map((or) => ({ or })),
      tie('filter').map((not) => ({ not })),
    ),
  })).filter;
}

const scenarioArb = fc.array(metadataArb, { minLength: 2, maxLength: 12 }).chain((documents) =>
  fc.record({
    documents: fc.constant(documents),
    filters: fc.array(filterArb(documents), { minLength: 1, maxLength: 6 }),
  }),
);

describeEachTarget()(
  'compiled filters select what the reference evaluator matches: $name',
  (target) => {
    let database: TestDatabase;
    let engine: FilterEngine;
    const reference = referenceEngine();
    beforeAll(async () => {
      database = await target.createDatabase();
      engine = await sqlEngine(database, target.name);
    });
    afterAll(() => database.close());

    test('on random documents and random filters over their keys', async () => {
      let runsWithASelectiveFilter = 0;
      await fc.assert(
        fc.asyncProperty(scenarioArb, async ({ documents, filters }) => {
          await Promise.all([engine.load(documents), reference.load(documents)]);
          let selective = false;
          for (const filter of filters) {
            const expected = await reference.select(filter);
            expect(await engine.select(filter), JSON.stringify(filter)).toEqual(expected);
            selective ||= expected.length > 0 && expected.length < documents.length;
          }
          if (selective) runsWithASelectiveFilter += 1;
        }),
        { numRuns: RUNS_PER_TARGET },
      );
      // Guards the generators: most runs must have a filter that selects some documents but not all.
      expect(runsWithASelectiveFilter).toBeGreaterThan(RUNS_PER_TARGET / 2);
    });
  },
);
