import { createHash, randomUUID } from 'node:crypto';
import {
  and,
  assertVectorFits,
  documents,
  eq,
  inArray,
  isNull,
  QuarryError,
  queryRows,
  sql,
  type Collection,
  type Database,
  type Metadata,
} from '@quarry/db';
import { holdCollection } from './collections';
import type { EmbeddingRegistry } from './embeddings';
import type { Limits } from './limits';
import { inTransaction, type Transaction } from './transaction';

export interface IngestItem {
  content: string;
  metadata?: Metadata;
  externalId?: string;
  embedding?: number[];
}

export interface IngestResult {
  /** One id per input document, in input order. */
  ids: string[];
  inserted: number;
  updated: number;
  unchanged: number;
}

/** Rows per INSERT statement: keeps bound parameters far below PostgreSQL's 65,535. */
const ROWS_PER_STATEMENT = 500;

/** A document as `documents.stored` asks about it: its content by the digest the server keeps. */
export interface StoredQueryItem {
  contentHash: string;
  metadata?: Metadata;
  externalId?: string;
  embedding?: number[];
}

export function assertIngestSize(
  items: ReadonlyArray<Omit<IngestItem, 'content'> & { content?: string }>,
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

/** Embeds the documents that came without a vector, with the collection's own model. */
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
  const computed = await provider.embed(missing.map((index) => items[index]?.content ?? ''));
  missing.forEach((index, position) => {
    vectors[index] = computed[position] ?? [];
  });
  return vectors;
}

/**
 * Ingests a batch as one transaction: all documents or none. Documents with an external id are
 * upserted on (collection, tenant, external id); the others are deduplicated by content hash.
 */
export async function ingestDocuments(
  db: Parameters<typeof inTransaction>[0],
  limits: Limits,
  embeddings: EmbeddingRegistry,
  collection: Collection,
  tenant: string,
  items: readonly IngestItem[],
): Promise<IngestResult> {
  assertIngestSize(items, limits);
  assertUniqueExternalIds(items);
  items.forEach((item, index) => {
    if (item.embedding)
      assertVectorFits(collection, item.embedding, `documents[${index}].embedding`);
  });
  const vectors = await embedMissing(collection, items, embeddings);
  vectors.forEach((vector, index) =>
    assertVectorFits(collection, vector, `documents[${index}].embedding (computed)`),
  );

  return inTransaction(db, limits, async (tx) => {
    await holdCollection((query) => queryRows(tx, query), collection);
    const ids = new Array<string>(items.length);
    let inserted = 0;
    let updated = 0;
    const rows = items.map((item, index) => ({
      index,
      values: {
        collectionId: collection.id,
        tenantId: tenant,
        content: item.content,
        metadata: item.metadata ?? {},
        externalId: item.externalId ?? null,
        embedding: vectors[index] ?? [],
      },
    }));
    // Rows are written in key order, not input order: two batches with the same keys in opposite
    // orders would otherwise lock them in opposite orders and deadlock. (The sort is stable, so of
    // several unkeyed rows with one content the first in input order is still the one written.)
    const keyed = rows
      .filter((row) => row.values.externalId !== null)
      .sort((a, b) => compareKeys(a.values.externalId, b.values.externalId));
    const unkeyed = rows
      .filter((row) => row.values.externalId === null)
      .map((row) => ({ ...row, hash: contentHash(row.values.content) }))
      .sort((a, b) => compareKeys(a.hash, b.hash));

    for (const chunk of chunks(keyed, ROWS_PER_STATEMENT)) {
      // Each row is offered with an id made here. ON CONFLICT DO UPDATE keeps the stored row's id,
      // so a row comes back with the offered id exactly when this statement inserted it.
      // (RETURNING (xmax = 0) would say the same, but PostgreSQL refuses system columns in the
      // RETURNING of an upsert into a partitioned table; created_at = now() would misread a row
      // that another transaction, started in the same microsecond, inserted first.)
      const offered = chunk.map((row) => ({ ...row, values: { ...row.values, id: randomUUID() } }));
      const written = await upsertByExternalId(
        tx,
        offered.map((row) => row.values),
      );
      const byExternalId = new Map(offered.map((row) => [row.values.externalId, row]));
      for (const row of written) {
        const input = byExternalId.get(row.externalId);
        if (input === undefined) continue;
        ids[input.index] = row.id;
        if (row.id === input.values.id) inserted++;
        else updated++;
      }
    }
    for (const chunk of chunks(unkeyed, ROWS_PER_STATEMENT)) {
      const written = await tx
        .insert(documents)
        .values(chunk.map((row) => row.values))
        .onConflictDoNothing({
          target: [documents.collectionId, documents.tenantId, documents.contentHash],
          where: sql`${documents.externalId} is null`,
        })
        .returning({ id: documents.id, contentHash: documents.contentHash });
      inserted += written.length;
      const byHash = new Map(written.map((row) => [row.contentHash, row.id]));
      for (const row of chunk) {
        const id = byHash.get(row.hash);
        if (id) ids[row.index] = id;
      }
    }

    // Whatever was not written already existed unchanged: look its ids up.
    const unchangedKeyed = keyed.filter((row) => ids[row.index] === undefined);
    if (unchangedKeyed.length > 0) {
      const found = await tx
        .select({ id: documents.id, externalId: documents.externalId })
        .from(documents)
        .where(
          and(
            eq(documents.collectionId, collection.id),
            eq(documents.tenantId, tenant),
            inArray(
              documents.externalId,
              unchangedKeyed.map((row) => row.values.externalId ?? ''),
            ),
          ),
        );
      const byExternalId = new Map(found.map((row) => [row.externalId, row.id]));
      for (const row of unchangedKeyed)
        ids[row.index] = byExternalId.get(row.values.externalId) ?? '';
    }
    const unchangedUnkeyed = unkeyed.filter((row) => ids[row.index] === undefined);
    if (unchangedUnkeyed.length > 0) {
      const byHash = await unkeyedIdsByHash(
        tx,
        collection,
        tenant,
        unchangedUnkeyed.map((row) => row.hash),
      );
      for (const row of unchangedUnkeyed) ids[row.index] = byHash.get(row.hash) ?? '';
    }
    return { ids, inserted, updated, unchanged: items.length - inserted - updated };
  });
}

/** Ids of the tenant's documents that have no external id, by content hash. */
async function unkeyedIdsByHash(
  db: Transaction | Database['db'],
  collection: Collection,
  tenant: string,
  hashes: string[],
): Promise<Map<string, string>> {
  const found = await db
    .select({ id: documents.id, contentHash: documents.contentHash })
    .from(documents)
    .where(
      and(
        eq(documents.collectionId, collection.id),
        eq(documents.tenantId, tenant),
        isNull(documents.externalId),
        inArray(documents.contentHash, hashes),
      ),
    );
  return new Map(found.map((row) => [row.contentHash, row.id]));
}

async function upsertByExternalId(tx: Transaction, values: Array<typeof documents.$inferInsert>) {
  return tx
    .insert(documents)
    .values(values)
    .onConflictDoUpdate({
      target: [documents.collectionId, documents.tenantId, documents.externalId],
      targetWhere: sql`${documents.externalId} is not null`,
      set: {
        content: sql`excluded.content`,
        metadata: sql`excluded.metadata`,
        embedding: sql`excluded.embedding`,
        updatedAt: sql`now()`,
      },
      // An identical re-send changes nothing (and keeps updated_at).
      setWhere: sql`(${documents.content}, ${documents.metadata}, ${documents.embedding}) is distinct from (excluded.content, excluded.metadata, excluded.embedding)`,
    })
    .returning({ id: documents.id, externalId: documents.externalId });
}

/** Orders keys the same way in every process, so concurrent writers lock rows in one order. */
export function compareKeys(a: string | null | undefined, b: string | null | undefined): number {
  const left = a ?? '';
  const right = b ?? '';
  return left < right ? -1 : left > right ? 1 : 0;
}

/** The same digest as the `content_hash` column, `md5(content)`: what `documents.stored` is asked with. */
export function contentHash(content: string): string {
  return createHash('md5').update(content, 'utf8').digest('hex');
}

/**
 * Which of the items an ingest of the same documents would leave unchanged, by the rule the
 * ingest itself applies: one without an external id is stored when a document of the tenant with
 * no external id has its content hash (metadata and embedding are not compared: the ingest keeps
 * the first); one with an external id is stored when that id's document has the same content
 * hash, the same metadata (`{}` when none is given) and, when an embedding is given, the same
 * vector. A document sent without an embedding gets the collection model's vector of its content,
 * which for unchanged content is the stored one, unless it was stored with a vector of its own.
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
  const keyed = items.filter((item) => item.externalId !== undefined);
  const unkeyed = items.filter((item) => item.externalId === undefined);
  const storedKeys = new Set<string>();
  if (keyed.length > 0) {
    const given = JSON.stringify(
      keyed.map((item) => ({
        external_id: item.externalId,
        content_hash: item.contentHash,
        metadata: item.metadata ?? {},
        embedding: item.embedding ?? null,
      })),
    );
    const found = await queryRows<{ external_id: string }>(
      db,
      sql`select d.external_id
          from ${documents} d
          join jsonb_to_recordset(${given}::jsonb)
            as given(external_id text, content_hash text, metadata jsonb, embedding jsonb)
            on d.external_id = given.external_id
          where d.collection_id = ${collection.id} and d.tenant_id = ${tenant}
            and d.content_hash = given.content_hash and d.metadata = given.metadata
            and (given.embedding is null or d.embedding = (given.embedding::text)::vector)`,
    );
    for (const row of found) storedKeys.add(`id:${row.external_id}`);
  }
  if (unkeyed.length > 0) {
    const byHash = await unkeyedIdsByHash(
      db,
      collection,
      tenant,
      unkeyed.map((item) => item.contentHash),
    );
    for (const hash of byHash.keys()) storedKeys.add(`hash:${hash}`);
  }
  return items
    .filter((item) =>
      storedKeys.has(
        item.externalId === undefined ? `hash:${item.contentHash}` : `id:${item.externalId}`,
      ),
    )
    .map((item) => ({ externalId: item.externalId ?? null, contentHash: item.contentHash }));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size)
    result.push(items.slice(start, start + size));
  return result;
}
