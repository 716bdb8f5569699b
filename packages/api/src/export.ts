import { and, documents, eq, inCollection, sql, type Database, type Metadata } from '@quarry/db';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { Principal } from './auth';
import { collectionSettings, loadCollection, type CollectionSettings } from './collections';
import { quarryCodeOf, toTRPCError } from './errors';
import { compileFilter, parseMetadataFilter } from './filter';
import { resolveTenant } from './tenancy';
import { assertScope } from './trpc';
import { encodeBase64Vector } from './vector-base64';

/**
 * Streaming export of a collection as newline-delimited JSON. With the default `shape: 'export'`
 * the first line is the collection's settings (what `collections.create` takes), then one document
 * per line, in (tenant, id) order:
 *
 *   {"collection":{"name":"kb","dimensions":1536,"metric":"cosine","embeddingModel":"…",
 *    "hnsw":{"m":16,"efConstruction":64},"textSearchConfig":"english"}}
 *   {"id":"…","tenant":"default","externalId":"a1","content":"…","metadata":{…},
 *    "embedding":[…] | "<base64 little-endian float32>","createdAt":"…","updatedAt":"…"}
 *
 * `externalId` is left out for a document without one; `embedding` is null for a document without
 * a vector. With `shape: 'ingest'` a line has only the fields `documents.ingest` and the NDJSON
 * ingest accept (content, metadata, externalId, embedding), and no settings line, so it can be
 * posted back as is.
 *
 * Memory stays bounded: rows are read a page at a time by keyset pagination (each page its own
 * short query, so no transaction or cursor stays open while a slow client reads), and the caller
 * asks for the next line only when it has sent the last.
 */

export type VectorEncoding = 'json' | 'base64';

export interface ExportOptions {
  /** Asked for by the caller; a key bound to a tenant exports only its own, whatever it asks. */
  tenant?: string | undefined;
  /** The metadata filter language of search (unvalidated JSON: checked here). */
  filter?: unknown;
  vectors?: VectorEncoding;
  shape?: 'export' | 'ingest';
  /** Rows per query (default 500). */
  pageSize?: number;
}

export interface ExportedDocument {
  id: string;
  tenant: string;
  externalId?: string;
  content: string;
  metadata: Metadata;
  embedding: number[] | string | null;
  createdAt: string;
  updatedAt: string;
}

/** The first line of an export: the collection's settings, as `collections.create` takes them. */
export interface ExportHeader {
  collection: CollectionSettings;
}

/**
 * The settings of an export's line, or undefined for a document line (which always has `content`
 * and never `collection`). Unchecked beyond its shape: `collections.create` validates them.
 */
export function exportHeaderOf(line: unknown): ExportHeader | undefined {
  if (typeof line !== 'object' || line === null || 'content' in line) return undefined;
  const { collection } = line as Partial<ExportHeader>;
  return typeof collection === 'object' && collection !== null ? { collection } : undefined;
}

/**
 * Checks everything (the key, the collection, the filter) before the first row, so a bad request
 * is refused with nothing written; then yields one JSON line (without its newline): the settings
 * (shape 'export'), then one per document.
 */
export async function openExport(
  database: Database,
  principal: Principal | undefined,
  collectionName: string,
  options: ExportOptions = {},
): Promise<{ lines: AsyncGenerator<string> }> {
  const reader = assertScope(principal, 'read');
  const collection = await loadCollection(database.db, collectionName);
  const tenant = resolveTenant(reader, options.tenant, 'read');
  const filter =
    options.filter === undefined ? undefined : compileFilter(parseMetadataFilter(options.filter));
  const pageSize = options.pageSize ?? 500;
  const base64 = options.vectors === 'base64';
  const ingestShape = options.shape === 'ingest';

  async function* lines(): AsyncGenerator<string> {
    if (!ingestShape) {
      const header: ExportHeader = { collection: collectionSettings(collection) };
      yield JSON.stringify(header);
    }
    let after: { tenant: string; id: string } | undefined;
    for (;;) {
      const page = await database.db
        .select({
          id: documents.id,
          tenant: documents.tenantId,
          externalId: documents.externalId,
          content: documents.content,
          metadata: documents.metadata,
          embedding: documents.embedding,
          createdAt: documents.createdAt,
          updatedAt: documents.updatedAt,
        })
        .from(documents)
        .where(
          and(
            inCollection(collection.id),
            tenant === undefined ? undefined : eq(documents.tenantId, tenant),
            filter,
            after === undefined
              ? undefined
              : sql`(${documents.tenantId}, ${documents.id}) > (${after.tenant}, ${after.id})`,
          ),
        )
        .orderBy(documents.tenantId, documents.id)
        .limit(pageSize);
      for (const row of page) {
        const embedding =
          row.embedding === null
            ? null
            : base64
              ? encodeBase64Vector(row.embedding)
              : row.embedding;
        const line: Partial<ExportedDocument> = ingestShape
          ? {}
          : { id: row.id, tenant: row.tenant };
        if (row.externalId !== null) line.externalId = row.externalId;
        line.content = row.content;
        line.metadata = row.metadata;
        if (!ingestShape || embedding !== null) line.embedding = embedding;
        if (!ingestShape) {
          line.createdAt = row.createdAt.toISOString();
          line.updatedAt = row.updatedAt.toISOString();
        }
        yield JSON.stringify(line);
      }
      const last = page.at(-1);
      if (!last || page.length < pageSize) return;
      after = { tenant: last.tenant, id: last.id };
    }
  }
  return { lines: lines() };
}

/** An error as an HTTP status and the code and message a client can act on. */
export function exportErrorOf(error: unknown): {
  status: number;
  quarryCode: string | undefined;
  message: string;
} {
  const trpcError = toTRPCError(error);
  return {
    status: getHTTPStatusCodeFromError(trpcError),
    quarryCode: quarryCodeOf(trpcError),
    message: trpcError.message,
  };
}
