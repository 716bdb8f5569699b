import type { JsonValue } from '@quarry/db';

export type { JsonValue, Metadata } from '@quarry/db';

/** A JSON value that is not an array or an object. */
export type JsonScalar = string | number | boolean | null;

/**
 * Where a condition looks: a string is ONE top-level key taken literally (`"a.b"` is the key
 * "a.b", not a path); an array is a path of object keys, outermost first (`["a", "b"]`).
 */
export type MetadataKey = string | string[];

export const equalityOperators = ['eq', 'ne'] as const;
export const orderingOperators = ['gt', 'gte', 'lt', 'lte'] as const;
export const listOperators = ['in', 'nin'] as const;
export const conditionOperators = [
  ...equalityOperators,
  ...orderingOperators,
  ...listOperators,
  'exists',
  'contains',
] as const;

export type EqualityOperator = (typeof equalityOperators)[number];
export type OrderingOperator = (typeof orderingOperators)[number];
export type ListOperator = (typeof listOperators)[number];
export type ConditionOperator = (typeof conditionOperators)[number];

export type EqualityCondition = { key: MetadataKey; op: EqualityOperator; value: JsonScalar };
/** Ordering compares numbers with numbers and strings with strings; nothing else is ordered. */
export type OrderingCondition = { key: MetadataKey; op: OrderingOperator; value: number | string };
export type ListCondition = { key: MetadataKey; op: ListOperator; values: JsonScalar[] };
export type ExistsCondition = { key: MetadataKey; op: 'exists' };
export type ContainsCondition = { key: MetadataKey; op: 'contains'; value: JsonValue };

export type MetadataCondition =
  EqualityCondition | OrderingCondition | ListCondition | ExistsCondition | ContainsCondition;

/** A JSON-serialisable predicate over a document's metadata; see README.md for the semantics. */
export type MetadataFilter =
  | MetadataCondition
  | { and: MetadataFilter[] }
  | { or: MetadataFilter[] }
  | { not: MetadataFilter };

/** The key of a condition as a path: one segment for a string key. */
export function keyPath(key: MetadataKey): string[] {
  return typeof key === 'string' ? [key] : key;
}
