import { getTableName, sql, type SQL, type SQLWrapper } from 'drizzle-orm';
import { databaseErrorCodeIn } from './errors';
import { queryRows, type Database, type QuarryDatabase, type SqlExecutor } from './client';
import { withCollectionChangeLock } from './collection-lock';
import { collections, documents, type Collection, type DistanceMetric } from './schema';
import { indexedEmbedding, indexedVectorType, type IndexedVectorType } from './vector';

/**
 * Each collection gets its own HNSW index: a partial expression index over
 * `embedding::vector(D)` (or `::halfvec(D)` above 2,000 dimensions) restricted to the collection's
 * rows, with the operator class of its metric. See packages/db/README.md for why.
 */
export type IndexedCollection = Pick<
  Collection,
  'id' | 'dimensions' | 'metric' | 'hnswM' | 'hnswEfConstruction'
>;

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

export function vectorIndexName(
  collection: Pick<IndexedCollection, 'id' | 'hnswM' | 'hnswEfConstruction'>,
): string {
  return `documents_hnsw_c${collection.id}_m${collection.hnswM}_efc${collection.hnswEfConstruction}`;
}

const indexNamePrefix = (collectionId: number) => `documents_hnsw_c${collectionId}_`;

/** The predicate that scopes a query to one collection the way its partial index expects. */
export function inCollection(collectionId: number): SQL {
  return sql`${documents.collectionId} = ${integerLiteral(collectionId)}`;
}

/**
 * `CREATE INDEX` of the collection's HNSW index. By default on `documents` under the collection's
 * index name; on a partitioned table, `only` makes the parent index alone, and `on`/`name` build
 * the same index on one partition (the columns are left unqualified, so the one statement fits both).
 */
export function createVectorIndexStatement(
  collection: IndexedCollection,
  options: { concurrently: boolean; only?: boolean; on?: SQL; name?: string },
): SQL {
  return sql`create index ${sql.raw(options.concurrently ? 'concurrently ' : '')}if not exists ${sql.identifier(options.name ?? vectorIndexName(collection))}
    on ${sql.raw(options.only ? 'only ' : '')}${options.on ?? documents} using hnsw (${indexedEmbedding(collection, sql.identifier(documents.embedding.name))} ${sql.raw(operatorClass(collection))})
    with (m = ${integerLiteral(collection.hnswM)}, ef_construction = ${integerLiteral(collection.hnswEfConstruction)})
    where ${sql.identifier(documents.collectionId.name)} = ${integerLiteral(collection.id)}`;
}

export interface VectorIndexStatus {
  name: string;
  valid: boolean;
  /** True while `CREATE INDEX CONCURRENTLY` is still building it (or, when partitioned, one of its partitions' indexes). */
  building: boolean;
  /** On a partitioned table, the sum of the partitions' indexes (the parent index itself holds nothing). */
  sizeBytes: number;
  definition: string;
  /** The live index's HNSW parameters, read from its storage options (null if it has none). */
  m: number | null;
  efConstruction: number | null;
}

export async function vectorIndexStatus(
  executor: SqlExecutor,
  collectionId: number,
): Promise<VectorIndexStatus[]> {
  const rows = await retryingCatalogRace(() =>
    queryRows<{
      name: string;
      valid: boolean;
      size_bytes: string | number;
      definition: string;
      m: string | null;
      ef_construction: string | null;
    }>(
      executor,
      sql`select c.relname as name, i.indisvalid as valid,
          coalesce((select sum(pg_relation_size(t.relid)) from pg_partition_tree(c.oid) t), pg_relation_size(c.oid)) as size_bytes,
          pg_get_indexdef(c.oid) as definition, ${hnswOption('m')} as m, ${hnswOption('ef_construction')} as ef_construction
        from pg_index i join pg_class c on c.oid = i.indexrelid
        where i.indrelid = ${getTableName(documents)}::regclass and starts_with(c.relname, ${indexNamePrefix(collectionId)})
        order by c.relname`,
    ),
  );
  // A partition's index is built under the parent index's name plus a suffix (partitionIndexName).
  const inProgress = await queryRows<{ name: string }>(
    executor,
    sql`select c.relname as name from pg_stat_progress_create_index p
        join pg_class c on c.oid = p.index_relid where starts_with(c.relname, ${indexNamePrefix(collectionId)})`,
  ).catch(() => []);
  return rows.map((row) => ({
    name: row.name,
    valid: row.valid,
    building:
      !row.valid &&
      inProgress.some(({ name }) => name === row.name || name.startsWith(`${row.name}_`)),
    sizeBytes: Number(row.size_bytes),
    definition: row.definition,
    m: row.m === null ? null : Number(row.m),
    efConstruction: row.ef_construction === null ? null : Number(row.ef_construction),
  }));
}

/** An HNSW storage parameter of the index `c` (pg_class), as text; null when not set. */
function hnswOption(name: 'm' | 'ef_construction'): SQL {
  return sql`(select option_value from pg_options_to_table(c.reloptions) where option_name = ${name})`;
}

/**
 * Runs a catalog read again when PostgreSQL reports "cache lookup failed": `pg_get_indexdef` of
 * an index that a concurrent DROP INDEX removed between the catalog scan and the call (a delete of
 * one collection while another request lists them all).
 */
async function retryingCatalogRace<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= 3 || !isCatalogRace(error)) throw error;
    }
  }
}

function isCatalogRace(error: unknown): boolean {
  if (databaseErrorCodeIn(error) !== 'XX000') return false;
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes('cache lookup failed')) return true;
  }
  return false;
}

/** Whether a live index was built with other HNSW parameters than the collection records. */
function parametersDiffer(
  index: Pick<VectorIndexStatus, 'm' | 'efConstruction'>,
  collection: Pick<IndexedCollection, 'hnswM' | 'hnswEfConstruction'>,
): boolean {
  return index.m !== collection.hnswM || index.efConstruction !== collection.hnswEfConstruction;
}

/**
 * Makes sure the collection has exactly one valid HNSW index with its current parameters: builds it
 * (concurrently on a server, so writes go on), then drops any older or invalid one.
 *
 * Two processes may do this for the same collection at once (replicas running `migrate()`
 * together). Two concurrent index builds on one table can deadlock, and PostgreSQL then cancels
 * one of them, possibly leaving an invalid index behind; so a deadlock is retried, and the call
 * returns only once the index is valid or another process is building it.
 *
 * On a direct server connection it builds on a connection of its own, with `maintenance_work_mem`
 * raised to `indexBuildMemory` (see createDb); on a partitioned `documents`, partition by partition
 * (buildOnPartitions).
 */
export async function ensureVectorIndex(
  database: Database,
  collection: IndexedCollection,
): Promise<void> {
  const maxAttempts = 5;
  for (let attempt = 1; ; attempt++) {
    try {
      const reconcile = (db: SqlExecutor) =>
        reconcileVectorIndex(db, database.driver === 'postgres', collection);
      await (database.forIndexBuild ? database.forIndexBuild(reconcile) : reconcile(database.db));
    } catch (error) {
      if (databaseErrorCodeIn(error) !== '40P01' || attempt >= maxAttempts) throw error;
      await pause(attempt);
      continue;
    }
    const wanted = vectorIndexName(collection);
    const current = (await vectorIndexStatus(database.db, collection.id)).find(
      (index) => index.name === wanted,
    );
    if (current && (current.valid || current.building)) return;
    if (attempt >= maxAttempts) {
      throw new Error(
        `the HNSW index ${wanted} is still not valid after ${maxAttempts} attempts to build it`,
      );
    }
    await pause(attempt);
  }
}

/** `concurrently` on a server; PGlite (one connection, no concurrent writers) builds plainly. */
async function reconcileVectorIndex(
  db: SqlExecutor,
  concurrently: boolean,
  collection: IndexedCollection,
): Promise<void> {
  const wanted = vectorIndexName(collection);
  const partitioned = concurrently && (await isPartitioned(db));
  const existing = await vectorIndexStatus(db, collection.id);
  let current = existing.find((index) => index.name === wanted);
  // Another process is building it right now: an invalid index is only dropped and rebuilt when no
  // build is in progress (a build that failed or was cancelled).
  if (current && !current.valid && current.building) return;
  // Under the expected name but built otherwise (by hand): rebuilt, so the name does not lie.
  if (current?.valid && parametersDiffer(current, collection)) {
    await db.execute(
      dropIndex(sql.identifier(wanted), { concurrently: concurrently && !partitioned }),
    );
    current = undefined;
  }
  if (partitioned) {
    if (!current?.valid && !(await buildOnPartitions(db, collection))) return;
  } else {
    if (current && !current.valid)
      await db.execute(dropIndex(sql.identifier(wanted), { concurrently }));
    if (!current || !current.valid)
      await db.execute(createVectorIndexStatement(collection, { concurrently }));
  }
  for (const index of existing) {
    // DROP INDEX CONCURRENTLY is refused on a partitioned index; dropping it drops its partitions' indexes.
    if (index.name !== wanted)
      await db.execute(
        dropIndex(sql.identifier(index.name), { concurrently: concurrently && !partitioned }),
      );
  }
  if (partitioned) {
    for (const stray of await strayPartitionIndexes(db, collection.id)) {
      if (!stray.name.startsWith(`${wanted}_`))
        await db.execute(dropIndex(stray.qualified, { concurrently }));
    }
  }
}

function dropIndex(name: SQLWrapper, options: { concurrently: boolean }): SQL {
  return sql`drop index ${sql.raw(options.concurrently ? 'concurrently ' : '')}if exists ${name}`;
}

async function isPartitioned(executor: SqlExecutor): Promise<boolean> {
  const [row] = await queryRows<{ partitioned: boolean }>(
    executor,
    sql`select relkind = 'p' as partitioned from pg_class where oid = ${getTableName(documents)}::regclass`,
  );
  return row?.partitioned ?? false;
}

/** The index of collection index `parent` on the partition with this oid. Bounded length: names stop at 63 bytes. */
function partitionIndexName(parent: string, partitionOid: string): string {
  return `${parent}_${partitionOid}`;
}

/**
 * PostgreSQL's way to index a partitioned table without blocking writes (CREATE INDEX
 * CONCURRENTLY is refused on one): the parent index `ON ONLY documents` (invalid, a catalog entry),
 * then per partition the same index built concurrently and attached; the parent turns valid when
 * every partition has one. It resumes where an interrupted run stopped. Returns false when it
 * leaves the rest to another process that is building one of the partitions' indexes, or when it
 * found a partition with an invalid attached index and dropped the parent (the caller's next
 * attempt starts over).
 */
async function buildOnPartitions(db: SqlExecutor, collection: IndexedCollection): Promise<boolean> {
  const parent = vectorIndexName(collection);
  await db.execute(createVectorIndexStatement(collection, { concurrently: false, only: true }));
  const partitions = await queryRows<{
    schema: string;
    name: string;
    oid: string;
    attached: boolean | null;
  }>(
    db,
    sql`select n.nspname as schema, p.relname as name, p.oid::text as oid,
          (select bool_and(i.indisvalid) from pg_inherits h join pg_index i on i.indexrelid = h.inhrelid
            where h.inhparent = ${parentIndexOid(parent)} and i.indrelid = p.oid) as attached
        from pg_inherits h join pg_class p on p.oid = h.inhrelid join pg_namespace n on n.oid = p.relnamespace
        where h.inhparent = ${getTableName(documents)}::regclass order by p.relname`,
  );
  for (const partition of partitions) {
    if (partition.attached === true) continue;
    if (partition.attached === false) {
      await db.execute(dropIndex(sql.identifier(parent), { concurrently: false }));
      return false;
    }
    const name = partitionIndexName(parent, partition.oid);
    const qualified = sql`${sql.identifier(partition.schema)}.${sql.identifier(name)}`;
    const before = await partitionIndexState(db, partition.oid, name);
    if (before?.building) return false;
    if (before && !before.valid) await db.execute(dropIndex(qualified, { concurrently: true }));
    if (!before?.valid) {
      const on = sql`${sql.identifier(partition.schema)}.${sql.identifier(partition.name)}`;
      await db.execute(createVectorIndexStatement(collection, { concurrently: true, on, name }));
      // IF NOT EXISTS skips an index another process has just begun: it is attached only if valid.
      if (!(await partitionIndexState(db, partition.oid, name))?.valid) return false;
    }
    await db.execute(sql`alter index ${sql.identifier(parent)} attach partition ${qualified}`);
  }
  return true;
}

function parentIndexOid(parent: string): SQL {
  return sql`(select i.indexrelid from pg_index i join pg_class c on c.oid = i.indexrelid
    where i.indrelid = ${getTableName(documents)}::regclass and c.relname = ${parent})`;
}

async function partitionIndexState(
  executor: SqlExecutor,
  partitionOid: string,
  name: string,
): Promise<{ valid: boolean; building: boolean } | undefined> {
  const [row] = await queryRows<{ valid: boolean; building: boolean }>(
    executor,
    sql`select i.indisvalid as valid, exists (select 1 from pg_stat_progress_create_index s where s.index_relid = c.oid) as building
        from pg_index i join pg_class c on c.oid = i.indexrelid where i.indrelid = ${partitionOid}::oid and c.relname = ${name}`,
  );
  return row;
}

/** A collection's indexes on partitions that belong to no parent index: left by an interrupted buildOnPartitions. */
async function strayPartitionIndexes(
  executor: SqlExecutor,
  collectionId: number,
): Promise<Array<{ name: string; qualified: SQL }>> {
  const rows = await queryRows<{ schema: string; name: string }>(
    executor,
    sql`select n.nspname as schema, c.relname as name
        from pg_inherits h join pg_index i on i.indrelid = h.inhrelid join pg_class c on c.oid = i.indexrelid
        join pg_namespace n on n.oid = c.relnamespace
        where h.inhparent = ${getTableName(documents)}::regclass and not c.relispartition
          and starts_with(c.relname, ${indexNamePrefix(collectionId)})`,
  );
  return rows.map((row) => ({
    name: row.name,
    qualified: sql`${sql.identifier(row.schema)}.${sql.identifier(row.name)}`,
  }));
}

/** A short, jittered wait, so two processes that collided do not collide again. */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 250));
}

/**
 * Drops every HNSW index of the collection: concurrently on a server (a plain DROP INDEX locks the
 * whole `documents` table, every collection's reads and writes, until it gets its turn), plainly on
 * PGlite and for a partitioned table's parent index (PostgreSQL refuses DROP INDEX CONCURRENTLY on
 * one). A deadlock with another process's index build is retried, like in ensureVectorIndex.
 */
export async function dropVectorIndexes(database: Database, collectionId: number): Promise<void> {
  const concurrently = database.driver === 'postgres';
  const drop = async (db: SqlExecutor) => {
    const partitioned = concurrently && (await isPartitioned(db));
    for (const index of await vectorIndexStatus(db, collectionId)) {
      await db.execute(
        dropIndex(sql.identifier(index.name), { concurrently: concurrently && !partitioned }),
      );
    }
    for (const stray of await strayPartitionIndexes(db, collectionId)) {
      await db.execute(dropIndex(stray.qualified, { concurrently: false }));
    }
  };
  const maxAttempts = 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await (database.forIndexBuild ? database.forIndexBuild(drop) : drop(database.db));
      return;
    } catch (error) {
      if (databaseErrorCodeIn(error) !== '40P01' || attempt >= maxAttempts) throw error;
      await pause(attempt);
    }
  }
}

/** Every collection's index, e.g. after migrations adopted the guide's table: see reconcileVectorIndexes. */
export async function ensureAllVectorIndexes(database: Database): Promise<void> {
  await reconcileVectorIndexes(database);
}

/** How the HNSW indexes on `documents` differ from what the collections record. */
export interface VectorIndexDrift {
  /** Indexes of collections that no longer exist (left by a delete that raced an index build). */
  orphaned: Array<{ name: string; collectionId: number }>;
  /**
   * Collections with a valid index whose indexes are not exactly the one their recorded
   * parameters call for: other m/ef_construction, or an older index beside it. (Missing and
   * invalid indexes are told by vectorIndexStatus.) An updateIndex in progress shows here too.
   */
  mismatched: Array<{
    collectionId: number;
    collection: string;
    recorded: { m: number; efConstruction: number };
    live: Array<{ name: string; m: number | null; efConstruction: number | null }>;
  }>;
}

const collectionIndexPattern = /^documents_hnsw_c(\d+)_/;

/** Reads the drift (see VectorIndexDrift); changes nothing. */
export async function vectorIndexDrift(
  executor: Pick<QuarryDatabase, 'execute' | 'select'>,
): Promise<VectorIndexDrift> {
  // Indexes first, then collections: an index is built only after its collection's row is
  // committed, so every index read here whose collection is missing below really is an orphan.
  const indexes = await retryingCatalogRace(() =>
    queryRows<{
      name: string;
      on_partition: boolean;
      valid: boolean;
      m: string | null;
      ef_construction: string | null;
    }>(
      executor,
      sql`select c.relname as name, i.indrelid <> ${getTableName(documents)}::regclass as on_partition, i.indisvalid as valid,
            ${hnswOption('m')} as m, ${hnswOption('ef_construction')} as ef_construction
          from pg_index i join pg_class c on c.oid = i.indexrelid
          where (i.indrelid = ${getTableName(documents)}::regclass
              or i.indrelid in (select inhrelid from pg_inherits where inhparent = ${getTableName(documents)}::regclass))
            and not c.relispartition and starts_with(c.relname, 'documents_hnsw_c')
          order by c.relname`,
    ),
  );
  const recorded = new Map(
    (await executor.select().from(collections)).map((collection) => [collection.id, collection]),
  );
  const drift: VectorIndexDrift = { orphaned: [], mismatched: [] };
  const live = new Map<number, typeof indexes>();
  for (const index of indexes) {
    const collectionId = Number(collectionIndexPattern.exec(index.name)?.[1]);
    if (!Number.isSafeInteger(collectionId)) continue;
    if (!recorded.has(collectionId)) drift.orphaned.push({ name: index.name, collectionId });
    else if (!index.on_partition)
      live.set(collectionId, [...(live.get(collectionId) ?? []), index]);
  }
  for (const [collectionId, collectionIndexes] of live) {
    const collection = recorded.get(collectionId);
    if (!collection || !collectionIndexes.some((index) => index.valid)) continue;
    const [only] = collectionIndexes;
    const exact =
      collectionIndexes.length === 1 &&
      only !== undefined &&
      only.name === vectorIndexName(collection) &&
      Number(only.m) === collection.hnswM &&
      Number(only.ef_construction) === collection.hnswEfConstruction;
    if (exact) continue;
    drift.mismatched.push({
      collectionId,
      collection: collection.name,
      recorded: { m: collection.hnswM, efConstruction: collection.hnswEfConstruction },
      live: collectionIndexes.map((index) => ({
        name: index.name,
        m: index.m === null ? null : Number(index.m),
        efConstruction: index.ef_construction === null ? null : Number(index.ef_construction),
      })),
    });
  }
  return drift;
}

/**
 * Makes the HNSW indexes match the collections, as one collection change
 * (withCollectionChangeLock): drops the indexes of collections that no longer exist, then gives
 * every collection exactly one valid index with its recorded parameters (ensureVectorIndex).
 * `migrate()` runs it, so the server does at start and `quarry migrate` does on demand; `quarry
 * doctor` reports what it would fix (vectorIndexDrift). Returns the orphaned indexes it dropped.
 */
export async function reconcileVectorIndexes(database: Database): Promise<{ dropped: string[] }> {
  return withCollectionChangeLock(database, async () => {
    const { orphaned } = await vectorIndexDrift(database.db);
    const dropped: string[] = [];
    for (const collectionId of new Set(orphaned.map((orphan) => orphan.collectionId))) {
      await dropVectorIndexes(database, collectionId);
      dropped.push(...orphaned.filter((o) => o.collectionId === collectionId).map((o) => o.name));
    }
    for (const collection of await database.db.select().from(collections)) {
      await ensureVectorIndex(database, collection);
    }
    return { dropped };
  });
}
