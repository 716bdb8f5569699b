import { sql } from 'drizzle-orm';
import {
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { DEFAULT_TEXT_SEARCH_CONFIG, textSearchConfigs } from './choices';

export const distanceMetrics = ['cosine', 'l2', 'inner_product'] as const;
export type DistanceMetric = (typeof distanceMetrics)[number];

export { DEFAULT_TEXT_SEARCH_CONFIG, textSearchConfigs, type TextSearchConfig } from './choices';

/**
 * `text_search_config in ('simple', ...)`: the values the column may hold. The column is named
 * unqualified: Citus runs an ALTER TABLE on every shard, whose table names differ, so a check that
 * names its table (as `${t.column}` does) fails there once documents is distributed.
 */
const knownTextSearchConfig = sql.raw(
  `text_search_config in (${textSearchConfigs.map((name) => `'${name}'`).join(', ')})`,
);

/**
 * The regconfig of a document's `text_search_config`, as an immutable expression: a generated
 * column may use `to_tsvector(regconfig, text)`, but not the cast text::regconfig (stable: it
 * looks the name up). The column is text rather than regconfig because pg_upgrade refuses tables
 * with regconfig columns (their OIDs are not kept across major versions).
 */
const textSearchRegconfig = sql.raw(
  `case text_search_config ${textSearchConfigs.map((name) => `when '${name}' then '${name}'::regconfig`).join(' ')} end`,
);

export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Metadata = { [key: string]: JsonValue };

/**
 * One `documents` table holds every collection, so each collection's dimension lives in its row in
 * `collections`, not in the column type: the column is pgvector's untyped `vector`. Drizzle's
 * native `vector()` column always writes a fixed `vector(N)`, which would pin the whole table to one
 * model. Values cross the wire in the same text form the native column uses, as bound parameters;
 * reads come back as float32 values (pgvector stores float4), so a float32 input round-trips exactly.
 * Per-collection HNSW indexes are partial expression indexes over `embedding::vector(D)` (see
 * `vector-index.ts`).
 */
export const anyDimensionVector = customType<{ data: number[]; driverData: string }>({
  dataType() {
    return 'vector';
  },
  toDriver(value) {
    return JSON.stringify(value);
  },
  fromDriver(value) {
    return value
      .slice(1, -1)
      .split(',')
      .map((component) => Math.fround(Number.parseFloat(component)));
  },
});

/**
 * Keyword search indexes the first this many characters of each document's content. PostgreSQL
 * refuses a tsvector whose lexemes and positions pass 2^20 − 1 bytes ("string is too long for
 * tsvector"). The densest text measured, hyphenated compounds of 4-byte letters with every part
 * distinct (each compound is indexed whole and in parts), takes 7.7 bytes per character, so
 * 100,000 characters stay under it with room; plain words take about 1.5.
 */
export const KEYWORD_INDEXED_CHARS = 100_000;

/** PostgreSQL's full-text document type; drizzle has no native column for it. */
const tsvector = customType<{ data: string }>({
  dataType() {
    return 'tsvector';
  },
});

export const collections = pgTable(
  'collections',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    name: text('name').notNull().unique(),
    dimensions: integer('dimensions').notNull(),
    metric: text('metric', { enum: distanceMetrics }).notNull().default('cosine'),
    embeddingModel: text('embedding_model').notNull(),
    hnswM: integer('hnsw_m').notNull().default(16),
    hnswEfConstruction: integer('hnsw_ef_construction').notNull().default(64),
    /** Keyword search's text-search configuration; fixed at create (documents carry a copy). */
    textSearchConfig: text('text_search_config', { enum: textSearchConfigs })
      .notNull()
      .default(DEFAULT_TEXT_SEARCH_CONFIG),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('collections_dimensions_range', sql`${t.dimensions} between 1 and 16000`),
    check('collections_metric_known', sql`${t.metric} in ('cosine', 'l2', 'inner_product')`),
    check('collections_hnsw_m_range', sql`${t.hnswM} between 2 and 100`),
    check(
      'collections_hnsw_ef_construction_range',
      sql`${t.hnswEfConstruction} between 4 and 1000 and ${t.hnswEfConstruction} >= 2 * ${t.hnswM}`,
    ),
    check('collections_text_search_config_known', knownTextSearchConfig),
  ],
);

/**
 * The guide's `documents` table, grown: the first five columns are exactly the guide's, so a
 * database made by its SQL is adopted in place (see migrations/0002).
 */
export const documents = pgTable(
  'documents',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    content: text('content').notNull(),
    metadata: jsonb('metadata').$type<Metadata>().notNull().default({}),
    embedding: anyDimensionVector('embedding'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    collectionId: integer('collection_id')
      .notNull()
      .references(() => collections.id, { onDelete: 'cascade' }),
    tenantId: text('tenant_id').notNull().default('default'),
    externalId: text('external_id'),
    contentHash: text('content_hash')
      .notNull()
      .generatedAlwaysAs(sql`md5(content)`),
    /** Its collection's `text_search_config`, copied at write time: what `search_text` is made with. */
    textSearchConfig: text('text_search_config', { enum: textSearchConfigs })
      .notNull()
      .default(DEFAULT_TEXT_SEARCH_CONFIG),
    searchText: tsvector('search_text')
      .notNull()
      .generatedAlwaysAs(
        sql`to_tsvector(${textSearchRegconfig}, left(content, ${sql.raw(String(KEYWORD_INDEXED_CHARS))}))`,
      ),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check('documents_metadata_is_object', sql`jsonb_typeof(${t.metadata}) = 'object'`),
    check('documents_text_search_config_known', knownTextSearchConfig),
    uniqueIndex('documents_external_id_key')
      .on(t.collectionId, t.tenantId, t.externalId)
      .where(sql`${t.externalId} is not null`),
    // Content dedupe applies to documents without an external id; those with one upsert by it.
    uniqueIndex('documents_content_hash_key')
      .on(t.collectionId, t.tenantId, t.contentHash)
      .where(sql`${t.externalId} is null`),
    index('documents_collection_tenant_created_idx').on(t.collectionId, t.tenantId, t.createdAt),
    index('documents_metadata_idx').using('gin', t.metadata.op('jsonb_path_ops')),
    index('documents_search_text_idx').using('gin', t.searchText),
  ],
);

export const reembedStates = ['filling', 'switching', 'done', 'cancelled'] as const;
export type ReembedState = (typeof reembedStates)[number];

/**
 * Online re-embedding of a collection with another model (packages/api/src/reembed.ts): one row
 * per job, its progress in the database so a restarted or second server process resumes it. At
 * most one unfinished job per collection.
 */
export const reembedJobs = pgTable(
  'reembed_jobs',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    collectionId: integer('collection_id')
      .notNull()
      .references(() => collections.id, { onDelete: 'cascade' }),
    /** The model and dimensions the collection had when the job started, and will have after. */
    fromModel: text('from_model').notNull(),
    fromDimensions: integer('from_dimensions').notNull(),
    toModel: text('to_model').notNull(),
    toDimensions: integer('to_dimensions').notNull(),
    state: text('state', { enum: reembedStates }).notNull().default('filling'),
    /** Vectors the new model has produced so far, re-embeds of changed documents included. */
    embedded: integer('embedded').notNull().default(0),
    /** The last failure (provider down, say); the worker retries the batch. */
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    check(
      'reembed_jobs_state_known',
      sql`${t.state} in ('filling', 'switching', 'done', 'cancelled')`,
    ),
    uniqueIndex('reembed_jobs_one_unfinished_key')
      .on(t.collectionId)
      .where(sql`${t.state} in ('filling', 'switching')`),
  ],
);

/**
 * The shadow vectors of a re-embed job: the new model's vector of each document, with the content
 * hash it was made from (a document changed since is embedded again). No foreign key to
 * `documents`: a partitioned or distributed `documents` has no unique key on `id` alone; rows of
 * deleted documents are simply not joined at the switch, and the job's rows are deleted after it.
 */
export const reembedVectors = pgTable(
  'reembed_vectors',
  {
    jobId: integer('job_id')
      .notNull()
      .references(() => reembedJobs.id, { onDelete: 'cascade' }),
    documentId: uuid('document_id').notNull(),
    contentHash: text('content_hash').notNull(),
    embedding: anyDimensionVector('embedding').notNull(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.documentId] })],
);

export type ReembedJob = typeof reembedJobs.$inferSelect;

export type Collection = typeof collections.$inferSelect;
export type NewCollection = typeof collections.$inferInsert;
export type Document = typeof documents.$inferSelect;
export type NewDocument = typeof documents.$inferInsert;
