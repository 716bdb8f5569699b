import { documents, sql, type SQL, type SQLWrapper } from '@quarry/db';
import { isJsonScalar } from './evaluate';
import {
  keyPath,
  type JsonScalar,
  type JsonValue,
  type MetadataCondition,
  type MetadataFilter,
  type OrderingOperator,
} from './types';
import { assertValidFilter } from './validate';

/**
 * The filter as a parameterized SQL predicate over `metadata` (a NOT NULL jsonb object; by default
 * `documents.metadata`), with exactly the semantics of `matchesFilter`. Keys and values only ever
 * travel as bound parameters. `undefined` in, `undefined` out, so callers can write
 * `and(inCollection(id), compileFilter(filter))`.
 *
 * `eq`, `in` and `contains` compile to jsonb containment (`metadata @> $1::jsonb`), which the
 * `jsonb_path_ops` GIN index documents_metadata_idx serves. Containment is used only where it
 * means exactly the documented semantics: the probe is always an object wrapping the value at its
 * path, so PostgreSQL's one loose rule (a top-level array contains a bare scalar) never applies and
 * `{"tags": "red"}` does not match `{"tags": ["red"]}`.
 *
 * Throws QuarryError FILTER_INVALID for a filter the schema would refuse: the type cannot carry
 * the caps, and they bound the size of the SQL.
 */
export function compileFilter(
  filter: MetadataFilter | undefined,
  metadata: SQLWrapper = documents.metadata,
): SQL | undefined {
  if (filter === undefined) return undefined;
  assertValidFilter(filter);
  return compileNode(filter, metadata);
}

function compileNode(filter: MetadataFilter, metadata: SQLWrapper): SQL {
  if ('and' in filter) {
    if (filter.and.length === 0) return sql`true`;
    return sql`(${sql.join(
      filter.and.map((child) => compileNode(child, metadata)),
      sql` and `,
    )})`;
  }
  if ('or' in filter) return anyOf(filter.or.map((child) => compileNode(child, metadata)));
  if ('not' in filter) return sql`(not ${compileNode(filter.not, metadata)})`;
  return compileCondition(filter, metadata);
}

function compileCondition(condition: MetadataCondition, metadata: SQLWrapper): SQL {
  const path = keyPath(condition.key);
  switch (condition.op) {
    case 'eq':
      return containsAt(metadata, path, condition.value);
    case 'ne':
      return sql`(not ${containsAt(metadata, path, condition.value)})`;
    case 'in':
      return containsAny(metadata, path, condition.values);
    case 'nin':
      return sql`(not ${containsAny(metadata, path, condition.values)})`;
    case 'exists':
      // `->` gives SQL NULL for a missing key and jsonb 'null' for a key holding null.
      return sql`(${valueAt(metadata, path)} is not null)`;
    case 'contains':
      return containsAt(
        metadata,
        path,
        isJsonScalar(condition.value) ? [condition.value] : condition.value,
      );
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return ordered(metadata, path, condition.op, condition.value);
  }
}

/** `{"a": {"b": value}}`: the value at the path, as a containment probe. */
function probeAt(path: readonly string[], value: JsonValue): SQL {
  const probe = path.reduceRight<JsonValue>(
    (inner, key) => Object.fromEntries([[key, inner]]),
    value,
  );
  return sql`${JSON.stringify(probe)}::jsonb`;
}

function containsAt(metadata: SQLWrapper, path: readonly string[], value: JsonValue): SQL {
  return sql`(${metadata} @> ${probeAt(path, value)})`;
}

/**
 * `metadata @> any(array[probe, ...])` rather than an OR of containments: one bitmap index scan
 * over all the values, which the planner picks even where it would not build a BitmapOr.
 */
function containsAny(
  metadata: SQLWrapper,
  path: readonly string[],
  values: readonly JsonScalar[],
): SQL {
  if (values.length === 0) return sql`false`;
  return sql`(${metadata} @> any(array[${sql.join(
    values.map((value) => probeAt(path, value)),
    sql`, `,
  )}]))`;
}

/**
 * The value at a path, or SQL NULL. `->` with a text operand reads object fields only (on an
 * array it yields NULL), where `#>` would also index arrays with segments like "0".
 */
function valueAt(metadata: SQLWrapper, path: readonly string[]): SQL {
  return sql`(${metadata}${sql.join(path.map((segment) => sql` -> ${segment}::text`))})`;
}

const orderingSql: Record<OrderingOperator, SQL> = {
  gt: sql.raw('>'),
  gte: sql.raw('>='),
  lt: sql.raw('<'),
  lte: sql.raw('<='),
};

/**
 * Numbers compare as jsonb (numerically, and comparing jsonb never raises an error, unlike a
 * ::numeric cast); strings as text in "C" collation, that is by code point. A value of another
 * type, or none, is false, never NULL, so `not` inverts it cleanly.
 */
function ordered(
  metadata: SQLWrapper,
  path: readonly string[],
  op: OrderingOperator,
  value: number | string,
): SQL {
  const found = valueAt(metadata, path);
  if (typeof value === 'number') {
    return sql`coalesce(jsonb_typeof(${found}) = 'number' and ${found} ${orderingSql[op]} ${JSON.stringify(value)}::jsonb, false)`;
  }
  return sql`coalesce(jsonb_typeof(${found}) = 'string' and (${found} #>> '{}') collate "C" ${orderingSql[op]} ${value}::text, false)`;
}

function anyOf(predicates: SQL[]): SQL {
  if (predicates.length === 0) return sql`false`;
  return sql`(${sql.join(predicates, sql` or `)})`;
}
