import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { PGlite, Transaction as PgliteTransaction } from '@electric-sql/pglite';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { Sql, TransactionSql } from 'postgres';
import {
  assertVectorFits,
  QuarryError,
  sql,
  type Collection,
  type Database,
  type SQL,
} from '@quarry/db';
import type * as schema from '@quarry/db/schema';
import { holdCollection } from './collections';
import type { EmbeddingRegistry } from './embeddings';
import { compareKeys, contentHash, type IngestItem, type IngestResult } from './ingest';
import type { Limits } from './limits';

export interface BulkIngestOptions {
  /**
   * `statement_timeout` for this load's statements, in milliseconds; 0 disables it. A load of many
   * thousands of documents needs longer than a request does. Default: `limits.statementTimeoutMs`.
   */
  statementTimeoutMs?: number;
}

/** Texts per call to the embedding provider, so one call never carries a whole load. */
const TEXTS_PER_EMBED_CALL = 1_000;
/** Rows encoded per buffer handed to COPY: about 1.6 MB at 1,536 dimensions. */
const COPY_ROWS_PER_CHUNK = 256;

const STAGING_TABLE = 'quarry_bulk_staging';
const staging = sql.identifier(STAGING_TABLE);
const DOCUMENT_COLUMNS =
  'documents (id, collection_id, tenant_id, content, metadata, external_id, embedding)';
const STAGING_COLUMNS = `${STAGING_TABLE} (ord, content, metadata, external_id, embedding)`;

/**
 * Ingests many documents at once with the semantics of `ingestDocuments`: one transaction (all or
 * nothing), upsert by external id, dedupe by content hash otherwise, the same counts, one id per
 * input in input order, and the same validation. It differs only in how rows reach the database:
 * the batch's keys are looked up in one statement; documents that are new are written straight
 * into `documents` by one binary `COPY` (ids made here), and only documents whose external id
 * already exists go through a staging table and `INSERT ... ON CONFLICT DO UPDATE`. Should the
 * COPY be refused (a concurrent writer stored one of the new keys since the lookup), it is rolled
 * back to a savepoint and the whole batch is merged through the staging table instead.
 *
 * COPY streams from memory on a server (postgres.js) and reads a Blob on embedded PGlite.
 * No per-request batch cap applies: this is the path for loads above it.
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
    if (item.embedding)
      assertVectorFits(collection, item.embedding, `documents[${index}].embedding`);
  });
  const vectors = await embedMissing(collection, items, embeddings);
  vectors.forEach((vector, index) =>
    assertVectorFits(collection, vector, `documents[${index}].embedding (computed)`),
  );
  if (items.length === 0) return { ids: [], inserted: 0, updated: 0, unchanged: 0 };

  const rows: StagedRow[] = items.map((item, index) => ({
    content: item.content,
    metadataJson: JSON.stringify(item.metadata ?? {}),
    externalId: item.externalId ?? null,
    embedding: vectors[index] ?? [],
  }));
  const statementTimeoutMs = options.statementTimeoutMs ?? limits.statementTimeoutMs;
  return inLoadTransaction(database, async (session) => {
    await session.run(
      sql`select set_config('statement_timeout', ${String(statementTimeoutMs)}, true)`,
    );
    await holdCollection((query) => session.run(query), collection);
    return loadRows(session, collection, tenant, rows);
  });
}

interface StagedRow {
  content: string;
  metadataJson: string;
  externalId: string | null;
  embedding: readonly number[];
}

/** Runs one statement in the load's transaction and returns its rows. */
type RunQuery = <Row>(query: SQL) => Promise<Row[]>;

/** The load's transaction on the driver's own connection, since drizzle's transactions hide COPY. */
interface LoadSession {
  run: RunQuery;
  /** Writes binary COPY data into `target` ("table (columns)"). */
  copy(target: string, chunks: Iterable<Buffer>): Promise<void>;
  /** Runs `work` in a savepoint: true when it succeeded, false when it failed and was rolled back. */
  attempt(work: (session: LoadSession) => Promise<void>): Promise<boolean>;
}

const dialect = new PgDialect();

function inLoadTransaction(
  database: Database,
  work: (session: LoadSession) => Promise<IngestResult>,
): Promise<IngestResult> {
  if (database.driver === 'postgres') {
    const client = (database.db as PostgresJsDatabase<typeof schema> & { $client: Sql }).$client;
    return client.begin((connection) => work(postgresSession(connection)));
  }
  const client = (database.db as PgliteDatabase<typeof schema> & { $client: PGlite }).$client;
  return client.transaction((transaction) => work(pgliteSession(transaction)));
}

function postgresSession(connection: TransactionSql): LoadSession {
  return {
    async run<Row>(query: SQL) {
      const { sql: text, params } = dialect.sqlToQuery(query);
      return connection.unsafe<Row[]>(text, params.map(asParameter));
    },
    copy: (target, chunks) =>
      copyFromStdin(connection, `copy ${target} from stdin (format binary)`, chunks),
    attempt: (work) =>
      connection
        .savepoint((savepoint) => work(postgresSession(savepoint)))
        .then(
          () => true,
          () => false,
        ),
  };
}

function pgliteSession(transaction: PgliteTransaction): LoadSession {
  const session: LoadSession = {
    async run<Row>(query: SQL) {
      const { sql: text, params } = dialect.sqlToQuery(query);
      return (await transaction.query<Row>(text, params.map(asParameter))).rows;
    },
    async copy(target, chunks) {
      // PGlite's COPY reads the Blob passed with the statement as the file /dev/blob.
      await transaction.query(`copy ${target} from '/dev/blob' (format binary)`, [], {
        blob: new Blob(Array.from(chunks, (chunk) => new Uint8Array(chunk))),
      });
    },
    async attempt(work) {
      await transaction.exec('savepoint quarry_bulk_copy');
      try {
        await work(session);
        await transaction.exec('release savepoint quarry_bulk_copy');
        return true;
      } catch {
        await transaction.exec('rollback to savepoint quarry_bulk_copy');
        return false;
      }
    },
  };
  return session;
}

/** This file's statements bind only numbers and strings (ids, tenant, settings, JSON). */
function asParameter(value: unknown): string | number | null {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  throw new Error(`unexpected ${typeof value} parameter in a bulk ingest statement`);
}

/** See `bulkIngestDocuments`. Runs inside the load's transaction. */
async function loadRows(
  session: LoadSession,
  collection: Collection,
  tenant: string,
  rows: readonly StagedRow[],
): Promise<IngestResult> {
  const ids = new Array<string>(rows.length);
  // Of several documents with the same content and no external id, the first in input order counts.
  const firstWithHash = new Map<string, number>();
  const laterDuplicates: Array<{ index: number; first: number }> = [];
  const lookedUp: number[] = [];
  const lookupKeys: Array<{
    position: number;
    externalId: string | null;
    contentHash: string | null;
  }> = [];
  rows.forEach((row, index) => {
    if (row.externalId !== null) {
      lookupKeys.push({ position: lookedUp.length, externalId: row.externalId, contentHash: null });
      lookedUp.push(index);
      return;
    }
    const hash = contentHash(row.content);
    const first = firstWithHash.get(hash);
    if (first === undefined) {
      firstWithHash.set(hash, index);
      lookupKeys.push({ position: lookedUp.length, externalId: null, contentHash: hash });
      lookedUp.push(index);
    } else {
      laterDuplicates.push({ index, first });
    }
  });

  await refreshStaleStatistics(session, collection, tenant);
  // One index lookup per key (correlated subqueries pin that plan: a planned join can degrade to
  // a nested loop of scans).
  const existing = await session.run<{ position: number | string; id: string }>(
    sql`select position, id from (
          select k.position, case when k."externalId" is not null
            then (select d.id from documents d where d.collection_id = ${collection.id}::integer and d.tenant_id = ${tenant}::text and d.external_id = k."externalId")
            else (select d.id from documents d where d.collection_id = ${collection.id}::integer and d.tenant_id = ${tenant}::text and d.external_id is null and d.content_hash = k."contentHash")
          end as id
          from jsonb_to_recordset(${JSON.stringify(lookupKeys)}::text::jsonb) as k(position integer, "externalId" text, "contentHash" text)
        ) found where id is not null`,
  );
  const existingKeyed: number[] = [];
  for (const { position, id } of existing) {
    const index = lookedUp[Number(position)];
    if (index === undefined) continue;
    ids[index] = id;
    if (rows[index]?.externalId !== null) existingKeyed.push(index);
  }
  // Copied in key order, like the merges below, so concurrent loads of the same new keys do not deadlock.
  const keyOf = new Map(
    lookupKeys.map((key) => [lookedUp[key.position], key.externalId ?? key.contentHash]),
  );
  const fresh = lookedUp
    .filter((index) => ids[index] === undefined)
    .sort((a, b) => compareKeys(keyOf.get(a), keyOf.get(b)));
  for (const index of fresh) ids[index] = randomUUID();

  const copied = await session.attempt((savepoint) =>
    savepoint.copy(
      DOCUMENT_COLUMNS,
      binaryCopy(
        fresh.map((index) => documentFields(ids[index] ?? '', collection.id, tenant, rows[index]!)),
      ),
    ),
  );
  if (!copied) {
    // Whatever refused the rows (a concurrent writer's key, or a reason the merge will report in
    // its own words), the savepoint undid it.
    await stage(session, rows);
    return mergeStaged(session.run, collection, tenant, rows.length);
  }

  let inserted = fresh.length;
  let updated = 0;
  if (existingKeyed.length > 0) {
    // Existing external ids: update the ones whose content, metadata or vector changed.
    await stage(
      session,
      existingKeyed.map((index) => rows[index]!),
    );
    const merged = await mergeStaged(session.run, collection, tenant, existingKeyed.length);
    existingKeyed.forEach((index, position) => {
      ids[index] = merged.ids[position] ?? '';
    });
    inserted += merged.inserted;
    updated += merged.updated;
  }
  for (const { index, first } of laterDuplicates) ids[index] = ids[first] ?? '';
  return { ids, inserted, updated, unchanged: rows.length - inserted - updated };
}

/** Enough rows for a wrong plan to hurt; counting up to it stays cheap. */
const STATISTICS_CHECK_ROWS = 10_000;

/**
 * While a collection grows by bulk loads faster than autovacuum analyzes the table, the planner
 * may still believe it holds a handful of rows. It then probes each key through any index on
 * (collection, tenant), such as the created_at one, filtering the whole collection per key: a
 * 10,000-document load into 30,000 took 100 s instead of 50 ms. So when the planner's estimate
 * of the collection's rows is far below a (capped) count, the key columns are analyzed first.
 */
async function refreshStaleStatistics(
  session: LoadSession,
  collection: Collection,
  tenant: string,
): Promise<void> {
  const scope = sql`documents where collection_id = ${collection.id}::integer and tenant_id = ${tenant}::text`;
  const [counted] = await session.run<{ rows: number | string }>(
    sql`select count(*) as rows from (select 1 from ${scope} limit ${STATISTICS_CHECK_ROWS}) capped`,
  );
  const rows = Number(counted?.rows ?? 0);
  if (rows < STATISTICS_CHECK_ROWS / 10) return;
  const [explained] = await session.run<Record<string, unknown>>(
    sql`explain (format json) select 1 from ${scope}`,
  );
  const estimate = plannedRows(Object.values(explained ?? {})[0]);
  if (estimate !== undefined && estimate >= rows / 10) return;
  await session.run(sql`analyze documents (collection_id, tenant_id, external_id, content_hash)`);
}

/** "Plan Rows" of the top node of `EXPLAIN (FORMAT JSON)` output, as text or parsed. */
function plannedRows(output: unknown): number | undefined {
  const parsed: unknown = typeof output === 'string' ? JSON.parse(output) : output;
  const plan: unknown = Array.isArray(parsed)
    ? (parsed[0] as { Plan?: unknown } | undefined)?.Plan
    : undefined;
  const rows =
    typeof plan === 'object' && plan !== null
      ? (plan as Record<string, unknown>)['Plan Rows']
      : undefined;
  return typeof rows === 'number' ? rows : undefined;
}

async function stage(session: LoadSession, rows: readonly StagedRow[]): Promise<void> {
  await session.run(createStagingTable);
  await session.copy(STAGING_COLUMNS, binaryCopy(rows.map((row, ord) => stagingFields(ord, row))));
}

/**
 * Streams `chunks` into a `COPY ... FROM STDIN` on the transaction's connection. postgres.js 3.4.9
 * never settles a COPY the server rejects after its last byte: the stream neither finishes nor
 * errors (porsager/postgres#1173). So each write is awaited, which lets `end()` hand CopyDone to the
 * socket at once, and a trivial statement queued behind the COPY settles the wait: it runs when the
 * COPY is over, and fails in the then aborted transaction if the COPY failed.
 */
async function copyFromStdin(
  connection: TransactionSql,
  statement: string,
  chunks: Iterable<Buffer>,
): Promise<void> {
  const stream = await connection.unsafe(statement).writable();
  // A rejection mid-stream does arrive: postgres.js destroys the stream with the server's error.
  let serverError: Error | undefined;
  stream.on('error', (error) => {
    serverError ??= error;
  });
  for (const chunk of chunks) {
    const failed = await new Promise<Error | null | undefined>((resolve) =>
      stream.write(chunk, resolve),
    );
    if (failed) {
      await new Promise(setImmediate); // the 'error' event with the server's reason follows the callbacks
      throw serverError ?? failed;
    }
  }
  const finished = once(stream, 'finish');
  stream.end();
  try {
    await connection`select 1`;
  } catch (error) {
    throw new Error(
      'the database refused the COPY stream of this bulk ingest (postgres.js does not pass on its reason: porsager/postgres#1173)',
      { cause: error },
    );
  }
  await finished;
}

const createStagingTable = sql`create temporary table ${staging} (
  id uuid not null default gen_random_uuid(), ord integer not null, content text not null, metadata jsonb not null, external_id text, embedding vector not null,
  content_hash text generated always as (md5(content)) stored
) on commit drop`;

/**
 * Moves staged rows into `documents`, with the exact conflict rules of `ingestDocuments`, then
 * reads back every input's document id in input order.
 */
async function mergeStaged(
  run: RunQuery,
  collection: Collection,
  tenant: string,
  total: number,
): Promise<IngestResult> {
  const collectionId = sql`${collection.id}::integer`;
  const tenantId = sql`${tenant}::text`;
  const [keyed] = await run<{ inserted: number | string; updated: number | string }>(
    sql`with written as (
          insert into documents (id, collection_id, tenant_id, content, metadata, external_id, embedding)
          select id, ${collectionId}, ${tenantId}, content, metadata, external_id, embedding from ${staging}
          -- Key order, not input order: concurrent loads of the same keys then lock them in one order
          -- instead of deadlocking. "C" (code point order) is ingestDocuments' order too, for keys
          -- within the Basic Multilingual Plane.
          where external_id is not null order by external_id collate "C"
          on conflict (collection_id, tenant_id, external_id) where external_id is not null do update
            set content = excluded.content, metadata = excluded.metadata, embedding = excluded.embedding, updated_at = now()
            -- An identical re-send changes nothing (and keeps updated_at).
            where (documents.content, documents.metadata, documents.embedding) is distinct from (excluded.content, excluded.metadata, excluded.embedding)
          returning id, external_id
        )
        -- An update keeps the stored row's id, so a row that comes back with its staged id was
        -- inserted (see ingestDocuments: RETURNING xmax is refused on a partitioned table).
        select count(*) filter (where w.id = s.id) as inserted, count(*) filter (where w.id <> s.id) as updated
        from written w join ${staging} s on s.external_id = w.external_id`,
  );
  // Of several documents with the same content, the first in input order is the one written.
  const [unkeyed] = await run<{ inserted: number | string }>(
    sql`with written as (
          insert into documents (collection_id, tenant_id, content, metadata, external_id, embedding)
          select ${collectionId}, ${tenantId}, content, metadata, null, embedding from (
            select distinct on (content_hash) ord, content_hash, content, metadata, embedding from ${staging}
            where external_id is null order by content_hash, ord
          ) first_of_each_content
          order by content_hash
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
  if (ids.length !== total)
    throw new Error(`bulk ingest resolved ${ids.length} document ids for ${total} inputs`);
  const inserted = Number(keyed?.inserted ?? 0) + Number(unkeyed?.inserted ?? 0);
  const updated = Number(keyed?.updated ?? 0);
  return { ids, inserted, updated, unchanged: total - inserted - updated };
}

/** One field of a binary COPY row. */
type CopyField =
  | { type: 'int4'; value: number }
  | { type: 'uuid'; value: string }
  | { type: 'text'; value: string | null }
  | { type: 'jsonb'; value: string }
  | { type: 'vector'; value: readonly number[] };

function documentFields(
  id: string,
  collectionId: number,
  tenant: string,
  row: StagedRow,
): CopyField[] {
  return [
    { type: 'uuid', value: id },
    { type: 'int4', value: collectionId },
    { type: 'text', value: tenant },
    { type: 'text', value: row.content },
    { type: 'jsonb', value: row.metadataJson },
    { type: 'text', value: row.externalId },
    { type: 'vector', value: row.embedding },
  ];
}

function stagingFields(ord: number, row: StagedRow): CopyField[] {
  return [
    { type: 'int4', value: ord },
    { type: 'text', value: row.content },
    { type: 'jsonb', value: row.metadataJson },
    { type: 'text', value: row.externalId },
    { type: 'vector', value: row.embedding },
  ];
}

/**
 * PostgreSQL's binary COPY format: a signature and two empty header fields, one tuple per row
 * (field count, then each field as a byte length and its binary value), and a -1 trailer. See
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4. Vectors go as pgvector's
 * binary form: int16 dimensions, int16 unused (0), float4 components.
 */
const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

function* binaryCopy(rows: readonly CopyField[][]): Generator<Buffer> {
  const header = Buffer.alloc(COPY_SIGNATURE.length + 8);
  COPY_SIGNATURE.copy(header);
  yield header;
  for (let start = 0; start < rows.length; start += COPY_ROWS_PER_CHUNK) {
    const chunk = rows.slice(start, start + COPY_ROWS_PER_CHUNK);
    // Strings become bytes first: their encoded length is the field's length.
    const encoded = chunk.map((fields) =>
      fields.map((field) =>
        (field.type === 'text' || field.type === 'jsonb') && field.value !== null
          ? Buffer.from(field.value, 'utf8')
          : null,
      ),
    );
    let size = 0;
    chunk.forEach((fields, position) => {
      size += 2;
      fields.forEach((field, column) => {
        size += 4 + Math.max(fieldLength(field, encoded[position]?.[column] ?? null), 0);
      });
    });
    const buffer = Buffer.allocUnsafe(size);
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let offset = 0;
    chunk.forEach((fields, position) => {
      view.setInt16(offset, fields.length);
      offset += 2;
      fields.forEach((field, column) => {
        const bytes = encoded[position]?.[column] ?? null;
        const length = fieldLength(field, bytes);
        view.setInt32(offset, length);
        offset += 4;
        switch (field.type) {
          case 'int4':
            view.setInt32(offset, field.value);
            break;
          case 'uuid':
            buffer.write(field.value.replaceAll('-', ''), offset, 16, 'hex');
            break;
          case 'text':
            bytes?.copy(buffer, offset);
            break;
          case 'jsonb':
            buffer[offset] = 1; // jsonb's binary form: a version byte, then the JSON text
            bytes?.copy(buffer, offset + 1);
            break;
          case 'vector':
            view.setInt16(offset, field.value.length);
            view.setInt16(offset + 2, 0);
            for (let i = 0; i < field.value.length; i++)
              view.setFloat32(offset + 4 + 4 * i, field.value[i] ?? 0);
            break;
        }
        offset += Math.max(length, 0);
      });
    });
    yield buffer;
  }
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1);
  yield trailer;
}

/** A field's byte length in the COPY data; -1 is NULL. */
function fieldLength(field: CopyField, bytes: Buffer | null): number {
  switch (field.type) {
    case 'int4':
      return 4;
    case 'uuid':
      return 16;
    case 'text':
      return field.value === null ? -1 : (bytes?.length ?? 0);
    case 'jsonb':
      return 1 + (bytes?.length ?? 0);
    case 'vector':
      return 4 + 4 * field.value.length;
  }
}

function assertUniqueExternalIds(items: readonly IngestItem[]): void {
  const seen = new Map<string, number>();
  items.forEach((item, index) => {
    if (item.externalId === undefined) return;
    const first = seen.get(item.externalId);
    if (first !== undefined) {
      throw new QuarryError(
        'INVALID_INPUT',
        `documents[${first}] and documents[${index}] share externalId '${item.externalId}'; an external id may appear once per batch`,
      );
    }
    seen.set(item.externalId, index);
  });
}

/** This path skips the router's input schema, so it checks what PostgreSQL text and jsonb cannot hold. */
function assertStorableText(item: IngestItem, index: number): void {
  if (item.content.includes('\u0000') || item.externalId?.includes('\u0000')) {
    throw new QuarryError(
      'INVALID_INPUT',
      `documents[${index}] contains the NUL character (U+0000), which PostgreSQL text cannot hold`,
    );
  }
  if (item.metadata !== undefined && JSON.stringify(item.metadata).includes('\\u0000')) {
    throw new QuarryError(
      'INVALID_INPUT',
      `documents[${index}].metadata contains the NUL character (U+0000), which PostgreSQL jsonb cannot hold`,
    );
  }
}

/** Embeds the documents that came without a vector, with the collection's own model, a slice at a time. */
async function embedMissing(
  collection: Collection,
  items: readonly IngestItem[],
  embeddings: EmbeddingRegistry,
): Promise<number[][]> {
  const missing = items.flatMap((item, index) => (item.embedding ? [] : [index]));
  const vectors = items.map((item) => item.embedding ?? []);
  if (missing.length === 0) return vectors;
  const provider = embeddings.get(collection.embeddingModel);
  if (!provider) {
    throw new QuarryError(
      'EMBEDDING_PROVIDER_MISMATCH',
      `collection '${collection.name}' uses model '${collection.embeddingModel}', which this server cannot run; send an embedding with each document`,
    );
  }
  if (provider.dimensions !== collection.dimensions) {
    throw new QuarryError(
      'EMBEDDING_PROVIDER_MISMATCH',
      `model '${provider.model}' produces ${provider.dimensions} dimensions, but collection '${collection.name}' expects ${collection.dimensions}`,
    );
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
