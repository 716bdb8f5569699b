import { sql } from 'drizzle-orm';
import { queryRows, type Database, type SqlExecutor } from './client';

/**
 * Quarry on a Citus cluster (see apps/server/docs/scaling.md, "Citus"): `documents` is distributed
 * by `tenant_id`, `collections` is a reference table (a copy on every node). Every unique key
 * Quarry's ingest relies on, (collection, tenant, external id) and (collection, tenant, content
 * hash), already contains `tenant_id`, so upserts and deduplication stay on one shard; the primary
 * key becomes (id, tenant_id), because Citus (like partitioning) wants the distribution column in
 * every unique index.
 */
export const DISTRIBUTION_COLUMN = 'tenant_id';

/** Whether this database has the citus extension (a Citus coordinator). */
export async function isCitus(executor: SqlExecutor): Promise<boolean> {
  const [row] = await queryRows<{ citus: boolean }>(
    executor,
    sql`select exists (select 1 from pg_extension where extname = 'citus') as citus`,
  );
  return row?.citus ?? false;
}

/**
 * `quarry_set_local(name, value)`: `SET LOCAL name = value`, with Citus forwarding it to the
 * workers' connections of the transaction. A request's settings (statement_timeout,
 * hnsw.ef_search, hnsw.iterative_scan, ...) are made with `set_config(name, value, true)`, a
 * function call that Citus does not see: the shards' queries would run with the workers' defaults.
 * Citus forwards a `SET LOCAL` statement when `citus.propagate_set_commands = 'local'`; this
 * function issues one from bound parameters (`%I`/`%L` quoting on the server), so the request's
 * values never become SQL text in Quarry. Created only on Citus; setLocal in @quarry/api calls it
 * when it exists.
 */
const setLocalFunction = sql`create or replace function quarry_set_local(name text, value text) returns void
  language plpgsql as $$
  begin
    perform set_config('citus.propagate_set_commands', 'local', true);
    execute format('set local %I = %L', name, value);
  end $$`;

/** 'h' (hash-distributed), 'n' (reference), or null when the table is not a Citus table. */
async function citusTableKind(executor: SqlExecutor, table: string): Promise<string | null> {
  const [row] = await queryRows<{ kind: string | null }>(
    executor,
    sql`select (select partmethod::text from pg_dist_partition where logicalrelid = to_regclass(${table})) as kind`,
  );
  return row?.kind ?? null;
}

/**
 * After the migrations, on a Citus coordinator only: makes `collections` a reference table and
 * distributes `documents` by tenant. Idempotent (a table already distributed is left alone), and
 * run under the same advisory lock as the migrations, so replicas starting together do it once.
 * The foreign key from documents to collections is dropped for the conversion and made again (Citus
 * would otherwise turn `documents` into a local table of the coordinator first).
 */
export async function distributeOnCitus(database: Database): Promise<boolean> {
  if (database.driver !== 'postgres' || !(await isCitus(database.db))) return false;
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('quarry.migrate'))`);
    await tx.execute(setLocalFunction);
    const collections = await citusTableKind(tx, 'collections');
    const documents = await citusTableKind(tx, 'documents');
    // The re-embed tables are read beside documents (a shadow vector per document): reference
    // tables, so those joins run on every shard.
    const reembedTables = ['reembed_jobs', 'reembed_vectors'] as const;
    const reembedKinds = await Promise.all(reembedTables.map((table) => citusTableKind(tx, table)));
    if (collections === 'n' && documents === 'h' && reembedKinds.every((kind) => kind === 'n'))
      return;
    // Nothing may run on the shards in parallel before the DDL below in this transaction.
    await tx.execute(sql`set local citus.multi_shard_modify_mode to 'sequential'`);
    await tx.execute(
      sql`alter table documents drop constraint if exists documents_collection_id_collections_id_fk`,
    );
    if (collections === null) await tx.execute(sql`select create_reference_table('collections')`);
    if (documents === null) {
      const [key] = await queryRows<{ columns: string }>(
        tx,
        sql`select string_agg(a.attname, ',' order by k.ord) as columns
            from pg_constraint c cross join unnest(c.conkey) with ordinality k(attnum, ord)
            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
            where c.conrelid = 'documents'::regclass and c.contype = 'p'`,
      );
      if (key?.columns !== `id,${DISTRIBUTION_COLUMN}`) {
        await tx.execute(sql`alter table documents drop constraint if exists documents_pkey`);
        await tx.execute(
          sql`alter table documents add constraint documents_pkey primary key (id, ${sql.identifier(DISTRIBUTION_COLUMN)})`,
        );
      }
      await tx.execute(
        sql`select create_distributed_table('documents', ${DISTRIBUTION_COLUMN}, colocate_with => 'none')`,
      );
    }
    await tx.execute(
      sql`alter table documents add constraint documents_collection_id_collections_id_fk
          foreign key (collection_id) references collections (id) on delete cascade`,
    );
    for (const [position, table] of reembedTables.entries()) {
      if (reembedKinds[position] === null)
        await tx.execute(sql`select create_reference_table(${table})`);
    }
  });
  return true;
}
