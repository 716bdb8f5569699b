import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import {
  DEFAULT_METADATA_KEYS_SAMPLE_SIZE,
  MAX_METADATA_KEYS_SAMPLE_SIZE,
  metadataKeys,
} from '../filter';
import { loadCollection } from '../collections';
import { collectionNameSchema, tenantSchema } from '../inputs';
import { runSearch } from '../search/execute';
import { searchInputSchema } from '../search/input';
import { inspectDocument, inspectDocumentInputSchema } from '../search/inspect';
import { resolveTenant } from '../tenancy';
import { readProcedure } from '../trpc';

export const searchRouter = {
  /** Vector, keyword or hybrid search; see SearchInput for every option. */
  query: readProcedure
    .input(searchInputSchema)
    .query(({ ctx, input }) => runSearch(ctx, ctx.principal, input)),

  /** "Why not document X?" for a query. */
  inspectDocument: readProcedure
    .input(inspectDocumentInputSchema)
    .query(({ ctx, input }) => inspectDocument(ctx, ctx.principal, input)),

  /** Metadata keys seen in a collection (a bounded sample of the tenant's documents), for building filters. */
  metadataKeys: readProcedure
    .input(
      z.object({
        collection: collectionNameSchema,
        tenant: tenantSchema.optional(),
        sampleSize: z
          .number()
          .int()
          .min(1)
          .max(MAX_METADATA_KEYS_SAMPLE_SIZE)
          .default(DEFAULT_METADATA_KEYS_SAMPLE_SIZE),
      }),
    )
    .query(async ({ ctx, input }) => {
      const collection = await loadCollection(ctx.database.db, input.collection);
      const tenant = resolveTenant(ctx.principal, input.tenant, 'read');
      return metadataKeys(ctx.database.db, collection.id, { sampleSize: input.sampleSize, tenant });
    }),
} satisfies TRPCRouterRecord;
