import { describe, expect, it } from 'vitest';
import type { MetadataFilter } from '@quarry/api/filter';
import {
  draftToFilter,
  filterToDraft,
  formatScalar,
  parseScalar,
  splitList,
  withCondition,
  type FilterDraft,
  type KeyTypes,
} from './filter-draft';
import { metadataFilterSchema } from './filter-schema';

const keyTypes: KeyTypes = new Map([
  ['year', ['number']],
  ['party', ['string']],
  ['president', ['string']],
  ['code', ['string']],
  ['tags', ['array']],
  ['archived', ['boolean']],
]);

describe('typed values', () => {
  it('reads digits as a number for a numeric key and as text for a string key', () => {
    expect(parseScalar('1999', ['number'])).toBe(1999);
    expect(parseScalar('1999', ['string'])).toBe('1999');
  });

  it('reads true and false as booleans only where booleans were seen', () => {
    expect(parseScalar('true', ['boolean'])).toBe(true);
    expect(parseScalar('true', ['string'])).toBe('true');
  });

  it('takes double-quoted text as a string whatever the key', () => {
    expect(parseScalar('"42"', ['number'])).toBe('42');
  });

  it('guesses the most specific type for a key the sample never saw', () => {
    expect(parseScalar('3.5')).toBe(3.5);
    expect(parseScalar('null')).toBeNull();
    expect(parseScalar('Lincoln')).toBe('Lincoln');
  });

  it.each([
    ['1999', ['string']],
    ['42', ['number']],
    ['true', []],
    ['  padded ', ['string']],
    ['"quoted"', ['string']],
    ['a, b', ['string']],
  ] as const)('formats %j so that it reads back the same', (value, types) => {
    expect(parseScalar(formatScalar(value, types), types)).toBe(value);
  });

  it('splits lists on commas outside quotes', () => {
    expect(splitList('Republican, "Democratic, Southern", Whig,')).toEqual([
      'Republican',
      '"Democratic, Southern"',
      'Whig',
    ]);
  });
});

describe('draft to filter', () => {
  it('is no filter when there are no conditions', () => {
    expect(draftToFilter({ match: 'all', conditions: [] }, keyTypes)).toEqual({
      filter: undefined,
      problems: [],
    });
  });

  it('is the bare condition when there is one', () => {
    const draft: FilterDraft = {
      match: 'all',
      conditions: [{ key: 'party', op: 'eq', value: 'Republican' }],
    };
    expect(draftToFilter(draft, keyTypes).filter).toEqual({
      key: 'party',
      op: 'eq',
      value: 'Republican',
    });
  });

  it('joins conditions with and for "all" and or for "any"', () => {
    const conditions = [
      { key: 'party', op: 'eq', value: 'Whig' },
      { key: 'year', op: 'lt', value: '1850' },
    ] as const satisfies FilterDraft['conditions'];
    expect(draftToFilter({ match: 'all', conditions: [...conditions] }, keyTypes).filter).toEqual({
      and: [
        { key: 'party', op: 'eq', value: 'Whig' },
        { key: 'year', op: 'lt', value: 1850 },
      ],
    });
    expect(
      draftToFilter({ match: 'any', conditions: [...conditions] }, keyTypes).filter,
    ).toHaveProperty('or');
  });

  it('makes a list of typed values for "is one of"', () => {
    const draft: FilterDraft = {
      match: 'all',
      conditions: [{ key: 'year', op: 'in', value: '1861, 1862' }],
    };
    expect(draftToFilter(draft, keyTypes).filter).toEqual({
      key: 'year',
      op: 'in',
      values: [1861, 1862],
    });
  });

  it('reads JSON for "contains"', () => {
    const draft: FilterDraft = {
      match: 'all',
      conditions: [{ key: 'tags', op: 'contains', value: '["war"]' }],
    };
    expect(draftToFilter(draft, keyTypes).filter).toEqual({
      key: 'tags',
      op: 'contains',
      value: ['war'],
    });
  });

  it('reports each unusable condition by position and makes no filter', () => {
    const draft: FilterDraft = {
      match: 'all',
      conditions: [
        { key: 'party', op: 'eq', value: 'Whig' },
        { key: '', op: 'eq', value: 'x' },
        { key: 'archived', op: 'gt', value: 'true' },
        { key: 'year', op: 'in', value: ' , ' },
      ],
    };
    const result = draftToFilter(draft, keyTypes);
    expect(result.filter).toBeUndefined();
    expect(result.problems.map((problem) => problem.index)).toEqual([1, 2, 3]);
  });
});

describe('filter to draft', () => {
  it('shows a flat and/or of conditions in the builder', () => {
    const filter: MetadataFilter = {
      or: [
        { key: 'party', op: 'eq', value: 'Whig' },
        { key: 'year', op: 'exists' },
      ],
    };
    expect(filterToDraft(filter, keyTypes)).toEqual({
      match: 'any',
      conditions: [
        { key: 'party', op: 'eq', value: 'Whig' },
        { key: 'year', op: 'exists', value: '' },
      ],
    });
  });

  it.each<[string, MetadataFilter]>([
    ['a negation', { not: { key: 'party', op: 'eq', value: 'Whig' } }],
    ['nested groups', { and: [{ or: [{ key: 'year', op: 'exists' }] }] }],
    ['a key path', { key: ['author', 'name'], op: 'eq', value: 'x' }],
    ['an empty or, which matches nothing', { or: [] }],
  ])('leaves %s to the JSON view', (_, filter) => {
    expect(filterToDraft(filter, keyTypes)).toBeNull();
  });

  it.each<MetadataFilter>([
    { key: 'code', op: 'eq', value: '007' },
    { key: 'year', op: 'nin', values: [1861, 1865] },
    { key: 'party', op: 'in', values: ['Democratic, Southern', 'Whig'] },
    {
      and: [
        { key: 'tags', op: 'contains', value: { topic: ['war'] } },
        { key: 'archived', op: 'ne', value: false },
      ],
    },
    { key: 'party', op: 'gte', value: 'M' },
  ])('round-trips %j through the builder unchanged', (filter) => {
    const draft = filterToDraft(filter, keyTypes);
    expect(draft).not.toBeNull();
    expect(draftToFilter(draft!, keyTypes).filter).toEqual(filter);
  });
});

describe('filter shape', () => {
  it('accepts every operator the API defines', () => {
    const filter = {
      and: [
        { key: 'a', op: 'eq', value: 1 },
        { key: 'a', op: 'lte', value: 'z' },
        { key: 'a', op: 'nin', values: [null, true] },
        { key: ['a', 'b'], op: 'exists' },
        { not: { key: 'a', op: 'contains', value: { b: [1] } } },
      ],
    };
    expect(metadataFilterSchema.safeParse(filter).success).toBe(true);
  });

  it.each([
    ['an unknown operator', { key: 'a', op: 'like', value: 'x' }],
    ['a list value for eq', { key: 'a', op: 'eq', value: [1] }],
    ['a boolean for an ordering', { key: 'a', op: 'gt', value: true }],
    ['two combinators in one object', { and: [], or: [] }],
    ['values spelled value for in', { key: 'a', op: 'in', value: [1] }],
  ])('refuses %s', (_, filter) => {
    expect(metadataFilterSchema.safeParse(filter).success).toBe(false);
  });
});

describe('narrowing a filter by one condition', () => {
  const party = { key: 'party', op: 'eq', value: 'Whig' } as const;
  const year = { key: 'year', op: 'gte', value: 1840 } as const;

  it('is the condition alone when there was no filter', () => {
    expect(withCondition(undefined, party)).toEqual(party);
  });

  it('joins a single condition with and', () => {
    expect(withCondition(year, party)).toEqual({ and: [year, party] });
  });

  it('appends to an existing and instead of nesting', () => {
    expect(withCondition({ and: [year] }, party)).toEqual({ and: [year, party] });
  });

  it('keeps an or intact inside the new and', () => {
    expect(withCondition({ or: [year] }, party)).toEqual({ and: [{ or: [year] }, party] });
  });
});
