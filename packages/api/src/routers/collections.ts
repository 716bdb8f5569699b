import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import {
  and,
  collections,
  count,
  DEFAULT_TEXT_SEARCH_CONFIG,
  documents,
  dropVectorIndexes,
  ensureVectorIndex,
  eq,
  indexedVectorType,
  operatorClass,
  QuarryError,
  sql,
  vectorIndexStatus,
  withCollectionChangeLock,
  type Collection,
} from '@quarry/db';
import { clusterLayout } from '@quarry/db/cluster';
import { documentsTableHealth } from '@quarry/db/health';
import { collectionSettings, loadCollection } from '../collections';
import type { Context } from '../context';
import {
  collectionNameSchema,
  hnswParametersSchema,
  metricSchema,
  storableText,
  textSearchConfigSchema,
} from '../inputs';
import { knownCollectionRows } from '../search/collection-size';
import {
  CALIBRATION_MARGIN,
  CALIBRATION_MAX_ROWS,
  calibratedEfSearch,
} from '../search/ef-calibration';
import { DEFAULT_EF_SEARCH, plannedEfSearch } from '../search/plan';
import { collectionAdminProcedure, readProcedure } from '../trpc';

async function describeCollection(
  ctx: Context,
  collection: Collection,
  tenant: string | undefined,
) {
  const db = ctx.database.db;
  const scope =
    tenant === undefined
      ? eq(documents.collectionId, collection.id)
      : and(eq(documents.collectionId, collection.id), eq(documents.tenantId, tenant));
  const [counted] = await db.select({ documents: count() }).from(documents).where(scope);
  // The index holds every tenant's rows: its size (and its state, which changes as others ingest
  // and rebuild it) is not for a key bound to one tenant.
  const indexes = tenant === undefined ? await vectorIndexStatus(db, collection.id) : [];
  const index = indexes.find((candidate) => candidate.valid) ?? indexes[0];
  return {
    id: collection.id,
    ...collectionSettings(collection),
    indexType: indexedVectorType(collection.dimensions),
    operatorClass: operatorClass(collection),
    createdAt: collection.createdAt.toISOString(),
    /** The tenant `documentCount` counts (the key's, when it is bound to one); null: every tenant. */
    tenant: tenant ?? null,
    documentCount: counted?.documents ?? 0,
    /** Null for a tenant-bound key (`tenant` set), whose answers must not depend on other tenants. */
    index: index
      ? {
          name: index.name,
          valid: index.valid,
          building: index.building,
          sizeBytes: index.sizeBytes,
        }
      : null,
  };
}

export const collectionsRouter = {
  create: collectionAdminProcedure
    .input(
      z.object({
        name: collectionNameSchema,
        dimensions: z.number().int().min(1).max(16_000),
        metric: metricSchema.default('cosine'),
        embeddingModel: storableText(z.string().min(1).max(200)),
        hnsw: hnswParametersSchema.default({ m: 16, efConstruction: 64 }),
        textSearchConfig: textSearchConfigSchema.default(DEFAULT_TEXT_SEARCH_CONFIG),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      indexedVectorType(input.dimensions);
      const provider = ctx.embeddings.get(input.embeddingModel);
      if (provider && provider.dimensions !== input.dimensions) {
        throw new QuarryError(
          'EMBEDDING_PROVIDER_MISMATCH',
          `model '${input.embeddingModel}' produces ${provider.dimensions} dimensions, but the collection was asked for ${input.dimensions}`,
        );
      }
      return withCollectionChangeLock(ctx.database, async () => {
        const [created] = await ctx.database.db
          .insert(collections)
          .values({
            name: input.name,
            dimensions: input.dimensions,
            metric: input.metric,
            embeddingModel: input.embeddingModel,
            hnswM: input.hnsw.m,
            hnswEfConstruction: input.hnsw.efConstruction,
            textSearchConfig: input.textSearchConfig,
          })
          .onConflictDoNothing({ target: collections.name })
          .returning();
        if (!created)
          throw new QuarryError('COLLECTION_EXISTS', `collection '${input.name}' already exists`);
        await ensureVectorIndex(ctx.database, created);
        return describeCollection(ctx, created, ctx.principal.tenant);
      });
    }),

  list: readProcedure.query(async ({ ctx }) => {
    const all = await ctx.database.db.select().from(collections).orderBy(collections.name);
    return Promise.all(
      all.map((collection) => describeCollection(ctx, collection, ctx.principal.tenant)),
    );
  }),

  /**
   * `table`, `index` and `searchWidth` are null for a key bound to a tenant: the table's figures
   * (live rows, size), the index's and its calibration count every tenant's documents.
   */
  get: readProcedure
    .input(z.object({ name: collectionNameSchema }))
    .query(async ({ ctx, input }) => {
      const collection = await loadCollection(ctx.database.db, input.name);
      const tenant = ctx.principal.tenant;
      return {
        ...(await describeCollection(ctx, collection, tenant)),
        table: tenant === undefined ? await documentsTableHealth(ctx.database.db) : null,
        searchWidth: tenant === undefined ? searchWidth(ctx, collection) : null,
      };
    }),

  /**
   * How a Citus cluster holds the collection: its nodes, the shards of documents on each, and the
   * collection's rows per shard (`{ distributed: false }` on a single server). The figures span
   * every tenant, so only an admin key not bound to a tenant may read them.
   */
  cluster: collectionAdminProcedure
    .input(z.object({ name: collectionNameSchema }))
    .query(async ({ ctx, input }) => {
      const collection = await loadCollection(ctx.database.db, input.name);
      return clusterLayout(ctx.database.db, collection.id);
    }),

  /**
   * New HNSW parameters: the index is rebuilt (concurrently on a server) and then swapped in. Like
   * create and delete, one collection change at a time (withCollectionChangeLock): the parameters
   * recorded are always those of the live index, and a collection deleted meanwhile is a 404.
   */
  updateIndex: collectionAdminProcedure
    .input(z.object({ name: collectionNameSchema, hnsw: hnswParametersSchema }))
    .mutation(async ({ ctx, input }) =>
      withCollectionChangeLock(ctx.database, async () => {
        const collection = await loadCollection(ctx.database.db, input.name);
        const [updated] = await ctx.database.db
          .update(collections)
          .set({ hnswM: input.hnsw.m, hnswEfConstruction: input.hnsw.efConstruction })
          .where(eq(collections.id, collection.id))
          .returning();
        if (!updated)
          throw new QuarryError(
            'COLLECTION_NOT_FOUND',
            `collection '${input.name}' does not exist`,
          );
        await ensureVectorIndex(ctx.database, updated);
        return describeCollection(ctx, updated, ctx.principal.tenant);
      }),
    ),

  /** Deletes the collection and all its documents; `confirm` must repeat the name. */
  delete: collectionAdminProcedure
    .input(z.object({ name: collectionNameSchema, confirm: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (input.confirm !== input.name) {
        throw new QuarryError(
          'CONFIRMATION_REQUIRED',
          `deleting collection '${input.name}' removes all its documents; pass confirm: '${input.name}' to proceed`,
        );
      }
      return withCollectionChangeLock(ctx.database, async () => {
        const collection = await loadCollection(ctx.database.db, input.name);
        const deletedDocuments = await ctx.database.db.transaction(async (tx) => {
          // On Citus the cascade from the reference table `collections` must follow the count over
          // the same connection per worker, not a parallel one; elsewhere an unused placeholder.
          await tx.execute(
            sql`select set_config('citus.multi_shard_modify_mode', 'sequential', true)`,
          );
          // Taken first, so the count includes what ingests in flight (holdCollection) commit.
          await tx
            .select({ id: collections.id })
            .from(collections)
            .where(eq(collections.id, collection.id))
            .for('update');
          const [counted] = await tx
            .select({ documents: count() })
            .from(documents)
            .where(eq(documents.collectionId, collection.id));
          // Documents go with the collection (foreign key ON DELETE CASCADE).
          await tx.delete(collections).where(eq(collections.id, collection.id));
          return counted?.documents ?? 0;
        });
        await dropVectorIndexes(ctx.database, collection.id);
        return { name: input.name, deletedDocuments };
      });
    }),
} satisfies TRPCRouterRecord;

/** Results an unfiltered search asks for by default, for which searchWidth reports ef_search. */
const DEFAULT_SEARCH_K = 10;

/**
 * How wide an unfiltered search of DEFAULT_SEARCH_K results walks the index (hnsw.ef_search, as
 * searches plan it), and what that rests on: the index's calibration (ef-calibration.ts) once
 * measured, else the collection's size. Both are read in the background, as searches read them:
 * null until then.
 */
function searchWidth(ctx: Context, collection: Collection) {
  const rows = knownCollectionRows(ctx.database.db, collection);
  const calibration = calibratedEfSearch(ctx.database.db, collection, ctx.limits, rows);
  return {
    k: DEFAULT_SEARCH_K,
    efSearch: plannedEfSearch(DEFAULT_SEARCH_K, 1, rows, calibration),
    collectionRows: rows === null ? null : Math.round(rows),
    calibration,
    /** The collection sizes that are calibrated. */
    calibratedRows: { min: ctx.limits.efCalibrationMinRows, max: CALIBRATION_MAX_ROWS },
    /** How a calibration becomes the planned ef_search: times `margin`, at least `atLeast`. */
    planned: { margin: CALIBRATION_MARGIN, atLeast: DEFAULT_EF_SEARCH },
  };
}
