import type { SQL } from 'drizzle-orm';
import { sql } from 'drizzle-orm';
import {
  collections,
  documents,
  queryRows,
  type Collection,
  type DistanceMetric,
  type Metadata,
  type SqlExecutor,
  type QuarryDatabase,
} from '../src/index';

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
