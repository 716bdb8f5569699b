import type { SQL } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import {
  collections,
  documents,
  migrationsFolder,
  queryRows,
  type Collection,
  type DistanceMetric,
  type Metadata,
  type SqlExecutor,
  type QuarryDatabase,
} from '../src/index';
import type { TestDatabase } from '../src/testing';

export { seededRandom } from '../src/testing';

/** Components in [-1, 1), each already a float32 value (what pgvector stores). */
export function randomVector(dimensions: number, random: () => number): number[] {
  return Array.from({ length: dimensions }, () => Math.fround(random() * 2 - 1));
}

/** The same direction, nudged: its nearest neighbour under every metric is `vector` itself. */
export function nudged(vector: readonly number[], random: () => number, amount = 0.01): number[] {
  return vector.map((component) => Math.fround(component + (random() * 2 - 1) * amount));
}

export async function createCollection(
  db: QuarryDatabase,
  values: { name: string; dimensions: number; metric?: DistanceMetric; embeddingModel?: string },
): Promise<Collection> {
  const [collection] = await db
    .insert(collections)
    .values({ embeddingModel: 'test-model', ...values })
    .returning();
  if (!collection) throw new Error('insert into collections returned no row');
  return collection;
}

export interface SeedDocument {
  content: string;
  embedding: number[];
  metadata?: Metadata;
}

/** Inserts documents through Drizzle in batches (vectors as bound parameters) and returns their ids. */
export async function insertDocuments(
  db: QuarryDatabase,
  collection: Pick<Collection, 'id'>,
  rows: readonly SeedDocument[],
  batchSize = 250,
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = rows
      .slice(start, start + batchSize)
      .map((row) => ({ ...row, collectionId: collection.id }));
    const inserted = await db.insert(documents).values(batch).returning({ id: documents.id });
    ids.push(...inserted.map((row) => row.id));
  }
  return ids;
}

/**
 * The plan PostgreSQL chooses for `query`, as text. With ANALYZE (the query runs): Citus cannot
 * get a shard's plan for a plain EXPLAIN whose parameters have no values yet.
 */
export async function explain(executor: SqlExecutor, query: SQL): Promise<string> {
  const rows = await queryRows<{ 'QUERY PLAN': string }>(
    executor,
    sql`explain (analyze, costs off, timing off) ${query}`,
  );
  return rows.map((row) => row['QUERY PLAN']).join('\n');
}

export async function indexDefinitions(
  executor: SqlExecutor,
  table: string,
): Promise<Map<string, string>> {
  const rows = await queryRows<{ indexname: string; indexdef: string }>(
    executor,
    sql`select indexname, indexdef from pg_indexes where schemaname = current_schema() and tablename = ${table} order by indexname`,
  );
  return new Map(rows.map((row) => [row.indexname, row.indexdef]));
}

/** Every document ordered by id, with the vector and metadata as stored. */
export async function allDocuments(db: QuarryDatabase) {
  return db
    .select({
      id: documents.id,
      content: documents.content,
      metadata: documents.metadata,
      embedding: documents.embedding,
    })
    .from(documents)
    .orderBy(documents.id);
}

/** Applies and records the first `count` migrations, as migrate() would have before the rest existed. */
export async function migrateFirst(database: TestDatabase, count: number): Promise<void> {
  // One transaction, as migrate() runs them: a migration's statements share its temporary tables.
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(
      sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    for (const migration of readMigrationFiles({ migrationsFolder }).slice(0, count)) {
      for (const statement of migration.sql) await tx.execute(sql.raw(statement));
      await tx.execute(
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
      );
    }
  });
}

/**
 * A collection of 2 dimensions and its documents, written with the columns every migration since
 * 0002 has (not through the current schema, whose newer columns an older database lacks); returns
 * the documents' ids in input order.
 */
export async function insertBeforeMigration(
  executor: SqlExecutor,
  name: string,
  contents: readonly string[],
): Promise<string[]> {
  const [collection] = await queryRows<{ id: number }>(
    executor,
    sql`insert into collections (name, dimensions, embedding_model) values (${name}, 2, 'test-model') returning id`,
  );
  const ids: string[] = [];
  for (const content of contents) {
    const [row] = await queryRows<{ id: string }>(
      executor,
      sql`insert into documents (collection_id, content, embedding) values (${collection?.id}, ${content}, '[1,0]') returning id`,
    );
    if (row) ids.push(row.id);
  }
  return ids;
}

/** The generation expression of documents.search_text, as PostgreSQL prints it. */
export async function searchTextExpression(executor: SqlExecutor): Promise<string | undefined> {
  const [row] = await queryRows<{ expression: string }>(
    executor,
    sql`select pg_get_expr(d.adbin, d.adrelid) as expression
        from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
        where d.adrelid = 'documents'::regclass and a.attname = 'search_text'`,
  );
  return row?.expression;
}
