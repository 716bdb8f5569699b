import type { Metadata } from '@quarry/db';
import { testTargets } from '@quarry/db/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { MetadataFilter } from '../src/filter';
import { referenceEngine, sqlEngine, type FilterEngine } from './filter-fixture';

/**
 * The documented semantics (src/filter/README.md), one behaviour per test, checked against the
 * in-memory reference evaluator and against the compiled SQL on every database target.
 */
const engines: Array<{
  name: string;
  open: () => Promise<{ engine: FilterEngine; close: () => Promise<void> }>;
}> = [
  {
    name: 'reference',
    open: () => Promise.resolve({ engine: referenceEngine(), close: () => Promise.resolve() }),
  },
  ...testTargets().map((target) => ({
    name: `sql on ${target.name}`,
    async open() {
      const database = await target.createDatabase();
      return { engine: await sqlEngine(database, target.name), close: () => database.close() };
    },
  })),
];

describe.each(engines)('filter semantics: $name', ({ open }) => {
  let engine: FilterEngine;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ engine, close } = await open());
  });
  afterAll(() => close());

  /** Positions of the documents the filter selects. */
  async function selected(metadata: Metadata[], filter: MetadataFilter): Promise<number[]> {
    await engine.load(metadata);
    return engine.select(filter);
  }

  describe('eq and ne', () => {
    test('eq matches a string exactly: case, spacing and accents count', async () => {
      const docs: Metadata[] = [
        { author: 'alice' },
        { author: 'Alice' },
        { author: 'alice ' },
        { author: 'alicé' },
        {},
      ];
      expect(await selected(docs, { key: 'author', op: 'eq', value: 'alice' })).toEqual([0]);
    });

    test('eq never matches across types: the string "1" is not the number 1, nor is true', async () => {
      const docs: Metadata[] = [{ n: 1 }, { n: '1' }, { n: true }, { n: [1] }, { n: { v: 1 } }];
      expect(await selected(docs, { key: 'n', op: 'eq', value: 1 })).toEqual([0]);
      expect(await selected(docs, { key: 'n', op: 'eq', value: '1' })).toEqual([1]);
      expect(await selected(docs, { key: 'n', op: 'eq', value: true })).toEqual([2]);
    });

    test('eq compares numbers numerically, including negative zero, huge and tiny values', async () => {
      const docs: Metadata[] = [{ n: -0 }, { n: 0 }, { n: 1e21 }, { n: 5e-324 }, { n: 0.1 }];
      expect(await selected(docs, { key: 'n', op: 'eq', value: 0 })).toEqual([0, 1]);
      expect(await selected(docs, { key: 'n', op: 'eq', value: 1e21 })).toEqual([2]);
      expect(await selected(docs, { key: 'n', op: 'eq', value: 5e-324 })).toEqual([3]);
      expect(await selected(docs, { key: 'n', op: 'eq', value: 0.1 })).toEqual([4]);
    });

    test('eq null matches a key holding null, not a missing key', async () => {
      const docs: Metadata[] = [{ owner: null }, {}, { owner: 'null' }];
      expect(await selected(docs, { key: 'owner', op: 'eq', value: null })).toEqual([0]);
    });

    test('eq on a key holding an array does not match its elements (that is "contains")', async () => {
      const docs: Metadata[] = [{ tags: ['red'] }, { tags: 'red' }, { tags: ['red', 'blue'] }];
      expect(await selected(docs, { key: 'tags', op: 'eq', value: 'red' })).toEqual([1]);
    });

    test('ne matches documents whose key holds another value, another type, or is missing', async () => {
      const docs: Metadata[] = [
        { status: 'draft' },
        { status: 'published' },
        { status: 1 },
        { status: null },
        {},
      ];
      expect(await selected(docs, { key: 'status', op: 'ne', value: 'draft' })).toEqual([
        1, 2, 3, 4,
      ]);
    });
  });

  describe('keys and paths', () => {
    test('a string key is one top-level key taken literally: dots do not make a path', async () => {
      const docs: Metadata[] = [{ 'a.b': 1 }, { a: { b: 1 } }];
      expect(await selected(docs, { key: 'a.b', op: 'eq', value: 1 })).toEqual([0]);
    });

    test('an array key is a nested path through objects', async () => {
      const docs: Metadata[] = [{ 'a.b': 1 }, { a: { b: 1 } }, { a: { b: { c: 2 } } }];
      expect(await selected(docs, { key: ['a', 'b'], op: 'eq', value: 1 })).toEqual([1]);
      expect(await selected(docs, { key: ['a', 'b', 'c'], op: 'gte', value: 2 })).toEqual([2]);
    });

    test('a path never indexes into an array, even with a segment like "0"', async () => {
      const docs: Metadata[] = [{ a: [10, 20] }, { a: { 0: 10 } }, { a: [{ b: 1 }] }];
      expect(await selected(docs, { key: ['a', '0'], op: 'eq', value: 10 })).toEqual([1]);
      expect(await selected(docs, { key: ['a', '0'], op: 'exists' })).toEqual([1]);
      expect(await selected(docs, { key: ['a', 'b'], op: 'exists' })).toEqual([]);
      expect(await selected(docs, { key: ['a', 'b'], op: 'eq', value: 1 })).toEqual([]);
    });

    test('keys named like JavaScript internals are ordinary keys', async () => {
      const docs: Metadata[] = [
        {},
        { constructor: 1 },
        JSON.parse('{"__proto__": 2}') as Metadata,
        { toString: 'x' },
      ];
      expect(await selected(docs, { key: 'constructor', op: 'exists' })).toEqual([1]);
      expect(await selected(docs, { key: '__proto__', op: 'eq', value: 2 })).toEqual([2]);
      expect(await selected(docs, { key: 'toString', op: 'ne', value: 'x' })).toEqual([0, 1, 2]);
    });

    test('an empty string is a key like any other', async () => {
      const docs: Metadata[] = [{ '': 'x' }, { x: '' }];
      expect(await selected(docs, { key: '', op: 'eq', value: 'x' })).toEqual([0]);
    });
  });

  describe('ordering', () => {
    const numbers: Metadata[] = [
      { n: 2 },
      { n: 10 },
      { n: '10' },
      { n: null },
      {},
      { n: [11] },
      { n: 5 },
      { n: -3.5 },
    ];

    test('gt, gte, lt and lte compare numbers numerically', async () => {
      expect(await selected(numbers, { key: 'n', op: 'gt', value: 5 })).toEqual([1]);
      expect(await selected(numbers, { key: 'n', op: 'gte', value: 5 })).toEqual([1, 6]);
      expect(await selected(numbers, { key: 'n', op: 'lt', value: 5 })).toEqual([0, 7]);
      expect(await selected(numbers, { key: 'n', op: 'lte', value: -3.5 })).toEqual([7]);
    });

    test('ordering never matches another type, null, an array or a missing key', async () => {
      expect(await selected(numbers, { key: 'n', op: 'lt', value: 1000 })).toEqual([0, 1, 6, 7]);
      expect(await selected(numbers, { key: 'n', op: 'gte', value: '' })).toEqual([2]);
    });

    test('strings order by Unicode code point: uppercase before lowercase, U+FFFF before emoji', async () => {
      const docs: Metadata[] = [
        { s: 'a' },
        { s: 'B' },
        { s: 'é' },
        { s: '\uffff' },
        { s: '😀' },
        { s: 'ab' },
      ];
      expect(await selected(docs, { key: 's', op: 'lt', value: 'a' })).toEqual([1]);
      expect(await selected(docs, { key: 's', op: 'gt', value: 'a' })).toEqual([2, 3, 4, 5]);
      expect(await selected(docs, { key: 's', op: 'gt', value: '\uffff' })).toEqual([4]);
      expect(await selected(docs, { key: 's', op: 'lte', value: 'ab' })).toEqual([0, 1, 5]);
    });

    test('not of an ordering matches the documents the ordering does not: other types and missing keys', async () => {
      expect(await selected(numbers, { not: { key: 'n', op: 'gt', value: 5 } })).toEqual([
        0, 2, 3, 4, 5, 6, 7,
      ]);
    });
  });

  describe('in and nin', () => {
    const docs: Metadata[] = [
      { c: 'red' },
      { c: 'blue' },
      { c: 1 },
      { c: null },
      {},
      { c: ['red'] },
    ];

    test('in matches a key equal to any of the values, with eq semantics', async () => {
      expect(await selected(docs, { key: 'c', op: 'in', values: ['red', 1, null] })).toEqual([
        0, 2, 3,
      ]);
    });

    test('in with no values matches nothing', async () => {
      expect(await selected(docs, { key: 'c', op: 'in', values: [] })).toEqual([]);
    });

    test('nin matches everything in does not, including missing keys', async () => {
      expect(await selected(docs, { key: 'c', op: 'nin', values: ['red', 1] })).toEqual([
        1, 3, 4, 5,
      ]);
    });

    test('nin with no values matches everything', async () => {
      expect(await selected(docs, { key: 'c', op: 'nin', values: [] })).toEqual([0, 1, 2, 3, 4, 5]);
    });
  });

  describe('exists', () => {
    test('exists matches a key holding any value, null included, and not a missing key', async () => {
      const docs: Metadata[] = [{ k: null }, { k: false }, { k: [] }, {}, { other: 1 }];
      expect(await selected(docs, { key: 'k', op: 'exists' })).toEqual([0, 1, 2]);
    });

    test('exists on a path needs every object on the way', async () => {
      const docs: Metadata[] = [{ a: { b: null } }, { a: {} }, { a: 'b' }, {}];
      expect(await selected(docs, { key: ['a', 'b'], op: 'exists' })).toEqual([0]);
    });
  });

  describe('contains', () => {
    test('a scalar is contained by an array holding it, not by the scalar itself', async () => {
      const docs: Metadata[] = [
        { tags: ['red', 'blue'] },
        { tags: 'red' },
        { tags: ['reddish'] },
        { tags: [['red']] },
      ];
      expect(await selected(docs, { key: 'tags', op: 'contains', value: 'red' })).toEqual([0]);
    });

    test('an array is contained by an array holding each of its elements, in any order', async () => {
      const docs: Metadata[] = [
        { tags: ['a', 'b', 'c'] },
        { tags: ['b'] },
        { tags: ['c', 'a', 'a'] },
      ];
      expect(await selected(docs, { key: 'tags', op: 'contains', value: ['a', 'c', 'a'] })).toEqual(
        [0, 2],
      );
    });

    test('an object is contained by an object with the same keys holding contained values', async () => {
      const docs: Metadata[] = [
        { place: { city: 'Paris', zip: '75001', tags: ['x', 'y'] } },
        { place: { city: 'Paris' } },
        { place: { city: 'Lyon', tags: ['x'] } },
        { place: [{ city: 'Paris', tags: ['x'] }] },
      ];
      expect(
        await selected(docs, {
          key: 'place',
          op: 'contains',
          value: { city: 'Paris', tags: ['x'] },
        }),
      ).toEqual([0]);
    });

    test('inside arrays, elements are matched by containment and kinds must agree', async () => {
      const docs: Metadata[] = [
        { list: [{ id: 1, x: 2 }, { id: 3 }] },
        { list: [[1, 2]] },
        { list: [1, 2] },
      ];
      expect(await selected(docs, { key: 'list', op: 'contains', value: [{ id: 1 }] })).toEqual([
        0,
      ]);
      expect(await selected(docs, { key: 'list', op: 'contains', value: [[2]] })).toEqual([1]);
      expect(await selected(docs, { key: 'list', op: 'contains', value: [1] })).toEqual([2]);
    });

    test('an empty array is contained by every array, an empty object by every object', async () => {
      const docs: Metadata[] = [{ v: [] }, { v: [1] }, { v: {} }, { v: { a: 1 } }, { v: 'x' }, {}];
      expect(await selected(docs, { key: 'v', op: 'contains', value: [] })).toEqual([0, 1]);
      expect(await selected(docs, { key: 'v', op: 'contains', value: {} })).toEqual([2, 3]);
    });

    test('contains does not search inside strings', async () => {
      const docs: Metadata[] = [{ title: 'the red fox' }, { title: 'red' }];
      expect(await selected(docs, { key: 'title', op: 'contains', value: 'red' })).toEqual([]);
    });
  });

  describe('combinators', () => {
    const docs: Metadata[] = [{ a: 1, b: 1 }, { a: 1, b: 2 }, { a: 2 }, {}];

    test('and matches documents every part matches', async () => {
      const filter: MetadataFilter = {
        and: [
          { key: 'a', op: 'eq', value: 1 },
          { key: 'b', op: 'eq', value: 2 },
        ],
      };
      expect(await selected(docs, filter)).toEqual([1]);
    });

    test('or matches documents any part matches', async () => {
      const filter: MetadataFilter = {
        or: [
          { key: 'a', op: 'eq', value: 2 },
          { key: 'b', op: 'eq', value: 1 },
        ],
      };
      expect(await selected(docs, filter)).toEqual([0, 2]);
    });

    test('not matches documents its part does not, missing keys included', async () => {
      expect(await selected(docs, { not: { key: 'a', op: 'eq', value: 1 } })).toEqual([2, 3]);
    });

    test('an empty and matches everything and an empty or matches nothing', async () => {
      expect(await selected(docs, { and: [] })).toEqual([0, 1, 2, 3]);
      expect(await selected(docs, { or: [] })).toEqual([]);
      expect(await selected(docs, { not: { or: [] } })).toEqual([0, 1, 2, 3]);
    });
  });
});
