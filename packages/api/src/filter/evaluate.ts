import {
  keyPath,
  type JsonScalar,
  type JsonValue,
  type Metadata,
  type MetadataCondition,
  type MetadataFilter,
} from './types';
import { assertValidFilter } from './validate';

/**
 * The reference semantics of the filter language, in memory: `compileFilter` must select exactly
 * the documents for which this returns true (the differential tests hold it to that).
 * Throws QuarryError FILTER_INVALID for a filter `metadataFilterSchema` would refuse.
 */
export function matchesFilter(metadata: Metadata, filter: MetadataFilter): boolean {
  assertValidFilter(filter);
  return evaluate(metadata, filter);
}

function evaluate(metadata: Metadata, filter: MetadataFilter): boolean {
  if ('and' in filter) return filter.and.every((child) => evaluate(metadata, child));
  if ('or' in filter) return filter.or.some((child) => evaluate(metadata, child));
  if ('not' in filter) return !evaluate(metadata, filter.not);
  return evaluateCondition(metadata, filter);
}

function evaluateCondition(metadata: Metadata, condition: MetadataCondition): boolean {
  const found = valueAtPath(metadata, keyPath(condition.key));
  switch (condition.op) {
    case 'exists':
      return found !== undefined;
    case 'eq':
      return found !== undefined && scalarEquals(found, condition.value);
    case 'ne':
      return !(found !== undefined && scalarEquals(found, condition.value));
    case 'in':
      return found !== undefined && condition.values.some((value) => scalarEquals(found, value));
    case 'nin':
      return !(found !== undefined && condition.values.some((value) => scalarEquals(found, value)));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const order = compareOrdered(found, condition.value);
      if (order === undefined) return false;
      if (condition.op === 'gt') return order > 0;
      if (condition.op === 'gte') return order >= 0;
      if (condition.op === 'lt') return order < 0;
      return order <= 0;
    }
    case 'contains': {
      if (found === undefined) return false;
      // A scalar is looked for among an array's elements: `tags contains "red"`.
      const contained = isJsonScalar(condition.value) ? [condition.value] : condition.value;
      return jsonContains(found, contained);
    }
  }
}

/** Descends through objects only: a segment never indexes into an array, even "0". */
export function valueAtPath(metadata: Metadata, path: readonly string[]): JsonValue | undefined {
  let current: JsonValue = metadata;
  for (const segment of path) {
    if (!isJsonObject(current) || !Object.hasOwn(current, segment)) return undefined;
    const next: JsonValue | undefined = current[segment];
    if (next === undefined) return undefined;
    current = next;
  }
  return current;
}

/**
 * PostgreSQL's jsonb containment (`@>`) below the top level, which is where the compiled filter
 * applies it: kinds must match; scalars are equal; an object contains every key of the other with
 * a contained value; an array contains another when each of its elements is contained by some
 * element (order and duplicates ignored).
 */
export function jsonContains(container: JsonValue, contained: JsonValue): boolean {
  if (Array.isArray(contained)) {
    if (!Array.isArray(container)) return false;
    return contained.every((needle) =>
      isJsonScalar(needle)
        ? container.some((element) => scalarEquals(element, needle))
        : container.some((element) => !isJsonScalar(element) && jsonContains(element, needle)),
    );
  }
  if (isJsonObject(contained)) {
    if (!isJsonObject(container)) return false;
    return Object.keys(contained).every((key) => {
      const inner = Object.hasOwn(container, key) ? container[key] : undefined;
      const needle = contained[key];
      return inner !== undefined && needle !== undefined && jsonContains(inner, needle);
    });
  }
  return scalarEquals(container, contained);
}

/** Same JSON type and equal: numbers numerically, strings exactly. Containers never equal a scalar. */
function scalarEquals(found: JsonValue, value: JsonScalar): boolean {
  // `===` never converts types, and -0 === 0 as in PostgreSQL's numeric.
  return found === value;
}

function compareOrdered(found: JsonValue | undefined, value: number | string): number | undefined {
  if (typeof value === 'number') {
    if (typeof found !== 'number') return undefined;
    return found < value ? -1 : found > value ? 1 : 0;
  }
  if (typeof found !== 'string') return undefined;
  return compareCodePoints(found, value);
}

/**
 * Unicode code point order, which is PostgreSQL's `COLLATE "C"` order on UTF-8. JavaScript's `<`
 * compares UTF-16 code units instead, which puts U+10000 and above before U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  let index = 0;
  while (index < a.length && index < b.length) {
    const left = a.codePointAt(index) ?? 0;
    const right = b.codePointAt(index) ?? 0;
    if (left !== right) return left < right ? -1 : 1;
    index += left > 0xffff ? 2 : 1;
  }
  return Math.sign(a.length - b.length);
}

export function isJsonScalar(value: JsonValue): value is JsonScalar {
  return value === null || typeof value !== 'object';
}

function isJsonObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
