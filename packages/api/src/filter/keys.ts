import { documents, queryRows, QuarryError, sql, type SqlExecutor } from '@quarry/db';

export const DEFAULT_METADATA_KEYS_SAMPLE_SIZE = 1_000;
export const MAX_METADATA_KEYS_SAMPLE_SIZE = 10_000;

export interface MetadataKeySummary {
  key: string;
  /** The jsonb types seen for the key, sorted: 'array', 'boolean', 'null', 'number', 'object', 'string'. */
  types: string[];
  /** Sampled documents that have the key. */
  count: number;
}

/**
 * The top-level metadata keys of a collection, for the dashboard's filter builder: computed over at
 * most `sampleSize` of its documents (any of them, not a random sample), most frequent first, then
 * by key in code point order. With `tenant`, only that tenant's documents are sampled.
 */
export async function metadataKeys(
  db: SqlExecutor,
  collectionId: number,
  options: { sampleSize?: number; tenant?: string } = {},
): Promise<MetadataKeySummary[]> {
  const sampleSize = options.sampleSize ?? DEFAULT_METADATA_KEYS_SAMPLE_SIZE;
  if (!Number.isSafeInteger(collectionId) || collectionId < 1) {
    throw new QuarryError(
      'INVALID_INPUT',
      `collectionId must be a positive integer, got ${collectionId}`,
    );
  }
  if (
    !Number.isSafeInteger(sampleSize) ||
    sampleSize < 1 ||
    sampleSize > MAX_METADATA_KEYS_SAMPLE_SIZE
  ) {
    throw new QuarryError(
      'INVALID_INPUT',
      `sampleSize must be an integer from 1 to ${MAX_METADATA_KEYS_SAMPLE_SIZE}, got ${sampleSize}`,
    );
  }
  const rows = await queryRows<{ key: string; types: string[]; count: number | string }>(
    db,
    sql`select entry.key as key,
          array_agg(distinct jsonb_typeof(entry.value) order by jsonb_typeof(entry.value)) as types,
          count(*)::int as count
        from (
          select ${documents.metadata} as metadata from ${documents}
          where ${documents.collectionId} = ${collectionId}
            ${options.tenant === undefined ? sql.empty() : sql`and ${documents.tenantId} = ${options.tenant}`}
          limit ${sampleSize}
        ) as sample
        cross join lateral jsonb_each(sample.metadata) as entry
        group by entry.key
        order by count(*) desc, entry.key collate "C"`,
  );
  return rows.map((row) => ({ key: row.key, types: row.types, count: Number(row.count) }));
}
