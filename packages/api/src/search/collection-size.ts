import { queryRows, sql, vectorIndexName, type QuarryDatabase, type SQL } from '@quarry/db';
import type { IndexedCollection } from '@quarry/db';
import { backgroundCache } from './background-cache';

const sizes = backgroundCache<number>({ freshMs: 60_000, retryMs: 10_000, maxKeys: 1_000 });

/**
 * About how many rows the collection's HNSW index holds (PostgreSQL's `reltuples` of the index, or
 * of its partitions' indexes, as the last build, VACUUM or ANALYZE counted them), or null while
 * not known: never read yet, or the database keeps no figure (a Citus coordinator's shell index).
 * It only tunes ef_search, so a search never waits for it: it is read in the background, for the
 * searches that follow, at most once a minute per collection.
 */
export function knownCollectionRows(
  reader: QuarryDatabase,
  collection: IndexedCollection,
): number | null {
  const name = vectorIndexName(collection);
  return sizes.current(reader, name, () => readIndexRows(reader, name));
}

/** Resolves once every size read started on `reader` has ended (for tests). */
export function sizeReads(reader: QuarryDatabase): Promise<void> {
  return sizes.settled(reader);
}

/**
 * The rows an index holds as PostgreSQL last counted them (`reltuples`, summed over its
 * partitions'), as float8; null when no positive figure is kept.
 */
export function indexRowsEstimate(indexName: string): SQL {
  return sql`coalesce(
      (select sum(c.reltuples) from pg_partition_tree(to_regclass(${indexName})) t
        join pg_class c on c.oid = t.relid where c.reltuples > 0),
      (select reltuples from pg_class where oid = to_regclass(${indexName}) and reltuples > 0)
    )::float8`;
}

async function readIndexRows(reader: QuarryDatabase, indexName: string): Promise<number | null> {
  const [row] = await queryRows<{ rows: number | string | null }>(
    reader,
    sql`select ${indexRowsEstimate(indexName)} as rows`,
  );
  const rows = row?.rows === null || row?.rows === undefined ? null : Number(row.rows);
  return rows !== null && rows > 0 ? rows : null;
}
