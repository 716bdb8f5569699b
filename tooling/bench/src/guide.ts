/**
 * Baseline A, the guide's own pattern (shared/seed: "Building Databases for AI Apps"): its table,
 * its Drizzle schema with a customType vector serialised as text, one INSERT per document, and its
 * query (HNSW index with the filter in the WHERE clause, default settings).
 */
import type { PGlite } from '@electric-sql/pglite';
import { customType, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';

/** The guide's schema, verbatim (its vector column is fixed at 1,536 dimensions). */
export const GUIDE_SCHEMA_SQL = `CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE documents (
id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
content TEXT NOT NULL,
metadata JSONB,
embedding vector(1536), -- 1536 for OpenAI text-embedding-3-small
created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);`;

export const GUIDE_INDEX_SQL = `CREATE INDEX ON documents
USING hnsw (embedding vector_cosine_ops)
WITH (m = 16, ef_construction = 64);`;

// The guide's custom type, as written there.
const vector = customType<{ data: number[]; driverData: string }>({
  dataType() {
    return 'vector(1536)';
  },
  toDriver(value: number[]) {
    return `[${value.join(',')}]`;
  },
  fromDriver(value: string) {
    return value.replace(/[[\]]/g, '').split(',').map(Number);
  },
});

export const guideDocuments = pgTable('documents', {
  id: uuid('id').primaryKey().defaultRandom(),
  content: text('content').notNull(),
  metadata: jsonb('metadata'),
  embedding: vector('embedding'),
  createdAt: timestamp('created_at').defaultNow(),
});

export interface GuideRow {
  content: string;
  metadata: Record<string, unknown>;
  embedding: number[];
}

export interface GuideWriter {
  insert(row: GuideRow): Promise<void>;
  /** The guide's insert with many rows in one statement (its pattern at its best; the bench sends 500). */
  insertMany(rows: GuideRow[]): Promise<void>;
  exec(statement: string): Promise<void>;
  close(): Promise<void>;
}

/** The guide's client: postgres.js with `prepare: false` ("compatible with serverless poolers"), Drizzle on top. */
export function guideWriterOnPostgres(url: string): GuideWriter {
  const client = postgres(url, { prepare: false, onnotice: () => {} });
  const db = drizzlePostgres(client);
  return {
    async insert(row) {
      await db.insert(guideDocuments).values(row);
    },
    async insertMany(rows) {
      await db.insert(guideDocuments).values(rows);
    },
    async exec(statement) {
      await client.unsafe(statement);
    },
    close: () => client.end({ timeout: 5 }),
  };
}

export function guideWriterOnPglite(client: PGlite): GuideWriter {
  const db = drizzlePglite(client);
  return {
    async insert(row) {
      await db.insert(guideDocuments).values(row);
    },
    async insertMany(rows) {
      await db.insert(guideDocuments).values(rows);
    },
    async exec(statement) {
      await client.exec(statement);
    },
    close: () => client.close(),
  };
}

/**
 * The guide's query, on Quarry's table: Quarry keeps every collection in one table under per-
 * collection partial indexes, so the guide's `embedding <=> q` becomes the indexed expression and
 * the collection predicate joins its WHERE clause. The rest is the guide's: the filter as
 * `metadata->>'key' = value` next to the index's ORDER BY ... LIMIT, default settings. Its distance
 * threshold (`< 0.5`) is left out: recall is measured against the k nearest, whatever their distance.
 */
export function guideQueryText(options: {
  collectionId: number;
  dimensions: number;
  filterKey?: string;
  k: number;
}): string {
  const { collectionId, dimensions, filterKey, k } = options;
  for (const value of [collectionId, dimensions, k]) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`bad integer in the guide query: ${value}`);
  }
  if (filterKey !== undefined && !/^[a-z0-9_]+$/i.test(filterKey))
    throw new Error(`bad filter key ${filterKey}`);
  const distance = `(embedding::vector(${dimensions}) <=> $1::vector(${dimensions}))`;
  const filter = filterKey === undefined ? '' : ` AND metadata->>'${filterKey}' = $2`;
  return `SELECT external_id, 1 - ${distance} AS similarity FROM documents WHERE collection_id = ${collectionId}${filter} ORDER BY ${distance} LIMIT ${k}`;
}

export function vectorText(vector: ArrayLike<number>): string {
  return `[${Array.prototype.join.call(vector, ',')}]`;
}
