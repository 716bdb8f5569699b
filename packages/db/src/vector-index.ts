import { getTableName, sql, type SQL } from 'drizzle-orm';
import { queryRows, type Database, type SqlExecutor } from './client';
import { collections, documents, type Collection, type DistanceMetric } from './schema';
import { indexedEmbedding, indexedVectorType, type IndexedVectorType } from './vector';

/**
 * Each collection gets its own HNSW index: a partial expression index over
 * `embedding::vector(D)` (or `::halfvec(D)` above 2,000 dimensions) restricted to the collection's
 * rows, with the operator class of its metric. See packages/db/README.md for why.
 */
export type IndexedCollection = Pick<Collection, 'id' | 'dimensions' | 'metric' | 'hnswM' | 'hnswEfConstruction'>;

const operatorClasses: Record<IndexedVectorType, Record<DistanceMetric, string>> = {
  vector: { cosine: 'vector_cosine_ops', l2: 'vector_l2_ops', inner_product: 'vector_ip_ops' },
  halfvec: { cosine: 'halfvec_cosine_ops', l2: 'halfvec_l2_ops', inner_product: 'halfvec_ip_ops' },
};

export function operatorClass(collection: Pick<Collection, 'dimensions' | 'metric'>): string {
  return operatorClasses[indexedVectorType(collection.dimensions)][collection.metric];
}

function integerLiteral(value: number): SQL {
  // Identifiers, typmods and WITH options cannot be bound; these integers come from a checked row.
  if (!Number.isSafeInteger(value)) throw new Error(`expected an integer, got ${value}`);
  return sql.raw(String(value));
}

export function vectorIndexName(collection: Pick<IndexedCollection, 'id' | 'hnswM' | 'hnswEfConstruction'>): string {
  return `documents_hnsw_c${collection.id}_m${collection.hnswM}_efc${collection.hnswEfConstruction}`;
}

const indexNamePrefix = (collectionId: number) => `documents_hnsw_c${collectionId}_`;

/** The predicate that scopes a query to one collection the way its partial index expects. */
export function inCollection(collectionId: number): SQL {
  return sql`${documents.collectionId} = ${integerLiteral(collectionId)}`;
}

export function createVectorIndexStatement(collection: IndexedCollection, options: { concurrently: boolean }): SQL {
  return sql`create index ${sql.raw(options.concurrently ? 'concurrently ' : '')}if not exists ${sql.identifier(vectorIndexName(collection))}
    on ${documents} using hnsw (${indexedEmbedding(collection)} ${sql.raw(operatorClass(collection))})
    with (m = ${integerLiteral(collection.hnswM)}, ef_construction = ${integerLiteral(collection.hnswEfConstruction)})
    where ${inCollection(collection.id)}`;
}

export interface VectorIndexStatus {
  name: string;
  valid: boolean;
  /** True while `CREATE INDEX CONCURRENTLY` is still building it. */
  building: boolean;
  sizeBytes: number;
  definition: string;
}

export async function vectorIndexStatus(executor: SqlExecutor, collectionId: number): Promise<VectorIndexStatus[]> {
  const rows = await queryRows<{ name: string; valid: boolean; ready: boolean; size_bytes: string | number; definition: string }>(
    executor,
    sql`select c.relname as name, i.indisvalid as valid, i.indisready as ready,
          pg_relation_size(c.oid) as size_bytes, pg_get_indexdef(c.oid) as definition
        from pg_index i join pg_class c on c.oid = i.indexrelid
        where i.indrelid = ${getTableName(documents)}::regclass and starts_with(c.relname, ${indexNamePrefix(collectionId)})
        order by c.relname`,
  );
  const building = await queryRows<{ relid: unknown }>(
    executor,
    sql`select 1 as relid from pg_stat_progress_create_index p
        join pg_class c on c.oid = p.index_relid where starts_with(c.relname, ${indexNamePrefix(collectionId)})`,
  ).catch(() => []);
  return rows.map((row) => ({
    name: row.name,
    valid: row.valid,
    building: building.length > 0 && !row.valid,
    sizeBytes: Number(row.size_bytes),
    definition: row.definition,
  }));
}

/**
 * Makes sure the collection has exactly one valid HNSW index with its current parameters: builds it
 * (concurrently on a server, so writes go on), then drops any older or invalid one.
 *
 * Two processes may do this for the same collection at once (replicas running `migrate()`
 * together). Two concurrent index builds on one table can deadlock, and PostgreSQL then cancels
 * one of them, possibly leaving an invalid index behind; so a deadlock is retried, and the call
 * returns only once the index is valid or another process is building it.
 */
export async function ensureVectorIndex(database: Database, collection: IndexedCollection): Promise<void> {
  const maxAttempts = 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await reconcileVectorIndex(database, collection);
    } catch (error) {
      if (!isDeadlock(error) || attempt >= maxAttempts) throw error;
      await pause(attempt);
      continue;
    }
    const wanted = vectorIndexName(collection);
    const current = (await vectorIndexStatus(database.db, collection.id)).find((index) => index.name === wanted);
    if (current && (current.valid || current.building)) return;
    if (attempt >= maxAttempts) {
      throw new Error(`the HNSW index ${wanted} is still not valid after ${maxAttempts} attempts to build it`);
    }
    await pause(attempt);
  }
}

async function reconcileVectorIndex(database: Database, collection: IndexedCollection): Promise<void> {
  const wanted = vectorIndexName(collection);
  const concurrently = database.driver === 'postgres';
  const existing = await vectorIndexStatus(database.db, collection.id);
  const current = existing.find((index) => index.name === wanted);
  // Another process is building it right now: an invalid index is only dropped and rebuilt when no
  // build is in progress (a build that failed or was cancelled).
  if (current && !current.valid && current.building) return;
  if (current && !current.valid) {
    await database.db.execute(sql`drop index ${sql.raw(concurrently ? 'concurrently ' : '')}if exists ${sql.identifier(wanted)}`);
  }
  if (!current || !current.valid) {
    await database.db.execute(createVectorIndexStatement(collection, { concurrently }));
  }
  for (const index of existing) {
    if (index.name !== wanted) {
      await database.db.execute(sql`drop index ${sql.raw(concurrently ? 'concurrently ' : '')}if exists ${sql.identifier(index.name)}`);
    }
  }
}

function isDeadlock(error: unknown): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if ((e as { code?: unknown }).code === '40P01') return true;
  }
  return false;
}

/** A short, jittered wait, so two processes that collided do not collide again. */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 250));
}

export async function dropVectorIndexes(database: Database, collectionId: number): Promise<void> {
  for (const index of await vectorIndexStatus(database.db, collectionId)) {
    await database.db.execute(sql`drop index if exists ${sql.identifier(index.name)}`);
  }
}

/** Every collection's index, e.g. after migrations adopted the guide's table. */
export async function ensureAllVectorIndexes(database: Database): Promise<void> {
  for (const collection of await database.db.select().from(collections)) {
    await ensureVectorIndex(database, collection);
  }
}
