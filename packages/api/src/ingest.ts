import { randomUUID } from 'node:crypto';
import {
  assertVectorFits,
  collections,
  documents,
  dropVectorIndexes,
  ensureVectorIndex,
  eq,
  isTransientConflict,
  QuarryError,
  queryRows,
  sql,
  vectorIndexStatus,
  withCollectionChangeLock,
  type Collection,
  type CopyTarget,
  type CopyValue,
  type Database,
  type Metadata,
  type VectorInput,
  type WriteSession,
} from '@quarry/db';
import { embeddingProviderFor, holdCollection } from './collections';
import { contentHash } from './content-hash';
import type { EmbeddingRegistry } from './embeddings';
import type { Limits } from './limits';
import { TRANSACTION_ATTEMPTS } from './transaction';

export interface IngestItem {
  content: string;
  metadata?: Metadata;
  externalId?: string;
  embedding?: number[];
}

/** An item as the pipeline takes it: its vector may also be float32 components (a stream's decoded base64). */
export type PipelineItem = Omit<IngestItem, 'embedding'> & { embedding?: VectorInput };

/** What happened to the collection's HNSW index during a load. */
export interface IndexReport {
  /**
   * `maintained`: the index stayed and each row was inserted into its graph; `deferred-rebuilt`:
   * the index was dropped for the load and built once at its end (an empty or small collection);
   * `none`: the collection has no HNSW index (it was dropped by hand), and none is made.
   */
  action: 'maintained' | 'deferred-rebuilt' | 'none';
  /** Milliseconds spent building the index after the load (0 when maintained). */
  ms: number;
}

export interface IngestResult {
  /** One id per input document, in input order. */
  ids: string[];
  inserted: number;
  updated: number;
  unchanged: number;
  /** How the rows were written: `rows` (multi-row INSERT) or `copy` (binary COPY). */
  strategy: IngestStrategy;
  index: IndexReport;
}

export type IngestStrategy = 'rows' | 'copy';

export interface IngestOptions {
  /** Aborts the ingest: embedding calls are cancelled, and nothing is written once it fires. */
  signal?: AbortSignal;
  /** `auto` (default): `rows` below COPY_FROM_ITEMS items, `copy` from there. */
  strategy?: 'auto' | IngestStrategy;
  /**
   * `auto` (default): defer the HNSW index (see withDeferredIndex) when the call carries enough
   * documents. `false` when the caller wraps a longer load in withDeferredIndex itself.
   */
  deferIndex?: 'auto' | boolean;
  /** `statement_timeout` in ms for this call's statements; 0 disables it. Default: the limits'. */
  statementTimeoutMs?: number;
  /** Refuse batches over `maxBatchDocuments`/`maxPayloadBytes` (default true; a stream's chunks or the bench pass false). */
  enforceBatchLimits?: boolean;
  /**
   * The caller expects none of the batch's keys to be stored (a stream into a collection that held
   * none of its tenant's documents when the load began): the `copy` strategy then COPYs every
   * document straight into the table without looking its key up first. A key stored after all (a
   * concurrent writer's, or an earlier batch's) makes the COPY fail on the unique index; it is
   * rolled back to a savepoint, the batch goes through the lookup and merge, and `onKeysStored` is
   * called so the caller stops expecting this.
   */
  expectNewKeys?: boolean;
  onKeysStored?: () => void;
  /**
   * A write of the same load that must commit first (a stream's previous chunk): this one writes
   * its rows only once that one's are written, so neither waits for the other's keys, and commits
   * only after it; should that one fail, this one is rolled back. A stream's next chunk is thereby
   * written while the previous one commits.
   */
  after?: EarlierWrite;
  /** Called when this write's rows are written and only its COMMIT is left. */
  onCommitting?: () => void;
}

/** A write another one commits after (see IngestOptions.after). */
export interface EarlierWrite {
  /** Settles when its rows are written and only its COMMIT is left, or when it has ended. */
  committing: Promise<void>;
  done: Promise<unknown>;
}

/**
 * From this many documents a call writes by binary COPY. Measured (5,000 x 1,536, batches of
 * 1,000): multi-row INSERTs parse every vector from text and write each row twice (staging, then
 * the merge), about 9x slower than COPY; only a handful of documents is cheaper as statements.
 */
export const COPY_FROM_ITEMS = 32;
/** A load of fewer documents never defers the index: rebuilding would cost more than it saves. */
export const DEFER_INDEX_FROM_ROWS = 1_000;
/** Rows per multi-row INSERT: 5 parameters each keeps far below PostgreSQL's 65,535. */
const ROWS_PER_STATEMENT = 500;
/** Texts per call to the embedding provider, so one call never carries a whole load. */
const TEXTS_PER_EMBED_CALL = 1_000;

/** A document as `documents.stored` asks about it: its content by the digest the server keeps. */
export interface StoredQueryItem {
  contentHash: string;
  metadata?: Metadata;
  externalId?: string;
  embedding?: number[];
}

export function assertIngestSize(
  items: ReadonlyArray<Omit<PipelineItem, 'content'> & { content?: string }>,
  limits: Pick<Limits, 'maxBatchDocuments' | 'maxPayloadBytes'>,
): void {
  if (items.length > limits.maxBatchDocuments) {
    throw new QuarryError(
      'BATCH_TOO_LARGE',
      `a batch holds at most ${limits.maxBatchDocuments} documents, got ${items.length}; split it into smaller batches`,
    );
  }
  let bytes = 0;
  for (const item of items) {
    bytes +=
      Buffer.byteLength(item.content ?? '') +
      Buffer.byteLength(JSON.stringify(item.metadata ?? {})) +
      (item.embedding?.length ?? 0) * 8 +
      (item.externalId?.length ?? 0);
  }
  if (bytes > limits.maxPayloadBytes) {
    throw new QuarryError(
      'PAYLOAD_TOO_LARGE',
      `the batch is about ${bytes} bytes, over the ${limits.maxPayloadBytes}-byte limit; split it into smaller batches`,
    );
  }
}

function assertUniqueExternalIds(items: ReadonlyArray<{ externalId?: string }>): void {
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

/**
 * Vectors a stream's `parse` already checked against the collection (see checkVectorOnce): the
 * write does not check them a second time.
 */
const checkedVectors = new WeakMap<VectorInput, Collection>();

/**
 * assertVectorFits, then the vector as float32 components (half the memory of numbers, and what a
 * COPY writes as it is), remembered as checked for `collection`, so ingestDocuments does not check
 * it again.
 */
export function checkVectorOnce(
  collection: Collection,
  vector: VectorInput,
  label: string,
): Float32Array {
  assertVectorFits(collection, vector, label);
  const components = vector instanceof Float32Array ? vector : Float32Array.from(vector);
  checkedVectors.set(components, collection);
  return components;
}

/**
 * Callers other than the router (streams, the bench) skip its schema: what text and jsonb cannot
 * hold is checked here, metadata in the JSON text that is written.
 */
function assertStorableText(item: PipelineItem, metadataJson: string, index: number): void {
  if (item.content.includes('\u0000') || item.externalId?.includes('\u0000')) {
    throw new QuarryError(
      'INVALID_INPUT',
      `documents[${index}] contains the NUL character (U+0000), which PostgreSQL text cannot hold`,
    );
  }
  if (item.metadata !== undefined && metadataJson.includes('\\u0000')) {
    throw new QuarryError(
      'INVALID_INPUT',
      `documents[${index}].metadata contains the NUL character (U+0000), which PostgreSQL jsonb cannot hold`,
    );
  }
}

/**
 * Embeds the documents that came without a vector, with the collection's own model, a slice at a
 * time, and checks the computed vectors against the collection.
 */
async function embedMissing(
  collection: Collection,
  items: readonly PipelineItem[],
  embeddings: EmbeddingRegistry,
  signal: AbortSignal | undefined,
): Promise<VectorInput[]> {
  const missing = items.flatMap((item, index) => (item.embedding ? [] : [index]));
  const vectors: VectorInput[] = items.map((item) => item.embedding ?? []);
  if (missing.length === 0) return vectors;
  const provider = embeddingProviderFor(
    embeddings,
    collection,
    'send an embedding with each document',
  );
  for (let start = 0; start < missing.length; start += TEXTS_PER_EMBED_CALL) {
    const slice = missing.slice(start, start + TEXTS_PER_EMBED_CALL);
    const computed = await provider.embed(
      slice.map((index) => items[index]?.content ?? ''),
      signal ? { signal } : {},
    );
    slice.forEach((index, position) => {
      const vector = computed[position] ?? [];
      assertVectorFits(collection, vector, `documents[${index}].embedding (computed)`);
      vectors[index] = vector;
    });
  }
  return vectors;
}

/** A row as the write path takes it: metadata already as its JSON text. */
interface Row {
  content: string;
  metadataJson: string;
  externalId: string | null;
  embedding: VectorInput;
  /** md5 of the content, the key of a document without an external id ('' for the others). */
  hash: string;
}

/**
 * Documents without an external id are one document per content, so two of them in one batch with
 * the same content but other metadata or another vector would leave one of the two unstored.
 */
function assertConsistentDuplicates(rows: readonly Row[]): void {
  const firstWithHash = new Map<string, number>();
  rows.forEach((row, index) => {
    if (row.externalId !== null) return;
    const first = firstWithHash.get(row.hash);
    if (first === undefined) {
      firstWithHash.set(row.hash, index);
      return;
    }
    const earlier = rows[first];
    if (
      earlier &&
      (earlier.metadataJson !== row.metadataJson || !sameVector(earlier.embedding, row.embedding))
    ) {
      throw new QuarryError(
        'INVALID_INPUT',
        `documents[${first}] and documents[${index}] have the same content and no externalId, but different metadata or embeddings; a document without an external id is one per content: send one of them, or give each an externalId`,
      );
    }
  });
}

function sameVector(a: VectorInput, b: VectorInput): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (Math.fround(a[i] ?? NaN) !== Math.fround(b[i] ?? NaN)) return false;
  }
  return true;
}

/**
 * The one ingest pipeline (documents.ingest, the streaming endpoint, the CLI, the demo fill and the
 * bench): validates, embeds what comes without a vector, and writes the batch as one transaction,
 * all documents or none. Documents with an external id are upserted on (collection, tenant,
 * external id); the others are one document per content (hash), whose metadata and vector a
 * re-send replaces. A changed content, metadata or vector is an update; an identical re-send is
 * `unchanged` and keeps `updated_at`.
 *
 * Small batches are written by multi-row INSERTs into a staging table, large ones by binary COPY
 * (new documents straight into `documents`); both end in the same merge statements. A large load
 * into an empty or small collection builds the HNSW index once at its end (withDeferredIndex).
 */
export async function ingestDocuments(
  database: Database,
  limits: Limits,
  embeddings: EmbeddingRegistry,
  collection: Collection,
  tenant: string,
  items: readonly PipelineItem[],
  options: IngestOptions = {},
): Promise<IngestResult> {
  if (options.enforceBatchLimits ?? true) assertIngestSize(items, limits);
  assertUniqueExternalIds(items);
  const metadataJson = items.map((item, index) => {
    const json = JSON.stringify(item.metadata ?? {});
    assertStorableText(item, json, index);
    if (item.embedding && checkedVectors.get(item.embedding) !== collection)
      assertVectorFits(collection, item.embedding, `documents[${index}].embedding`);
    return json;
  });
  const vectors = await embedMissing(collection, items, embeddings, options.signal);
  const rows: Row[] = items.map((item, index) => ({
    content: item.content,
    metadataJson: metadataJson[index] ?? '{}',
    externalId: item.externalId ?? null,
    embedding: vectors[index] ?? [],
    // Only a document without an external id is keyed by its content.
    hash: item.externalId === undefined ? contentHash(item.content) : '',
  }));
  assertConsistentDuplicates(rows);
  const strategy: IngestStrategy =
    options.strategy === 'rows' || options.strategy === 'copy'
      ? options.strategy
      : items.length >= COPY_FROM_ITEMS
        ? 'copy'
        : 'rows';
  const statementTimeoutMs = options.statementTimeoutMs ?? limits.statementTimeoutMs;
  const write = () =>
    writeRows(database, collection, tenant, rows, strategy, statementTimeoutMs, options);
  const defer =
    options.deferIndex === true ||
    ((options.deferIndex ?? 'auto') === 'auto' && rows.length >= DEFER_INDEX_FROM_ROWS);
  if (rows.length === 0)
    return { ...emptyCounts(), strategy, index: { action: 'maintained', ms: 0 } };
  if (!defer) return { ...(await write()), strategy, index: { action: 'maintained', ms: 0 } };
  const { value, index } = await withDeferredIndex(database, collection, rows.length, write);
  return { ...value, strategy, index };
}

type Counts = Pick<IngestResult, 'ids' | 'inserted' | 'updated' | 'unchanged'>;

const emptyCounts = (): Counts => ({ ids: [], inserted: 0, updated: 0, unchanged: 0 });

/**
 * Runs `work`, a load of about `plannedRows` documents into `collection`, without the collection's
 * HNSW index when the collection holds no more documents than the load brings (an empty or small
 * one): the index is dropped first and built once when `work` ends, whether it succeeded or not
 * (with the build memory of `indexBuildMemory`), instead of one graph insert per row. Otherwise the
 * index stays. Searches during a deferred load scan the collection exactly. Both steps are
 * collection changes (withCollectionChangeLock), so they never race an index rebuild or a delete;
 * a collection deleted meanwhile gets no index. Should the process die mid-load, the index is
 * rebuilt by the reconcile at the next start (`migrate()`).
 */
export async function withDeferredIndex<T>(
  database: Database,
  collection: Pick<Collection, 'id'>,
  plannedRows: number | undefined,
  work: () => Promise<T>,
  hooks: {
    onIndexBuild?: () => void;
    /**
     * The process is stopping: when this has fired by the end of the load, the index is not
     * built now (that could outlast the shutdown) but by the reconcile at the next start.
     */
    stopping?: AbortSignal;
  } = {},
): Promise<{ value: T; index: IndexReport }> {
  const deferred =
    plannedRows !== undefined &&
    plannedRows >= DEFER_INDEX_FROM_ROWS &&
    (await withCollectionChangeLock(database, async () => {
      const [counted] = await queryRows<{ rows: number | string }>(
        database.db,
        sql`select count(*) as rows from (select 1 from documents where collection_id = ${collection.id}::integer limit ${plannedRows + 1}) capped`,
      );
      if (Number(counted?.rows ?? 0) > plannedRows) return 'maintained';
      // A collection without an index keeps having none: rebuilding would add one.
      if ((await vectorIndexStatus(database.db, collection.id)).length === 0) return 'none';
      await dropVectorIndexes(database, collection.id);
      return 'deferred';
    }));
  if (deferred !== 'deferred')
    return { value: await work(), index: { action: deferred || 'maintained', ms: 0 } };
  let ms = 0;
  const rebuild = () =>
    withCollectionChangeLock(database, async () => {
      // Read again: the parameters may have changed, or the collection been deleted, meanwhile.
      const [current] = await database.db
        .select()
        .from(collections)
        .where(eq(collections.id, collection.id));
      if (!current || hooks.stopping?.aborted) return;
      hooks.onIndexBuild?.();
      const started = performance.now();
      await ensureVectorIndex(database, current);
      ms = Math.round(performance.now() - started);
    });
  let value: T;
  try {
    value = await work();
  } catch (error) {
    await rebuild().catch(() => undefined); // the load's error is the one to report
    throw error;
  }
  await rebuild();
  return { value, index: { action: 'deferred-rebuilt', ms } };
}

/** One transaction, run again on a deadlock or serialization failure like inTransaction. */
async function writeRows(
  database: Database,
  collection: Collection,
  tenant: string,
  rows: readonly Row[],
  strategy: IngestStrategy,
  statementTimeoutMs: number,
  options: Pick<
    IngestOptions,
    'signal' | 'expectNewKeys' | 'onKeysStored' | 'after' | 'onCommitting'
  >,
): Promise<Counts> {
  const { signal, after } = options;
  if (after) await after.committing;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await database.writeSession(async (session) => {
        // One round trip for both: a stream pays each one per chunk.
        await holdCollection((query) => session.run(query), collection, {
          statementTimeoutMs,
        });
        const counts =
          strategy === 'copy'
            ? await copyRows(session, collection, tenant, rows, options)
            : await stageAndMerge(session, collection, tenant, rows, insertStaged);
        // Aborted while writing: the transaction is rolled back, nothing is stored.
        signal?.throwIfAborted();
        if (after) {
          await after.done.catch(() => {
            throw new Error('an earlier write of this load failed; this one was rolled back');
          });
        }
        options.onCommitting?.();
        return counts;
      });
    } catch (error) {
      if (attempt >= TRANSACTION_ATTEMPTS || !isTransientConflict(error)) throw error;
      await new Promise((resolve) =>
        setTimeout(resolve, 5 * attempt + Math.random() * 20 * attempt),
      );
    }
  }
}

const STAGING_TABLE = 'quarry_ingest_staging';
const staging = sql.identifier(STAGING_TABLE);

const createStagingTable = sql`create temporary table ${staging} (
  id uuid not null default gen_random_uuid(), ord integer not null, content text not null, metadata jsonb not null, external_id text, embedding vector not null,
  content_hash text generated always as (md5(content)) stored
) on commit drop`;

const stagingTarget: CopyTarget = {
  table: STAGING_TABLE,
  columns: [
    { name: 'ord', type: 'int4' },
    { name: 'content', type: 'text' },
    { name: 'metadata', type: 'jsonb' },
    { name: 'external_id', type: 'text' },
    { name: 'embedding', type: 'vector' },
  ],
};

const documentsTarget: CopyTarget = {
  table: 'documents',
  columns: [
    { name: 'id', type: 'uuid' },
    { name: 'collection_id', type: 'int4' },
    { name: 'tenant_id', type: 'text' },
    { name: 'content', type: 'text' },
    { name: 'metadata', type: 'jsonb' },
    { name: 'external_id', type: 'text' },
    { name: 'embedding', type: 'vector' },
    { name: 'text_search_config', type: 'text' },
  ],
};

type FillStaging = (session: WriteSession, rows: readonly Row[]) => Promise<void>;

/** The `rows` strategy's staging: multi-row INSERTs with bound parameters. */
const insertStaged: FillStaging = async (session, rows) => {
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const values = rows
      .slice(start, start + ROWS_PER_STATEMENT)
      .map(
        (row, offset) =>
          sql`(${start + offset}::integer, ${row.content}::text, ${row.metadataJson}::jsonb, ${row.externalId}::text, ${JSON.stringify(Array.from(row.embedding))}::vector)`,
      );
    await session.run(
      sql`insert into ${staging} (ord, content, metadata, external_id, embedding) values ${sql.join(values, sql`, `)}`,
    );
  }
};

/** The `copy` strategy's staging: one binary COPY. */
const copyStaged: FillStaging = (session, rows) =>
  session.copy(
    stagingTarget,
    rows.map((row, ord) => [ord, row.content, row.metadataJson, row.externalId, row.embedding]),
  );

async function stageAndMerge(
  session: WriteSession,
  collection: Collection,
  tenant: string,
  rows: readonly Row[],
  fill: FillStaging,
): Promise<Counts> {
  await session.run(createStagingTable);
  await fill(session, rows);
  return mergeStaged(session, collection, tenant, rows.length);
}

/**
 * Moves staged rows into `documents`, then reads back every input's document id in input order.
 * These two statements are the upsert rules, for both strategies.
 */
async function mergeStaged(
  session: WriteSession,
  collection: Collection,
  tenant: string,
  total: number,
): Promise<Counts> {
  const collectionId = sql`${collection.id}::integer`;
  const tenantId = sql`${tenant}::text`;
  // search_text is made with it (see documents.textSearchConfig).
  const textSearchConfig = sql`${collection.textSearchConfig}::text`;
  // An update keeps the stored row's id, so a row that comes back with its staged id was inserted.
  // (RETURNING (xmax = 0) would say the same, but PostgreSQL refuses system columns in the
  // RETURNING of an upsert into a partitioned table.)
  const [keyed] = await session.run<{ inserted: number | string; written: number | string }>(
    sql`with written as (
          insert into documents (id, collection_id, tenant_id, content, metadata, external_id, embedding, text_search_config)
          select id, ${collectionId}, ${tenantId}, content, metadata, external_id, embedding, ${textSearchConfig} from ${staging}
          -- Key order, not input order: concurrent loads of the same keys then lock them in one order
          -- instead of deadlocking.
          where external_id is not null order by external_id collate "C"
          on conflict (collection_id, tenant_id, external_id) where external_id is not null do update
            set content = excluded.content, metadata = excluded.metadata, embedding = excluded.embedding, updated_at = excluded.updated_at
            -- An identical re-send changes nothing (and keeps updated_at).
            where (documents.content, documents.metadata, documents.embedding) is distinct from (excluded.content, excluded.metadata, excluded.embedding)
          returning id
        )
        select count(*) filter (where exists (select 1 from ${staging} s where s.id = w.id)) as inserted, count(*) as written
        from written w`,
  );
  // One document per content: the batch holds no two differing ones (assertConsistentDuplicates).
  const [unkeyed] = await session.run<{ inserted: number | string; written: number | string }>(
    sql`with written as (
          insert into documents (id, collection_id, tenant_id, content, metadata, external_id, embedding, text_search_config)
          select id, ${collectionId}, ${tenantId}, content, metadata, null, embedding, ${textSearchConfig} from (
            select distinct on (content_hash) id, ord, content_hash, content, metadata, embedding from ${staging}
            where external_id is null order by content_hash, ord
          ) first_of_each_content
          order by content_hash
          on conflict (collection_id, tenant_id, content_hash) where external_id is null do update
            set metadata = excluded.metadata, embedding = excluded.embedding, updated_at = excluded.updated_at
            where (documents.metadata, documents.embedding) is distinct from (excluded.metadata, excluded.embedding)
          returning id
        )
        select count(*) filter (where exists (select 1 from ${staging} s where s.id = w.id)) as inserted, count(*) as written
        from written w`,
  );
  // The stored row of each input: its keys are read into arrays first, so the lookup is one index
  // probe per key whatever the (possibly stale, right after a big load) statistics say, and the
  // staging table is never joined with `documents` itself, which Citus refuses for a local table.
  const found = await session.run<{ id: string | null }>(
    sql`with stored as materialized (
          select d.id, d.external_id, d.content_hash from documents d
          where d.collection_id = ${collectionId} and d.tenant_id = ${tenantId}
            and (d.external_id = any(array(select external_id from ${staging} where external_id is not null))
              or (d.external_id is null and d.content_hash = any(array(select content_hash from ${staging} where external_id is null))))
        )
        select coalesce(keyed.id, unkeyed.id) as id from ${staging} s
        left join stored keyed on keyed.external_id = s.external_id
        left join stored unkeyed on s.external_id is null and unkeyed.external_id is null and unkeyed.content_hash = s.content_hash
        order by s.ord`,
  );
  const ids = found.flatMap((row) => (row.id === null ? [] : [row.id]));
  if (ids.length !== total)
    throw new Error(`the ingest resolved ${ids.length} document ids for ${total} inputs`);
  const inserted = Number(keyed?.inserted ?? 0) + Number(unkeyed?.inserted ?? 0);
  const updated = Number(keyed?.written ?? 0) + Number(unkeyed?.written ?? 0) - inserted;
  return { ids, inserted, updated, unchanged: total - inserted - updated };
}

/**
 * The `copy` strategy. The batch's keys are looked up in one statement (unless the caller expects
 * them all new); documents that are new are written straight into `documents` by one binary COPY
 * (ids made here), and only those whose key already exists go through the staging table and the
 * merge. Should the COPY be refused (a concurrent writer stored one of the new keys since the
 * lookup, or an expected-new key was stored), it is rolled back to a savepoint and the whole batch
 * is merged through the staging table instead.
 */
async function copyRows(
  session: WriteSession,
  collection: Collection,
  tenant: string,
  rows: readonly Row[],
  expected: Pick<IngestOptions, 'expectNewKeys' | 'onKeysStored'> = {},
): Promise<Counts> {
  const ids = new Array<string>(rows.length);
  // Of several identical documents without an external id, the first in input order is written.
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
    const first = firstWithHash.get(row.hash);
    if (first === undefined) {
      firstWithHash.set(row.hash, index);
      lookupKeys.push({ position: lookedUp.length, externalId: null, contentHash: row.hash });
      lookedUp.push(index);
    } else {
      laterDuplicates.push({ index, first });
    }
  });

  const existing = expected.expectNewKeys
    ? []
    : await lookUpKeys(session, collection, tenant, lookupKeys);
  const stored: number[] = [];
  for (const { position, id } of existing) {
    const index = lookedUp[Number(position)];
    if (index === undefined) continue;
    ids[index] = id;
    stored.push(index);
  }
  // Copied in key order, like the merges, so concurrent loads of the same new keys do not deadlock.
  const keyOf = (index: number) => rows[index]?.externalId ?? rows[index]?.hash;
  const fresh = lookedUp
    .filter((index) => ids[index] === undefined)
    .sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  for (const index of fresh) ids[index] = randomUUID();

  const copied = await session.attempt((savepoint) =>
    savepoint.copy(
      documentsTarget,
      fresh.map((index): CopyValue[] => {
        const row = rows[index]!;
        return [
          ids[index] ?? '',
          collection.id,
          tenant,
          row.content,
          row.metadataJson,
          row.externalId,
          row.embedding,
          collection.textSearchConfig,
        ];
      }),
    ),
  );
  if (!copied) {
    if (expected.expectNewKeys) expected.onKeysStored?.();
    // Whatever refused the rows (a concurrent writer's key, or a reason the merge will report in
    // its own words), the savepoint undid it.
    return stageAndMerge(session, collection, tenant, rows, copyStaged);
  }

  let inserted = fresh.length;
  let updated = 0;
  if (stored.length > 0) {
    // Documents that exist: the merge updates those whose content, metadata or vector changed.
    const merged = await stageAndMerge(
      session,
      collection,
      tenant,
      stored.map((index) => rows[index]!),
      copyStaged,
    );
    stored.forEach((index, position) => {
      ids[index] = merged.ids[position] ?? '';
    });
    inserted += merged.inserted;
    updated += merged.updated;
  }
  for (const { index, first } of laterDuplicates) ids[index] = ids[first] ?? '';
  return { ids, inserted, updated, unchanged: rows.length - inserted - updated };
}

/** The stored document id of each key that has one (`position` indexes `lookupKeys`). */
async function lookUpKeys(
  session: WriteSession,
  collection: Collection,
  tenant: string,
  lookupKeys: ReadonlyArray<{
    position: number;
    externalId: string | null;
    contentHash: string | null;
  }>,
): Promise<Array<{ position: number | string; id: string }>> {
  await refreshStaleStatistics(session, collection, tenant);
  return session.run<{ position: number | string; id: string }>(
    sql`select position, id from (
          select k.position, case when k."externalId" is not null
            then (select d.id from documents d where d.collection_id = ${collection.id}::integer and d.tenant_id = ${tenant}::text and d.external_id = k."externalId")
            else (select d.id from documents d where d.collection_id = ${collection.id}::integer and d.tenant_id = ${tenant}::text and d.external_id is null and d.content_hash = k."contentHash")
          end as id
          from jsonb_to_recordset(${JSON.stringify(lookupKeys)}::text::jsonb) as k(position integer, "externalId" text, "contentHash" text)
        ) found where id is not null`,
  );
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
  session: WriteSession,
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

/** Orders keys the same way in every process, so concurrent writers lock rows in one order. */
export function compareKeys(a: string | null | undefined, b: string | null | undefined): number {
  const left = a ?? '';
  const right = b ?? '';
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Which of the items an ingest of the same documents would leave unchanged, by the rule the
 * ingest itself applies: an item is stored when the document it would write (by external id, or
 * else the tenant's document without one with its content hash) has the same content hash, the
 * same metadata (`{}` when none is given) and, when an embedding is given, the same vector. A
 * document sent without an embedding gets the collection model's vector of its content, which for
 * unchanged content is the stored one, unless it was stored with a vector of its own.
 * Returns the stored items' (external id, content hash) pairs, in input order.
 */
export async function storedDocuments(
  db: Database['db'],
  limits: Pick<Limits, 'maxBatchDocuments' | 'maxPayloadBytes'>,
  collection: Collection,
  tenant: string,
  items: readonly StoredQueryItem[],
): Promise<Array<{ externalId: string | null; contentHash: string }>> {
  assertIngestSize(items, limits);
  assertUniqueExternalIds(items);
  items.forEach((item, index) => {
    if (item.embedding) assertVectorFits(collection, item.embedding, `items[${index}].embedding`);
  });
  const given = JSON.stringify(
    items.map((item, position) => ({
      position,
      external_id: item.externalId ?? null,
      content_hash: item.contentHash,
      metadata: item.metadata ?? {},
      embedding: item.embedding ?? null,
    })),
  );
  // The same document the ingest would write: by external id, or else by content hash.
  const found = await queryRows<{ position: number | string }>(
    db,
    sql`with given as (
          select * from jsonb_to_recordset(${given}::jsonb)
            as given(position integer, external_id text, content_hash text, metadata jsonb, embedding jsonb)
        ), matched as (
          select given.*, d.metadata as stored_metadata, d.embedding as stored_embedding
          from given join ${documents} d on d.external_id = given.external_id and d.content_hash = given.content_hash
          where d.collection_id = ${collection.id} and d.tenant_id = ${tenant}
          union all
          select given.*, d.metadata, d.embedding
          from given join ${documents} d on d.content_hash = given.content_hash and d.external_id is null
          where given.external_id is null and d.collection_id = ${collection.id} and d.tenant_id = ${tenant}
        )
        select position from matched
        where stored_metadata = metadata
          and (embedding is null or stored_embedding = (embedding::text)::vector)`,
  );
  const storedPositions = new Set(found.map((row) => Number(row.position)));
  return items
    .filter((_, position) => storedPositions.has(position))
    .map((item) => ({ externalId: item.externalId ?? null, contentHash: item.contentHash }));
}
