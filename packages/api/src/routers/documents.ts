import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import {
  and,
  count,
  desc,
  documents,
  eq,
  inArray,
  inCollection,
  lt,
  or,
  QuarryError,
  type Collection,
  sql,
  type SQL,
} from '@quarry/db';
import type { Principal } from '../auth';
import { documentInScope, loadCollection } from '../collections';
import { metadataFilterSchema } from '../filter';
import { compileFilter } from '../filter';
import { ingestDocuments, storedDocuments } from '../ingest';
import { ingestItemSchema } from '../ingest-input';
import {
  collectionNameSchema,
  createdRangeConditions,
  createdRangeSchema,
  documentIdSchema,
  instantSchema,
  tenantSchema,
  timestamptz,
} from '../inputs';
import { HARD_LIMITS } from '../limits';
import { resolveTenant } from '../tenancy';
import { inTransaction } from '../transaction';
import { chargeResponse, contentPreviewChars } from '../response-budget';
import { readProcedure, writeProcedure } from '../trpc';
import type { Context } from '../context';

/** The restrictions shared by list, count and delete (and, in the same shape, search). */
const selectionSchema = z.object({
  collection: collectionNameSchema,
  tenant: tenantSchema.optional(),
  filter: metadataFilterSchema.optional(),
  ...createdRangeSchema,
});
type Selection = z.infer<typeof selectionSchema>;

function selectionWhere(
  collection: Collection,
  tenant: string | undefined,
  selection: Selection,
): SQL | undefined {
  return and(
    inCollection(collection.id),
    tenant === undefined ? undefined : eq(documents.tenantId, tenant),
    ...createdRangeConditions(selection),
    compileFilter(selection.filter),
  );
}

/**
 * A document's columns as the API returns them. With `contentChars`, PostgreSQL sends only that
 * prefix of the content (a list of 1 MB documents must not ship them whole to cut them here); the
 * dimensions and norm are computed there too, so the vector travels only when asked for.
 */
function documentColumns(contentChars: number | undefined, includeEmbedding: boolean) {
  return {
    id: documents.id,
    externalId: documents.externalId,
    tenantId: documents.tenantId,
    content:
      contentChars === undefined
        ? documents.content
        : sql<string>`substr(${documents.content}, 1, ${contentChars})`,
    contentLength: sql<number>`char_length(${documents.content})`.mapWith(Number),
    metadata: documents.metadata,
    contentHash: documents.contentHash,
    createdAt: documents.createdAt,
    updatedAt: documents.updatedAt,
    dimensions: sql<number | null>`vector_dims(${documents.embedding})`,
    norm: sql<number | null>`vector_norm(${documents.embedding})`,
    embedding: includeEmbedding ? documents.embedding : sql<null>`null`,
  };
}

/** The stored columns as the schema types them, and what PostgreSQL computes for a listing. */
interface DocumentRow extends Pick<
  typeof documents.$inferSelect,
  | 'id'
  | 'externalId'
  | 'tenantId'
  | 'content'
  | 'metadata'
  | 'contentHash'
  | 'createdAt'
  | 'updatedAt'
> {
  contentLength: number;
  dimensions: number | null;
  norm: number | null;
  embedding: number[] | null;
}

/** `contentChars`: the prefix the row's content was cut to, if any. */
function toDocument(row: DocumentRow, contentChars?: number) {
  return {
    id: row.id,
    externalId: row.externalId,
    tenant: row.tenantId,
    /** The whole content from `get`; from `list`, its first `contentMaxChars` characters. */
    content: row.content,
    contentTruncated: contentChars !== undefined && row.contentLength > contentChars,
    /** Characters in the whole content. */
    contentLength: row.contentLength,
    metadata: row.metadata,
    contentHash: row.contentHash,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    dimensions: row.dimensions === null ? null : Number(row.dimensions),
    /** Euclidean norm of the stored vector. */
    norm: row.norm === null ? null : Number(row.norm),
    embedding: row.embedding,
  };
}

/**
 * Cursor for keyset pagination over (created_at desc, id desc), opaque to clients. It carries the
 * timestamp as PostgreSQL prints it: a JS Date would drop the microseconds and skip rows.
 */
const cursorSchema = z.object({ createdAt: instantSchema, id: documentIdSchema });
const exactCreatedAt = sql<string>`to_char(${documents.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify({ createdAt, id })).toString('base64url');
}
function decodeCursor(cursor: string): z.infer<typeof cursorSchema> {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new QuarryError(
      'INVALID_INPUT',
      'the cursor is not one this API returned; start again without a cursor',
    );
  }
}

async function scoped(ctx: Context, principal: Principal, selection: Selection) {
  const collection = await loadCollection(ctx.database.db, selection.collection);
  const tenant = resolveTenant(principal, selection.tenant, 'read');
  return { collection, tenant, where: selectionWhere(collection, tenant, selection) };
}

export const documentsRouter = {
  /** One transaction: every document is written or none is. */
  ingest: writeProcedure
    .input(
      z.object({
        collection: collectionNameSchema,
        tenant: tenantSchema.optional(),
        documents: z.array(ingestItemSchema).min(1).max(HARD_LIMITS.batchDocuments),
      }),
    )
    .mutation(async ({ ctx, input, signal }) => {
      const collection = await loadCollection(ctx.database.db, input.collection);
      const tenant = resolveTenant(ctx.principal, input.tenant, 'write');
      return ingestDocuments(
        ctx.database,
        ctx.limits,
        ctx.embeddings,
        collection,
        tenant,
        input.documents,
        { signal },
      );
    }),

  /**
   * Which of these documents an ingest would leave unchanged (see storedDocuments), for the tenant
   * an ingest with the same input writes to: a client sends only the rest. `contentHash` is
   * md5(content) as hex (`contentHash` of @quarry/api).
   */
  stored: readProcedure
    .input(
      z.object({
        collection: collectionNameSchema,
        tenant: tenantSchema.optional(),
        items: z
          .array(
            ingestItemSchema.omit({ content: true }).extend({
              contentHash: z
                .string()
                .regex(/^[0-9a-f]{32}$/, 'must be md5(content) as 32 hex digits'),
            }),
          )
          .min(1)
          .max(HARD_LIMITS.batchDocuments),
      }),
    )
    .query(async ({ ctx, input }) => {
      const collection = await loadCollection(ctx.database.db, input.collection);
      // The tenant the write would go to; the key still needs only the read scope.
      const tenant = resolveTenant(ctx.principal, input.tenant, 'write');
      const stored = await storedDocuments(
        ctx.database.db,
        ctx.limits,
        collection,
        tenant,
        input.items,
      );
      return { stored };
    }),

  get: readProcedure
    .input(
      z.object({
        collection: collectionNameSchema,
        id: documentIdSchema,
        tenant: tenantSchema.optional(),
        includeEmbedding: z.boolean().default(false),
      }),
    )
    .query(async ({ ctx, input }) => {
      const collection = await loadCollection(ctx.database.db, input.collection);
      const tenant = resolveTenant(ctx.principal, input.tenant, 'read');
      const scope = documentInScope(collection, input.id, tenant);
      const [row] = await ctx.database.db
        .select(documentColumns(undefined, input.includeEmbedding))
        .from(documents)
        .where(scope.where);
      if (!row) throw scope.notFound();
      const document = toDocument(row);
      chargeResponse(
        ctx,
        [document],
        `document ${input.id} is larger than that${input.includeEmbedding ? '; ask for it without includeEmbedding' : ''}; documents.list and search.query return a prefix of its content`,
      );
      return document;
    }),

  list: readProcedure
    .input(
      // Strict: an unknown field (say `offset`; paging is by `cursor`) is refused, naming it.
      z.strictObject({
        ...selectionSchema.shape,
        limit: z.number().int().min(1).max(500).default(50),
        cursor: z.string().max(512).optional(),
        /** Characters of each document's content (default and at most the server's preview size). */
        contentMaxChars: z.number().int().min(0).max(HARD_LIMITS.contentChars).optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const contentChars = contentPreviewChars(ctx.limits, input.contentMaxChars);
      const { where } = await scoped(ctx, ctx.principal, input);
      const after = input.cursor ? decodeCursor(input.cursor) : undefined;
      const afterTime = after ? timestamptz(after.createdAt) : undefined;
      const page = await ctx.database.db
        .select({ document: documentColumns(contentChars, false), cursorTime: exactCreatedAt })
        .from(documents)
        .where(
          and(
            where,
            after && afterTime
              ? or(
                  lt(documents.createdAt, afterTime),
                  and(eq(documents.createdAt, afterTime), lt(documents.id, after.id)),
                )
              : undefined,
          ),
        )
        .orderBy(desc(documents.createdAt), desc(documents.id))
        .limit(input.limit + 1);
      const items = page.slice(0, input.limit).map((row) => toDocument(row.document, contentChars));
      chargeResponse(
        ctx,
        items,
        'ask for fewer documents per page (a smaller limit) or less of each content (contentMaxChars)',
      );
      const last = page.at(input.limit - 1);
      return {
        items,
        nextCursor:
          page.length > input.limit && last
            ? encodeCursor(last.cursorTime, last.document.id)
            : null,
      };
    }),

  count: readProcedure.input(selectionSchema).query(async ({ ctx, input }) => {
    const { where } = await scoped(ctx, ctx.principal, input);
    const [row] = await ctx.database.db.select({ n: count() }).from(documents).where(where);
    return { count: row?.n ?? 0 };
  }),

  /** By ids, or by the selection; a selection with no filter, tenant or dates needs `all: true`. */
  delete: writeProcedure
    .input(
      selectionSchema.extend({
        ids: z.array(documentIdSchema).min(1).max(HARD_LIMITS.batchDocuments).optional(),
        all: z.boolean().default(false),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { where } = await scoped(ctx, ctx.principal, input);
      const narrowed =
        input.ids !== undefined ||
        input.filter !== undefined ||
        input.createdAfter !== undefined ||
        input.createdBefore !== undefined;
      if (!narrowed && !input.all) {
        throw new QuarryError(
          'CONFIRMATION_REQUIRED',
          `no ids, filter or date range given: this would delete every document in '${input.collection}'${input.tenant ? ` for tenant '${input.tenant}'` : ''}; pass all: true to mean it`,
        );
      }
      const deleted = await inTransaction(ctx.database.db, ctx.limits, (tx) =>
        tx
          .delete(documents)
          .where(and(where, input.ids ? inArray(documents.id, input.ids) : undefined))
          .returning({ id: documents.id }),
      );
      return { deleted: deleted.length, ids: deleted.map((row) => row.id) };
    }),
} satisfies TRPCRouterRecord;
