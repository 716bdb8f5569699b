import { getTableName, sql } from 'drizzle-orm';
import { queryRows, type Database, type SqlExecutor } from './client';
import { withCollectionChangeLock } from './collection-lock';
import { QuarryError } from './errors';
import { documents } from './schema';
import type { PartitionKey, PartitionMethod } from './choices';
import { reconcileVectorIndexes } from './vector-index';

/**
 * `quarry partition`: turns `documents` into a partitioned table online, in steps that resume
 * where a stopped run left off (the progress lives in `quarry_partition_progress`, not in memory).
 *
 * 1. prepare: an empty partitioned copy (`documents_partitioned`, same columns, defaults, generated
 *    columns and checks; primary key (id, key)), and a trigger that mirrors every write to
 *    `documents` into it from now on;
 * 2. backfill: copies the existing rows in keyset batches by id, each batch one transaction that
 *    also records how far it got. Rows are read FOR SHARE, so a concurrent update or delete of a row
 *    waits for its batch and is then mirrored after the copy, never before it (a delete mirrored
 *    before the copy would bring the row back);
 * 3. indexes: every valid index of `documents` (the collections' HNSW indexes included) is built on
 *    each partition concurrently and attached to a parent index, so writes go on; under the
 *    collection change lock, so no collection's index changes meanwhile;
 * 4. switch: one short transaction under an ACCESS EXCLUSIVE lock: the row counts are compared,
 *    the tables and indexes trade names, and the trigger goes;
 * 5. cleanup: the old table is dropped (or kept, renamed), and the collections' indexes are
 *    reconciled as at start.
 */

export {
  partitionKeys,
  partitionMethods,
  type PartitionKey,
  type PartitionMethod,
} from './choices';

export interface PartitionOptions {
  key: PartitionKey;
  method: PartitionMethod;
  /** Hash partitions (ignored by list, which makes one per value present plus a default). */
  partitions: number;
  /** Rows per backfill transaction. */
  batchSize: number;
  /** Keep the unpartitioned table as `documents_unpartitioned` instead of dropping it. */
  keepOld?: boolean;
}

export type PartitionEvent =
  | { step: 'prepare'; partitions: number; rows: number }
  | { step: 'resume'; from: PartitionStep; copied: number }
  | { step: 'backfill'; copied: number; total: number }
  | { step: 'index'; name: string; done: number; total: number }
  | { step: 'switch'; rows: number }
  | { step: 'cleanup'; keptOld: boolean }
  | { step: 'done'; rows: number; partitions: number };

type PartitionStep = 'backfill' | 'indexes' | 'switched';

const keyColumns: Record<PartitionKey, string> = {
  tenant: documents.tenantId.name,
  collection: documents.collectionId.name,
};

const progressTable = sql.identifier('quarry_partition_progress');
const staging = 'documents_partitioned';
const oldTable = 'documents_unpartitioned';
const mirror = 'quarry_partition_mirror';
/** Where the backfill starts: below every uuid. */
const firstId = '00000000-0000-0000-0000-000000000000';

interface ProgressRow {
  key: PartitionKey;
  method: PartitionMethod;
  partitions: number;
  step: PartitionStep;
  last_id: string;
  copied: string | number;
}

/** Runs (or resumes) the conversion; returns the number of rows and partitions it ended with. */
export async function partitionDocuments(
  database: Database,
  options: PartitionOptions,
  onEvent: (event: PartitionEvent) => void = () => {},
): Promise<{ rows: number; partitions: number }> {
  if (database.driver !== 'postgres')
    throw new QuarryError(
      'INVALID_INPUT',
      'partitioning needs a PostgreSQL server: the embedded database is one process with one writer, so there is nothing to gain',
    );
  const db = database.db;
  await db.execute(sql`create table if not exists ${progressTable} (
      singleton boolean primary key default true check (singleton),
      key text not null, method text not null, partitions integer not null, step text not null,
      last_id uuid not null, copied bigint not null default 0,
      started_at timestamptz not null default now(), updated_at timestamptz not null default now())`);
  let [progress] = await queryRows<ProgressRow>(db, sql`select * from ${progressTable}`);
  if (progress) {
    if (progress.key !== options.key || progress.method !== options.method)
      throw new QuarryError(
        'INVALID_INPUT',
        `a partitioning of documents by ${progress.key} (${progress.method}) is in progress (step ${progress.step}); run the same command again to finish it, or abort it first`,
      );
    onEvent({ step: 'resume', from: progress.step, copied: Number(progress.copied) });
  } else {
    progress = await prepare(database, options, onEvent);
  }

  if (progress.step === 'backfill') {
    await backfill(db, progress, options.batchSize, onEvent);
    await setStep(db, 'indexes');
    progress.step = 'indexes';
  }
  if (progress.step === 'indexes') {
    await withCollectionChangeLock(database, async () => {
      const build = (executor: SqlExecutor) => buildIndexes(executor, onEvent);
      await (database.forIndexBuild ? database.forIndexBuild(build) : build(db));
      await switchTables(database, onEvent);
    });
    progress.step = 'switched';
  }
  const keepOld = options.keepOld ?? false;
  if (!keepOld) await db.execute(sql`drop table if exists ${sql.identifier(oldTable)}`);
  onEvent({ step: 'cleanup', keptOld: keepOld });
  await db.execute(sql`delete from ${progressTable}`);
  await db.execute(sql`analyze ${documents}`);
  await reconcileVectorIndexes(database);
  const [summary] = await queryRows<{ rows: number; partitions: number }>(
    db,
    sql`select (select count(*)::int from ${documents}) as rows,
        (select count(*)::int from pg_inherits where inhparent = ${getTableName(documents)}::regclass) as partitions`,
  );
  const result = { rows: summary?.rows ?? 0, partitions: summary?.partitions ?? 0 };
  onEvent({ step: 'done', ...result });
  return result;
}

/** Drops what an unfinished run made (before its switch) and forgets it; `documents` is untouched. */
export async function abortPartitioning(database: Database): Promise<boolean> {
  return database.db.transaction(async (tx) => {
    const progress = await partitioningInProgress(tx);
    if (!progress) return false;
    if (progress.step === 'switched')
      throw new QuarryError(
        'INVALID_INPUT',
        'the switch to the partitioned table is done; run the command again to finish the cleanup',
      );
    await tx.execute(sql`drop trigger if exists ${sql.identifier(mirror)} on ${documents}`);
    await tx.execute(sql`drop function if exists ${sql.identifier(mirror)}()`);
    await tx.execute(sql`drop table if exists ${sql.identifier(staging)} cascade`);
    await tx.execute(sql`delete from ${progressTable}`);
    return true;
  });
}

async function prepare(
  database: Database,
  options: PartitionOptions,
  onEvent: (event: PartitionEvent) => void,
): Promise<ProgressRow> {
  const keyColumn = keyColumns[options.key];
  if (options.method === 'hash' && !(options.partitions >= 2 && options.partitions <= 1024))
    throw new QuarryError(
      'INVALID_INPUT',
      `hash partitioning needs 2 to 1024 partitions, got ${options.partitions}`,
    );
  return database.db.transaction(async (tx) => {
    const [table] = await queryRows<{ kind: string; citus: boolean }>(
      tx,
      sql`select c.relkind as kind, exists (select 1 from pg_extension where extname = 'citus') as citus
          from pg_class c where c.oid = ${getTableName(documents)}::regclass`,
    );
    if (table?.citus)
      throw new QuarryError(
        'INVALID_INPUT',
        'this database runs Citus: documents is distributed across the cluster instead (see scaling.md)',
      );
    if (table?.kind === 'p')
      throw new QuarryError('INVALID_INPUT', 'documents is already a partitioned table');
    // A partitioned table's unique indexes must contain the partition key.
    const [unique] = await queryRows<{ name: string }>(
      tx,
      sql`select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid
          where i.indrelid = ${getTableName(documents)}::regclass and i.indisunique and not i.indisprimary
            and not exists (select 1 from pg_attribute a where a.attrelid = i.indrelid
              and a.attname = ${keyColumn} and a.attnum = any (i.indkey))`,
    );
    if (unique)
      throw new QuarryError(
        'INVALID_INPUT',
        `the unique index ${unique.name} does not contain ${keyColumn}, so documents cannot be partitioned by ${options.key}`,
      );
    const [referenced] = await queryRows<{ name: string }>(
      tx,
      sql`select conrelid::regclass::text as name from pg_constraint
          where contype = 'f' and confrelid = ${getTableName(documents)}::regclass`,
    );
    if (referenced)
      throw new QuarryError(
        'INVALID_INPUT',
        `${referenced.name} has a foreign key to documents; partitioning would have to move it too, which this command does not do`,
      );

    const by = sql.raw(options.method);
    await tx.execute(sql`create table ${sql.identifier(staging)} (like ${documents}
        including defaults including generated including constraints)
        partition by ${by} (${sql.identifier(keyColumn)})`);
    const partitionDdl =
      options.method === 'hash'
        ? sql`select format('create table %I partition of %I for values with (modulus %s, remainder %s)',
              'documents_p' || r, ${staging}::text, ${options.partitions}::int, r) as ddl
            from generate_series(0, ${options.partitions}::int - 1) r`
        : sql`select format('create table %I partition of %I for values in (%L)',
              'documents_p' || (row_number() over (order by v) - 1), ${staging}::text, v) as ddl
            from (select distinct ${sql.identifier(keyColumn)}::text as v from ${documents}) present
            union all select format('create table documents_pdefault partition of %I default', ${staging}::text)`;
    // The DDL is written by the server's format(): %I and %L quote names and values.
    const statements = await queryRows<{ ddl: string }>(tx, partitionDdl);
    for (const { ddl } of statements) await tx.execute(sql.raw(ddl));
    await tx.execute(sql`alter table ${sql.identifier(staging)}
        add constraint ${sql.identifier(`${staging}_pkey`)} primary key (id, ${sql.identifier(keyColumn)})`);
    await tx.execute(sql`alter table ${sql.identifier(staging)}
        add constraint documents_collection_id_collections_id_fk foreign key (collection_id)
        references collections (id) on delete cascade`);
    // The same privileges as documents (an application role that only reads and writes rows).
    const grants = await queryRows<{ ddl: string }>(
      tx,
      sql`select format('grant %s on %I to %s', a.privilege_type, ${staging}::text,
            case when a.grantee = 0 then 'public' else quote_ident(r.rolname) end) as ddl
          from aclexplode((select relacl from pg_class where oid = ${getTableName(documents)}::regclass)) a
          left join pg_roles r on r.oid = a.grantee
          where a.grantee <> (select relowner from pg_class where oid = ${getTableName(documents)}::regclass)`,
    );
    for (const { ddl } of grants) await tx.execute(sql.raw(ddl));
    const columns = await writableColumns(tx);
    const list = sql.join(
      columns.map((column) => sql.identifier(column)),
      sql`, `,
    );
    const values = sql.join(
      columns.map((column) => sql`new.${sql.identifier(column)}`),
      sql`, `,
    );
    const keyIdentifier = sql.identifier(keyColumn);
    await tx.execute(sql`create function ${sql.identifier(mirror)}() returns trigger language plpgsql as $mirror$
      begin
        if tg_op in ('UPDATE', 'DELETE') then
          delete from ${sql.identifier(staging)} where id = old.id and ${keyIdentifier} = old.${keyIdentifier};
        end if;
        if tg_op in ('INSERT', 'UPDATE') then
          insert into ${sql.identifier(staging)} (${list}) values (${values});
        end if;
        return null;
      end $mirror$`);
    await tx.execute(sql`create trigger ${sql.identifier(mirror)} after insert or update or delete on ${documents}
        for each row execute function ${sql.identifier(mirror)}()`);
    const [row] = await queryRows<ProgressRow>(
      tx,
      sql`insert into ${progressTable} (key, method, partitions, step, last_id)
          values (${options.key}, ${options.method}, ${statements.length}, 'backfill', ${firstId}) returning *`,
    );
    const [count] = await queryRows<{ rows: number }>(
      tx,
      sql`select count(*)::int as rows from ${documents}`,
    );
    onEvent({ step: 'prepare', partitions: statements.length, rows: count?.rows ?? 0 });
    if (!row) throw new Error('the partitioning progress row was not written');
    return row;
  });
}

/** The columns a copy writes: every column but the generated ones, in table order. */
async function writableColumns(executor: SqlExecutor): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    executor,
    sql`select attname as name from pg_attribute
        where attrelid = ${getTableName(documents)}::regclass and attnum > 0 and not attisdropped and attgenerated = ''
        order by attnum`,
  );
  return rows.map((row) => row.name);
}

async function backfill(
  db: Database['db'],
  progress: ProgressRow,
  batchSize: number,
  onEvent: (event: PartitionEvent) => void,
): Promise<void> {
  const columns = await writableColumns(db);
  const list = sql.join(
    columns.map((column) => sql.identifier(column)),
    sql`, `,
  );
  const [estimate] = await queryRows<{ rows: number }>(
    db,
    sql`select count(*)::int as rows from ${documents}`,
  );
  const total = estimate?.rows ?? 0;
  let copied = Number(progress.copied);
  for (;;) {
    const [step] = await queryRows<{ rows: number; copied: string }>(
      db,
      sql`with batch as (
            select ${list} from ${documents} where id > (select last_id from ${progressTable})
            order by id limit ${batchSize} for share
          ), copied as (
            insert into ${sql.identifier(staging)} (${list}) select ${list} from batch on conflict do nothing
          )
          update ${progressTable} set
            last_id = coalesce((select id from batch order by id desc limit 1), last_id),
            copied = copied + (select count(*) from batch), updated_at = now()
          returning (select count(*)::int from batch) as rows, copied::text as copied`,
    );
    copied = Number(step?.copied ?? copied);
    onEvent({ step: 'backfill', copied, total: Math.max(total, copied) });
    if (!step || step.rows === 0) return;
  }
}

async function setStep(db: Database['db'], step: PartitionStep): Promise<void> {
  await db.execute(sql`update ${progressTable} set step = ${step}, updated_at = now()`);
}

interface SourceIndex {
  name: string;
  oid: string;
  unique: boolean;
  /** `USING method (columns) [WITH (...)] [WHERE ...]`: pg_get_indexdef from its USING on, which names no table. */
  body: string;
}

/** The parent index's name on the staging table, while `documents` still holds the real one. */
const stagingIndexName = (name: string) => `qp_${name}`;
const partitionIndexName = (parent: string, partitionOid: string) => `${parent}_${partitionOid}`;

async function buildIndexes(
  executor: SqlExecutor,
  onEvent: (event: PartitionEvent) => void,
): Promise<void> {
  const indexes = await sourceIndexes(executor);
  const partitions = await queryRows<{ name: string; oid: string }>(
    executor,
    sql`select c.relname as name, c.oid::text as oid from pg_inherits h join pg_class c on c.oid = h.inhrelid
        where h.inhparent = ${staging}::regclass order by c.relname`,
  );
  for (const [position, index] of indexes.entries()) {
    onEvent({ step: 'index', name: index.name, done: position, total: indexes.length });
    const parent = stagingIndexName(index.name);
    const unique = sql.raw(index.unique ? 'unique ' : '');
    // The body comes from pg_get_indexdef of an index that exists: catalog text, not input.
    const body = sql.raw(index.body);
    await executor.execute(
      sql`create ${unique}index if not exists ${sql.identifier(parent)} on only ${sql.identifier(staging)} ${body}`,
    );
    for (const partition of partitions) {
      const name = partitionIndexName(parent, partition.oid);
      const [state] = await queryRows<{ valid: boolean; attached: boolean }>(
        executor,
        sql`select i.indisvalid as valid, c.relispartition as attached from pg_index i
            join pg_class c on c.oid = i.indexrelid where c.relname = ${name}`,
      );
      if (state?.attached) continue;
      // One left invalid by a stopped run is dropped and built again.
      if (state && !state.valid)
        await executor.execute(sql`drop index concurrently if exists ${sql.identifier(name)}`);
      if (!state?.valid)
        await executor.execute(
          sql`create ${unique}index concurrently if not exists ${sql.identifier(name)} on ${sql.identifier(partition.name)} ${body}`,
        );
      await executor.execute(
        sql`alter index ${sql.identifier(parent)} attach partition ${sql.identifier(name)}`,
      );
    }
  }
  onEvent({ step: 'index', name: '', done: indexes.length, total: indexes.length });
}

async function sourceIndexes(executor: SqlExecutor): Promise<SourceIndex[]> {
  const rows = await queryRows<{ name: string; oid: string; unique: boolean; definition: string }>(
    executor,
    sql`select c.relname as name, c.oid::text as oid, i.indisunique as unique, pg_get_indexdef(c.oid) as definition
        from pg_index i join pg_class c on c.oid = i.indexrelid
        where i.indrelid = ${getTableName(documents)}::regclass and not i.indisprimary and i.indisvalid
        order by c.relname`,
  );
  return rows.map((row) => {
    const at = row.definition.indexOf(' USING ');
    if (at < 0) throw new Error(`unexpected index definition: ${row.definition}`);
    return { name: row.name, oid: row.oid, unique: row.unique, body: row.definition.slice(at + 1) };
  });
}

async function switchTables(
  database: Database,
  onEvent: (event: PartitionEvent) => void,
): Promise<void> {
  const indexes = await sourceIndexes(database.db);
  await database.db.transaction(async (tx) => {
    await tx.execute(
      sql`lock table ${documents}, ${sql.identifier(staging)} in access exclusive mode`,
    );
    const [counts] = await queryRows<{ old: number; new: number }>(
      tx,
      sql`select (select count(*)::int from ${documents}) as old, (select count(*)::int from ${sql.identifier(staging)}) as new`,
    );
    if (!counts || counts.old !== counts.new)
      throw new Error(
        `the partitioned copy holds ${counts?.new} rows where documents holds ${counts?.old}; nothing was switched`,
      );
    await tx.execute(sql`drop trigger ${sql.identifier(mirror)} on ${documents}`);
    await tx.execute(sql`drop function ${sql.identifier(mirror)}()`);
    await tx.execute(sql`alter table ${documents} rename to ${sql.identifier(oldTable)}`);
    await tx.execute(
      sql`alter table ${sql.identifier(oldTable)} rename constraint documents_pkey to ${sql.identifier(`${oldTable}_pkey`)}`,
    );
    for (const index of indexes) {
      await tx.execute(
        sql`alter index ${sql.identifier(index.name)} rename to ${sql.identifier(`qp_old_${index.oid}`)}`,
      );
    }
    await tx.execute(sql`alter table ${sql.identifier(staging)} rename to ${documents}`);
    await tx.execute(
      sql`alter table ${documents} rename constraint ${sql.identifier(`${staging}_pkey`)} to documents_pkey`,
    );
    for (const index of indexes) {
      const parent = stagingIndexName(index.name);
      const children = await queryRows<{ name: string; partition: string }>(
        tx,
        sql`select c.relname as name, i.indrelid::text as partition from pg_inherits h
            join pg_class c on c.oid = h.inhrelid join pg_index i on i.indexrelid = c.oid
            where h.inhparent = ${parent}::regclass`,
      );
      await tx.execute(
        sql`alter index ${sql.identifier(parent)} rename to ${sql.identifier(index.name)}`,
      );
      for (const child of children) {
        await tx.execute(
          sql`alter index ${sql.identifier(child.name)} rename to ${sql.identifier(partitionIndexName(index.name, child.partition))}`,
        );
      }
    }
    await tx.execute(sql`update ${progressTable} set step = 'switched', updated_at = now()`);
    onEvent({ step: 'switch', rows: counts.new });
  });
}

/** For `quarry doctor` and tests: the partitioning in progress, if any. */
export async function partitioningInProgress(
  executor: SqlExecutor,
): Promise<{ key: string; step: string; copied: number } | undefined> {
  const [table] = await queryRows<{ exists: boolean }>(
    executor,
    sql`select to_regclass('quarry_partition_progress') is not null as exists`,
  );
  if (!table?.exists) return undefined;
  const [row] = await queryRows<{ key: string; step: string; copied: string }>(
    executor,
    sql`select key, step, copied::text as copied from ${progressTable}`,
  );
  return row && { key: row.key, step: row.step, copied: Number(row.copied) };
}
