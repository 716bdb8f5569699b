import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { ZodError } from 'zod';
import { QuarryError, queryRows, sql, type Collection, type QuarryErrorCode } from '@quarry/db';
import { loadCollection } from './collections';
import type { Context } from './context';
import { toTRPCError } from './errors';
import {
  checkVectorOnce,
  ingestDocuments,
  withDeferredIndex,
  type EarlierWrite,
  type IndexReport,
  type PipelineItem,
  type IngestResult,
} from './ingest';
import { ingestItemSchema } from './ingest-input';
import { collectionNameSchema, tenantSchema } from './inputs';
import { resolveTenant } from './tenancy';
import { assertScope } from './trpc';

/**
 * A long load into one collection as a series of chunk transactions: the HTTP streaming ingest
 * (NDJSON) and anything else that cannot hold the whole input at once. Authorised like
 * `documents.ingest` (write scope, the key's tenant), once, when it is opened.
 */
export interface IngestStream {
  collection: Collection;
  tenant: string;
  /** Documents per chunk: the server's `maxBatchDocuments`. */
  maxChunkDocuments: number;
  /** Size of a chunk as `documents.ingest` counts a batch's: `maxPayloadBytes`, and at least STREAM_CHUNK_BYTES. */
  maxChunkBytes: number;
  /**
   * Validates one input document (same fields and rules as a `documents.ingest` item); its
   * `embedding` may also be float32 components (a decoded base64 vector).
   */
  parse(value: unknown): PipelineItem;
  /**
   * Writes one chunk as one transaction: all of it or none. Chunks commit in the order they are
   * given: a chunk is written while the one before it commits, and is rolled back (its write
   * rejects) should that one fail.
   */
  write(items: readonly PipelineItem[], signal?: AbortSignal): Promise<IngestResult>;
  /** Runs the whole load (every `write`) and says what happened to the collection's index. */
  load<T>(
    plannedRows: number | undefined,
    work: () => Promise<T>,
  ): Promise<{ value: T; index: IndexReport }>;
}

/**
 * A stream's chunk may be larger in bytes than a request's batch (a line of 1,536 JSON numbers
 * counts about 42 KB, so 16 MiB would be under 400 documents); its documents stay at the batch
 * limit. Each chunk pays a transaction and a commit (and a key lookup, unless the collection held
 * none of the tenant's documents when the load began), and the stream holds three at a time (one
 * parsed, one written, one committing). Measured (50,000 x 1,536 over HTTP, base64 vectors, no
 * index, 2 cores shared with other work at a load average of 3-4, two runs each): chunks of 500
 * loaded in 6.1-8.4 s, of 1,000 in 4.5-6.8 s (server RSS peak 287-292 MiB), of 2,000 in
 * 4.2-6.4 s (313-319 MiB): larger chunks buy little.
 */
export const STREAM_CHUNK_BYTES = 32 * 1024 * 1024;

export async function openIngestStream(
  ctx: Context,
  target: { collection: string; tenant?: string | undefined },
): Promise<IngestStream> {
  const principal = assertScope(ctx.principal, 'write');
  const name = collectionNameSchema.parse(target.collection);
  const requested = target.tenant === undefined ? undefined : tenantSchema.parse(target.tenant);
  const tenant = resolveTenant(principal, requested, 'write');
  const collection = await loadCollection(ctx.database.db, name);
  // While a load into a collection that held none of the tenant's documents has met none of its
  // keys stored, its chunks are COPYed without looking their keys up (see expectNewKeys).
  let keysNew = false;
  let previous: EarlierWrite | undefined;
  return {
    collection,
    tenant,
    maxChunkDocuments: ctx.limits.maxBatchDocuments,
    maxChunkBytes: Math.max(ctx.limits.maxPayloadBytes, STREAM_CHUNK_BYTES),
    parse(value) {
      // The vector is checked once, against the collection (dimensions, each component a finite
      // float32), here and not again by `write`: zod's element-by-element pass over 1,536 numbers
      // per line costs more than that.
      if (typeof value === 'object' && value !== null && 'embedding' in value) {
        const { embedding, ...rest } = value;
        if (Array.isArray(embedding) || embedding instanceof Float32Array) {
          const components = checkVectorOnce(
            collection,
            embedding as number[] | Float32Array,
            'embedding',
          );
          return { ...ingestItemSchema.parse(rest), embedding: components };
        }
      }
      return ingestItemSchema.parse(value);
    },
    // The one call site of the write path: each chunk is one transaction; `load` defers the index.
    write(items, signal) {
      let committing = () => {};
      const rowsWritten = new Promise<void>((resolve) => (committing = resolve));
      const done = ingestDocuments(
        ctx.database,
        ctx.limits,
        ctx.embeddings,
        collection,
        tenant,
        items,
        {
          deferIndex: false,
          enforceBatchLimits: false,
          expectNewKeys: keysNew,
          onKeysStored: () => {
            keysNew = false;
          },
          ...(previous ? { after: previous } : {}),
          onCommitting: committing,
          ...(signal ? { signal } : {}),
        },
      );
      const ended = done.then(
        () => undefined,
        () => undefined,
      );
      previous = { committing: Promise.race([rowsWritten, ended]), done };
      return done;
    },
    async load(plannedRows, work) {
      const [held] = await queryRows<{ none: boolean }>(
        ctx.database.db,
        sql`select not exists (select 1 from documents where collection_id = ${collection.id}::integer and tenant_id = ${tenant}::text) as none`,
      );
      keysNew = held?.none === true;
      try {
        return await withDeferredIndex(ctx.database, collection, plannedRows, work);
      } finally {
        keysNew = false;
      }
    },
  };
}

/** An error as a stream reports it: the HTTP status `documents.ingest` would answer, and where. */
export interface StreamError {
  status: number;
  quarryCode: QuarryErrorCode | undefined;
  message: string;
  /** The input field at fault (`embedding`, `metadata.kind`), when one is. */
  field?: string;
}

export function streamErrorOf(error: unknown): StreamError {
  if (error instanceof ZodError) {
    const issue = error.issues[0];
    const path =
      issue?.code === 'unrecognized_keys'
        ? [...issue.path, ...issue.keys.slice(0, 1)]
        : issue?.path;
    const field = path?.map(String).join('.') || undefined;
    return {
      status: 400,
      quarryCode: 'INVALID_INPUT',
      message: issue ? `${field ? `${field}: ` : ''}${issue.message}` : 'invalid input',
      ...(field ? { field } : {}),
    };
  }
  const trpc = toTRPCError(error);
  const quarryCode = trpc.cause instanceof QuarryError ? trpc.cause.code : undefined;
  const field =
    quarryCode === 'DIMENSION_MISMATCH' || quarryCode === 'INVALID_VECTOR'
      ? 'embedding'
      : undefined;
  return {
    status: getHTTPStatusCodeFromError(trpc),
    quarryCode,
    message: trpc.message,
    ...(field ? { field } : {}),
  };
}
