import { isQuarryError } from '@quarry/db';
import { describe, expect, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import {
  compileFilter,
  matchesFilter,
  MAX_CONTAINS_DEPTH,
  MAX_FILTER_BYTES,
  MAX_FILTER_CONDITIONS,
  MAX_FILTER_DEPTH,
  MAX_IN_VALUES,
  MAX_KEY_LENGTH,
  MAX_KEY_PATH_LENGTH,
  MAX_STRING_VALUE_LENGTH,
  metadataFilterSchema,
  parseMetadataFilter,
  type MetadataFilter,
} from '../src/filter';

/** The messages of the zod issues `input` raises, or [] when it parses. */
function problems(input: unknown): string[] {
  const result = metadataFilterSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
}

function nestedNot(levels: number): MetadataFilter {
  let filter: MetadataFilter = { key: 'a', op: 'exists' };
  for (let level = 1; level < levels; level++) filter = { not: filter };
  return filter;
}

function filterInvalidError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isQuarryError(error) && error.code === 'FILTER_INVALID') return error.message;
    throw error;
  }
  throw new Error('expected a FILTER_INVALID error');
}

describe('metadataFilterSchema accepts the documented forms', () => {
  test.each<[string, MetadataFilter]>([
    ['eq with a string', { key: 'author', op: 'eq', value: 'alice' }],
    ['ne with null', { key: 'owner', op: 'ne', value: null }],
    ['gt with a number on a nested path', { key: ['stats', 'views'], op: 'gt', value: 100 }],
    ['lte with a string', { key: 'date', op: 'lte', value: '2024-12-31' }],
    ['in with mixed scalars', { key: 'status', op: 'in', values: ['draft', 1, true, null] }],
    ['nin with no values', { key: 'status', op: 'nin', values: [] }],
    ['exists', { key: 'summary', op: 'exists' }],
    [
      'contains with an object',
      { key: 'place', op: 'contains', value: { city: 'Paris', tags: ['x'] } },
    ],
    ['the combinators', { and: [{ or: [] }, { not: { key: 'a', op: 'eq', value: 1 } }] }],
    ['an empty and', { and: [] }],
  ])('%s', (_, filter) => {
    expect(metadataFilterSchema.parse(filter)).toEqual(filter);
  });

  test('a filter survives a JSON round trip unchanged', () => {
    const filter: MetadataFilter = {
      or: [
        { key: ['a', 'b.c'], op: 'in', values: [1.5, 'x'] },
        { not: { key: 'd', op: 'exists' } },
      ],
    };
    expect(metadataFilterSchema.parse(JSON.parse(JSON.stringify(filter)))).toEqual(filter);
  });

  test('inside a tRPC-style input object, an optional filter may be left out and a present one is checked', () => {
    const input = z.object({ query: z.string(), filter: metadataFilterSchema.optional() });
    expect(input.parse({ query: 'q' })).toEqual({ query: 'q' });
    const result = input.safeParse({ query: 'q', filter: { key: 'a', op: 'gt', value: null } });
    expect(result.error?.issues.map((issue) => issue.path)).toEqual([['filter', 'value']]);
    expect(z.object({ filter: metadataFilterSchema }).safeParse({}).success).toBe(false);
  });

  test('the schema infers MetadataFilter for both its input and its output, so tRPC clients see the type', () => {
    expectTypeOf<z.input<typeof metadataFilterSchema>>().toEqualTypeOf<MetadataFilter>();
    expectTypeOf<z.output<typeof metadataFilterSchema>>().toEqualTypeOf<MetadataFilter>();
  });
});

describe('metadataFilterSchema explains malformed filters', () => {
  test('an unknown operator is named along with the allowed ones', () => {
    expect(problems({ key: 'a', op: 'equals', value: 1 })).toEqual([
      expect.stringMatching(
        /^op: unknown operator the string "equals"; use one of eq, ne, gt, gte, lt, lte, in, nin, exists, contains/,
      ),
    ]);
  });

  test('a misspelt property is refused rather than ignored', () => {
    expect(problems({ key: 'a', op: 'eq', vaule: 1 })).toEqual([
      'vaule: unknown property "vaule" in an "eq" condition; it takes "key", "op", "value"',
      'an "eq" condition needs "value"',
    ]);
  });

  test('the location of a problem deep in the filter is part of its message and its path', () => {
    const result = metadataFilterSchema.safeParse({
      and: [{ key: 'a', op: 'exists' }, { or: [{ key: 'b', op: 'in', values: [1, {}] }] }],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['and', 1, 'or', 0, 'values', 1]);
    expect(result.error?.issues[0]?.message).toMatch(
      /^and\[1\]\.or\[0\]\.values\[1\]: "in" values are JSON scalars/,
    );
  });

  test('ordering operators refuse booleans and null and point to eq', () => {
    expect(problems({ key: 'a', op: 'gt', value: true })).toEqual([
      expect.stringContaining(
        '"gt" orders numbers or strings; got the boolean true (use "eq" or "ne"',
      ),
    ]);
    expect(problems({ key: 'a', op: 'lt', value: null })).toHaveLength(1);
  });

  test('eq refuses arrays and objects and points to contains', () => {
    expect(problems({ key: 'a', op: 'eq', value: ['x'] })).toEqual([
      expect.stringContaining('use "contains" for arrays and objects'),
    ]);
  });

  test('numbers must be finite: NaN and Infinity are not JSON', () => {
    expect(problems({ key: 'a', op: 'eq', value: Number.NaN })).toHaveLength(1);
    expect(problems({ key: 'a', op: 'in', values: [Number.POSITIVE_INFINITY] })).toHaveLength(1);
  });

  test('a node mixing a condition and a combinator is refused', () => {
    expect(problems({ key: 'a', op: 'exists', and: [] })).toEqual([
      expect.stringContaining('a combinator has exactly one property'),
    ]);
  });

  test('an empty key path is refused', () => {
    expect(problems({ key: [], op: 'exists' })).toEqual([
      `key: a key path has 1 to ${MAX_KEY_PATH_LENGTH} segments; got 0`,
    ]);
  });

  test('strings PostgreSQL cannot store (NUL, unpaired surrogates) are refused, in keys and values', () => {
    expect(problems({ key: 'a\u0000b', op: 'exists' })).toEqual([
      expect.stringContaining('NUL character'),
    ]);
    expect(problems({ key: 'a', op: 'eq', value: '\ud800' })).toEqual([
      expect.stringContaining('unpaired surrogate'),
    ]);
    expect(problems({ key: 'a', op: 'contains', value: { '\u0000': 1 } })).toEqual([
      expect.stringContaining('NUL character'),
    ]);
  });

  test('something that is not a filter at all is refused with what a filter looks like', () => {
    expect(problems('author = alice')).toEqual([
      expect.stringContaining('expected a filter object: a condition { key, op, ... }'),
    ]);
    expect(problems(undefined)).toHaveLength(1);
    expect(problems(new Date())).toHaveLength(1);
  });
});

describe('caps', () => {
  test(`nesting up to ${MAX_FILTER_DEPTH} levels is accepted, one more is refused`, () => {
    expect(problems(nestedNot(MAX_FILTER_DEPTH))).toEqual([]);
    expect(problems(nestedNot(MAX_FILTER_DEPTH + 1))).toEqual([
      expect.stringContaining(
        `the filter nests deeper than ${MAX_FILTER_DEPTH} levels of and/or/not`,
      ),
    ]);
  });

  test('absurdly deep input is refused with a validation error, not a stack overflow', () => {
    let deep: unknown = { key: 'a', op: 'exists' };
    for (let level = 0; level < 100_000; level++) deep = { and: [deep] };
    expect(problems(deep)).toEqual([expect.stringContaining('nests deeper than')]);
  });

  test('cyclic input is refused with a validation error', () => {
    const cyclic: { and: unknown[] } = { and: [] };
    cyclic.and.push(cyclic);
    expect(problems(cyclic)).toHaveLength(1);
  });

  test(`${MAX_FILTER_CONDITIONS} conditions are accepted, one more is refused`, () => {
    const conditions = (count: number) => ({
      and: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, op: 'exists' })),
    });
    expect(problems(conditions(MAX_FILTER_CONDITIONS))).toEqual([]);
    expect(problems(conditions(MAX_FILTER_CONDITIONS + 1))).toEqual([
      `the filter has ${MAX_FILTER_CONDITIONS + 1} conditions; at most ${MAX_FILTER_CONDITIONS} are allowed (use "in" for one key with many values)`,
    ]);
  });

  test(`a key path of ${MAX_KEY_PATH_LENGTH} segments is accepted, one more is refused`, () => {
    const path = (length: number) => ({ key: Array.from({ length }, () => 'k'), op: 'exists' });
    expect(problems(path(MAX_KEY_PATH_LENGTH))).toEqual([]);
    expect(problems(path(MAX_KEY_PATH_LENGTH + 1))).toEqual([
      `key: a key path has 1 to ${MAX_KEY_PATH_LENGTH} segments; got ${MAX_KEY_PATH_LENGTH + 1}`,
    ]);
  });

  test(`a key of ${MAX_KEY_LENGTH} characters is accepted, one more is refused`, () => {
    expect(problems({ key: 'k'.repeat(MAX_KEY_LENGTH), op: 'exists' })).toEqual([]);
    expect(problems({ key: ['a', 'k'.repeat(MAX_KEY_LENGTH + 1)], op: 'exists' })).toEqual([
      `key[1]: a key path segment is at most ${MAX_KEY_LENGTH} characters; got ${MAX_KEY_LENGTH + 1}`,
    ]);
  });

  test(`a string value of ${MAX_STRING_VALUE_LENGTH} characters is accepted, one more is refused`, () => {
    expect(problems({ key: 'a', op: 'eq', value: 'v'.repeat(MAX_STRING_VALUE_LENGTH) })).toEqual(
      [],
    );
    expect(
      problems({ key: 'a', op: 'in', values: ['v'.repeat(MAX_STRING_VALUE_LENGTH + 1)] }),
    ).toEqual([
      `values[0]: a string value is at most ${MAX_STRING_VALUE_LENGTH} characters; got ${MAX_STRING_VALUE_LENGTH + 1}`,
    ]);
  });

  test(`an in list of ${MAX_IN_VALUES} values is accepted, one more is refused`, () => {
    const list = (count: number) => ({
      key: 'a',
      op: 'in',
      values: Array.from({ length: count }, (_, i) => i),
    });
    expect(problems(list(MAX_IN_VALUES))).toEqual([]);
    expect(problems(list(MAX_IN_VALUES + 1))).toEqual([
      `values: "in" takes at most ${MAX_IN_VALUES} values; got ${MAX_IN_VALUES + 1}`,
    ]);
  });

  test(`a contains value nesting ${MAX_CONTAINS_DEPTH} levels is accepted, one more is refused`, () => {
    const nested = (levels: number) => {
      let value: unknown = 'leaf';
      for (let level = 0; level < levels; level++) value = [value];
      return { key: 'a', op: 'contains', value };
    };
    expect(problems(nested(MAX_CONTAINS_DEPTH))).toEqual([]);
    expect(problems(nested(MAX_CONTAINS_DEPTH + 1))).toEqual([
      expect.stringContaining(`nests at most ${MAX_CONTAINS_DEPTH} levels`),
    ]);
  });

  test(`a filter over ${MAX_FILTER_BYTES} bytes of JSON is refused even when every other cap holds`, () => {
    const big = {
      or: Array.from({ length: 20 }, () => ({
        key: 'a',
        op: 'eq',
        value: 'é'.repeat(MAX_STRING_VALUE_LENGTH),
      })),
    };
    expect(problems(big)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^the filter is \\d+ bytes as JSON; at most ${MAX_FILTER_BYTES} bytes are allowed`,
        ),
      ),
    ]);
  });

  test('a huge flat input is refused without walking all of it', () => {
    const huge = { and: Array.from({ length: 200_000 }, () => ({ and: [] })) };
    const started = performance.now();
    expect(problems(huge)).toEqual([
      expect.stringContaining(`at most ${MAX_FILTER_BYTES} bytes are allowed`),
    ]);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('outside the zod edge, invalid filters are FILTER_INVALID errors', () => {
  test('parseMetadataFilter names every problem in one message', () => {
    const message = filterInvalidError(() =>
      parseMetadataFilter({
        and: [
          { key: 'a', op: 'near' },
          { key: 1, op: 'exists' },
        ],
      }),
    );
    expect(message).toMatch(
      /^invalid metadata filter: and\[0\]\.op: unknown operator .*; and\[1\]\.key: "key" is a string/,
    );
  });

  test('compileFilter refuses a filter over the caps that the type system let through', () => {
    expect(filterInvalidError(() => compileFilter(nestedNot(MAX_FILTER_DEPTH + 1)))).toContain(
      'nests deeper than',
    );
  });

  test('matchesFilter refuses the same filters compileFilter refuses', () => {
    expect(
      filterInvalidError(() => matchesFilter({ a: 1 }, { key: 'a', op: 'eq', value: Number.NaN })),
    ).toContain('a JSON scalar');
  });
});
