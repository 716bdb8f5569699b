import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql, TransactionSql } from 'postgres';
import { assertVectorFits, QuarryError, queryRows, sql, type Collection, type Database, type SQL } from '@quarry/db';
import type * as schema from '@quarry/db/schema';
import type { EmbeddingRegistry } from './embeddings';
import type { IngestItem, IngestResult } from './ingest';
import type { Limits } from './limits';
import { inTransaction } from './transaction';

export interface BulkIngestOptions {
  /**
   * `statement_timeout` for this load's statements, in milliseconds; 0 disables it. A load of many
   * thousands of documents needs longer than a request does. Default: `limits.statementTimeoutMs`.
   */
  statementTimeoutMs?: number;
}

/** Texts per call to the embedding provider, so one call never carries a whole load. */
const TEXTS_PER_EMBED_CALL = 1_000;
/** Rows per INSERT into the staging table where COPY is not available (PGlite). */
const STAGING_ROWS_PER_STATEMENT = 500;
/** Rows encoded per buffer handed to COPY: about 1.6 MB at 1,536 dimensions. */
const COPY_ROWS_PER_CHUNK = 256;

const STAGING_TABLE = 'quarry_bulk_staging';
const staging = sql.identifier(STAGING_TABLE);

/**
 * Ingests many documents at once with the semantics of `ingestDocuments`: one transaction (all or
 * nothing), upsert by external id, dedupe by content hash otherwise, the same counts, one id per
 * input in input order, and the same validation. It differs only in how rows reach the database:
 * they are streamed into a temporary staging table (binary `COPY ... FROM STDIN` on a server,
 * multi-row INSERTs on embedded PGlite) and merged into `documents` by two `INSERT ... SELECT`
 * statements. No per-request batch cap applies: this is the path for loads above it.
 */
export async function bulkIngestDocuments(
  database: Database,
  limits: Pick<Limits, 'statementTimeoutMs'>,
  embeddings: EmbeddingRegistry,
  collection: Collection,
  tenant: string,
  items: readonly IngestItem[],
  options: BulkIngestOptions = {},
): Promise<IngestResult> {
  assertUniqueExternalIds(items);
  items.forEach((item, index) => {
    assertStorableText(item, index);
    if (item.embedding) assertVectorFits(collection, item.embedding, `documents[${index}].embedding`);
  });
  const vectors = await embedMissing(collection, items, embeddings);
  vectors.forEach((vector, index) => assertVectorFits(collection, vector, `documents[${index}].embedding (computed)`));
  if (items.length === 0) return { ids: [], inserted: 0, updated: 0, unchanged: 0 };

  const rows: StagedRow[] = items.map((item, index) => ({
    content: item.content,
    metadataJson: JSON.stringify(item.metadata ?? {}),
    externalId: item.externalId ?? null,
    embedding: vectors[index] ?? [],
  }));
  const statementTimeoutMs = options.statementTimeoutMs ?? limits.statementTimeoutMs;

  if (database.driver === 'postgres') {
    const client = (database.db as PostgresJsDatabase<typeof schema> & { $client: Sql }).$client;
    // postgres.js's own transaction, since COPY needs the raw connection; drizzle's would hide it.
    return client.begin(async (connection) => {
      const run = runOnConnection(connection);
      await run(sql`select set_config('statement_timeout', ${String(statementTimeoutMs)}, true)`);
      await run(createStagingTable);
      // The statement is constant text; every value travels in the COPY data.
      const copy = await connection.unsafe(`copy ${STAGING_TABLE} (ord, content, metadata, external_id, embedding) from stdin (format binary)`).writable();
      await pipeline(Readable.from(binaryCopyChunks(rows)), copy);
      return mergeStaged(run, collection, tenant, items.length);
    });
  }
  return inTransaction(database.db, { statementTimeoutMs }, async (tx) => {
    const run: RunQuery = (query) => queryRows(tx, query);
    await run(createStagingTable);
    for (let start = 0; start < rows.length; start += STAGING_ROWS_PER_STATEMENT) {
      const values = rows.slice(start, start + STAGING_ROWS_PER_STATEMENT).map(
        (row, offset) =>
          sql`(${start + offset}::integer, ${row.content}::text, ${row.metadataJson}::jsonb, ${row.externalId}::text, ${JSON.stringify(row.embedding)}::vector)`,
      );
      await run(sql`insert into ${staging} (ord, content, metadata, external_id, embedding) values ${sql.join(values, sql`, `)}`);
    }
    return mergeStaged(run, collection, tenant, items.length);
  });
}

/** Runs one statement in the load's transaction and returns its rows, whichever driver. */
type RunQuery = <Row>(query: SQL) => Promise<Row[]>;

const dialect = new PgDialect();

function runOnConnection(connection: TransactionSql): RunQuery {
  return async <Row>(query: SQL) => {
    const { sql: text, params } = dialect.sqlToQuery(query);
    return connection.unsafe<Row[]>(text, params.map(asParameter));
  };
}

/** This file's statements bind only numbers and strings (ids, tenant, settings). */
function asParameter(value: unknown): string | number | null {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  throw new Error(`unexpected ${typeof value} parameter in a bulk ingest statement`);
}

interface StagedRow {
  content: string;
  metadataJson: string;
  externalId: string | null;
  embedding: readonly number[];
}

const createStagingTable = sql`create temporary table ${staging} (
  ord integer not null, content text not null, metadata jsonb not null, external_id text, embedding vector not null,
  content_hash text generated always as (md5(content)) stored
) on commit drop`;

/**
 * Moves staged rows into `documents`, with the exact conflict rules of `ingestDocuments`, then
 * reads back every input's document id in input order.
 */
async function mergeStaged(run: RunQuery, collection: Collection, tenant: string, total: number): Promise<IngestResult> {
  const collectionId = sql`${collection.id}::integer`;
  const tenantId = sql`${tenant}::text`;
  const [keyed] = await run<{ inserted: number | string; updated: number | string }>(
    sql`with written as (
          insert into documents (collection_id, tenant_id, content, metadata, external_id, embedding)
          select ${collectionId}, ${tenantId}, content, metadata, external_id, embedding from ${staging}
          where external_id is not null order by ord
          on conflict (collection_id, tenant_id, external_id) where external_id is not null do update
            set content = excluded.content, metadata = excluded.metadata, embedding = excluded.embedding, updated_at = now()
            -- An identical re-send changes nothing (and keeps updated_at).
            where (documents.content, documents.metadata, documents.embedding) is distinct from (excluded.content, excluded.metadata, excluded.embedding)
          -- xmax is 0 for a freshly inserted row version and the updater's xid for an updated one.
          returning (xmax = 0) as inserted
        )
        select count(*) filter (where inserted) as inserted, count(*) filter (where not inserted) as updated from written`,
  );
  // Of several documents with the same content, the first in input order is the one written.
  const [unkeyed] = await run<{ inserted: number | string }>(
    sql`with written as (
          insert into documents (collection_id, tenant_id, content, metadata, external_id, embedding)
          select ${collectionId}, ${tenantId}, content, metadata, null, embedding from (
            select distinct on (content_hash) ord, content, metadata, embedding from ${staging}
            where external_id is null order by content_hash, ord
          ) first_of_each_content
          order by ord
          on conflict (collection_id, tenant_id, content_hash) where external_id is null do nothing
          returning 1
        )
        select count(*) as inserted from written`,
  );
  // One index lookup per input (correlated subqueries pin that plan: right after a big load the
  // table's statistics are stale and a planned join can degrade to a nested loop of scans).
  const found = await run<{ id: string | null }>(
    sql`select case when s.external_id is not null
          then (select d.id from documents d where d.collection_id = ${collectionId} and d.tenant_id = ${tenantId} and d.external_id = s.external_id)
          else (select d.id from documents d where d.collection_id = ${collectionId} and d.tenant_id = ${tenantId} and d.external_id is null and d.content_hash = s.content_hash)
        end as id
        from ${staging} s order by s.ord`,
  );
  const ids = found.flatMap((row) => (row.id === null ? [] : [row.id]));
  if (ids.length !== total) throw new Error(`bulk ingest resolved ${ids.length} document ids for ${total} inputs`);
  const inserted = Number(keyed?.inserted ?? 0) + Number(unkeyed?.inserted ?? 0);
  const updated = Number(keyed?.updated ?? 0);
  return { ids, inserted, updated, unchanged: total - inserted - updated };
}

/**
 * PostgreSQL's binary COPY format: a signature and two empty header fields, one tuple per row
 * (field count, then each field as a byte length and its binary value), and a -1 trailer. See
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4.
 */
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const COPY_FIELDS = 5;

function* binaryCopyChunks(rows: readonly StagedRow[]): Generator<Buffer> {
  const header = Buffer.alloc(COPY_SIGNATURE.length + 8);
  COPY_SIGNATURE.copy(header);
  yield header;
  for (let start = 0; start < rows.length; start += COPY_ROWS_PER_CHUNK) {
    const chunk = rows.slice(start, start + COPY_ROWS_PER_CHUNK);
    const encoded = chunk.map((row) => ({
      content: Buffer.from(row.content, 'utf8'),
      metadata: Buffer.from(row.metadataJson, 'utf8'),
      externalId: row.externalId === null ? null : Buffer.from(row.externalId, 'utf8'),
      dimensions: row.embedding.length,
    }));
    const size = encoded.reduce(
      (total, row) =>
        total + 2 + COPY_FIELDS * 4 + 4 + row.content.length + 1 + row.metadata.length + (row.externalId?.length ?? 0) + 4 + 4 * row.dimensions,
      0,
    );
    const buffer = Buffer.allocUnsafe(size);
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let offset = 0;
    chunk.forEach((row, position) => {
      const bytes = encoded[position]!;
      view.setInt16(offset, COPY_FIELDS);
      offset += 2;
      // ord: int4
      view.setInt32(offset, 4);
      view.setInt32(offset + 4, start + position);
      offset += 8;
      // content: text is its UTF-8 bytes
      view.setInt32(offset, bytes.content.length);
      offset += 4 + bytes.content.copy(buffer, offset + 4);
      // metadata: jsonb is a version byte (1) and the JSON text
      view.setInt32(offset, bytes.metadata.length + 1);
      buffer[offset + 4] = 1;
      offset += 5 + bytes.metadata.copy(buffer, offset + 5);
      // external_id: text or NULL (length -1)
      if (bytes.externalId === null) {
        view.setInt32(offset, -1);
        offset += 4;
      } else {
        view.setInt32(offset, bytes.externalId.length);
        offset += 4 + bytes.externalId.copy(buffer, offset + 4);
      }
      // embedding: pgvector's binary form, int16 dimensions, int16 unused (0), float4 components
      view.setInt32(offset, 4 + 4 * bytes.dimensions);
      view.setInt16(offset + 4, bytes.dimensions);
      view.setInt16(offset + 6, 0);
      offset += 8;
      for (const component of row.embedding) {
        view.setFloat32(offset, component);
        offset += 4;
      }
    });
    yield buffer;
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  yield trailer;
}

function assertUniqueExternalIds(items: readonly IngestItem[]): void {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    if (item.externalId === undefined) return;
    const first = seen.get(item.externalId);
    if (first !== undefined) {
      throw new QuarryError('INVALID_INPUT', `documents[${first}] and documents[${index}] share externalId '${item.externalId}'; an external id may appear once per batch`);
    }
    seen.set(item.externalId, index);
  });
}

/** This path skips the router's input schema, so it checks what PostgreSQL text and jsonb cannot hold. */
function assertStorableText(item: IngestItem, index: number): void {
  if (item.content.includes('\u0000') || item.externalId?.includes('\u0000')) {
    throw new QuarryError('INVALID_INPUT', `documents[${index}] contains the NUL character (U+0000), which PostgreSQL text cannot hold`);
  }
  if (item.metadata !== undefined && JSON.stringify(item.metadata).includes('\\u0000')) {
    throw new QuarryError('INVALID_INPUT', `documents[${index}].metadata contains the NUL character (U+0000), which PostgreSQL jsonb cannot hold`);
  }
}

/** Embeds the documents that came without a vector, with the collection's own model, a slice at a time. */
async function embedMissing(collection: Collection, items: readonly IngestItem[], embeddings: EmbeddingRegistry): Promise<number[][]> {
  const missing = items.flatMap((item, index) => (item.embedding ? [] : [index]));
  const vectors = items.map((item) => item.embedding ?? []);
  if (missing.length === 0) return vectors;
  const provider = embeddings.get(collection.embeddingModel);
  if (!provider) {
    throw new QuarryError('EMBEDDING_PROVIDER_MISMATCH', `collection '${collection.name}' uses model '${collection.embeddingModel}', which this server cannot run; send an embedding with each document`);
  }
  if (provider.dimensions !== collection.dimensions) {
    throw new QuarryError('EMBEDDING_PROVIDER_MISMATCH', `model '${provider.model}' produces ${provider.dimensions} dimensions, but collection '${collection.name}' expects ${collection.dimensions}`);
  }
  for (let start = 0; start < missing.length; start += TEXTS_PER_EMBED_CALL) {
    const slice = missing.slice(start, start + TEXTS_PER_EMBED_CALL);
    const computed = await provider.embed(slice.map((index) => items[index]?.content ?? ''));
    slice.forEach((index, position) => {
      vectors[index] = computed[position] ?? [];
    });
  }
  return vectors;
}
