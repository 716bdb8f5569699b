import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { metadataKeys } from '../filter';
import { loadCollection } from '../collections';
import { collectionNameSchema } from '../inputs';
import { runSearch } from '../search/execute';
import { searchInputSchema } from '../search/input';
import { inspectDocument, inspectDocumentInputSchema } from '../search/inspect';
import { readProcedure } from '../trpc';

export const searchRouter = {
  /** Vector, keyword or hybrid search; see SearchInput for every option. */
  query: readProcedure.input(searchInputSchema).query(({ ctx, input }) => runSearch(ctx, ctx.principal, input)),

  /** "Why not document X?" for a query. */
  inspectDocument: readProcedure
    .input(inspectDocumentInputSchema)
    .query(({ ctx, input }) => inspectDocument(ctx, ctx.principal, input)),

  /** Metadata keys seen in a collection (a bounded sample), for building filters. */
  metadataKeys: readProcedure
    .input(z.object({ collection: collectionNameSchema, sampleSize: z.number().int().min(1).max(10_000).default(1_000) }))
    .query(async ({ ctx, input }) => {
      const collection = await loadCollection(ctx.database.db, input.collection);
      return metadataKeys(ctx.database.db, collection.id, { sampleSize: input.sampleSize });
    }),
} satisfies TRPCRouterRecord;
