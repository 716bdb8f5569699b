import type { TRPCRouterRecord } from '@trpc/server';
import { z } from 'zod';
import { collectionNameSchema } from './inputs';
import { QuarryError } from '@quarry/db';
import { cancelReembed, reembedProgress, startReembed } from './reembed';
import { collectionAdminProcedure, readProcedure } from './trpc';

const collectionInput = z.object({ collection: collectionNameSchema }).strict();

/**
 * Re-embedding a collection with another model, online (see reembed.ts). Starting and cancelling
 * change what every tenant searches, so they need an unbound admin key; progress needs an unbound
 * key with the read scope.
 */
export const reembedRouter = {
  start: collectionAdminProcedure
    .input(
      z
        .object({
          collection: collectionNameSchema,
          model: z.string().min(1).max(200),
          dimensions: z.number().int().min(1).max(16_000).optional(),
        })
        .strict(),
    )
    .mutation(({ ctx, input }) =>
      startReembed(ctx.database, ctx.embeddings, input.collection, {
        model: input.model,
        dimensions: input.dimensions,
      }),
    ),
  progress: readProcedure.input(collectionInput).query(({ ctx, input }) => {
    // Its counts are every tenant's documents.
    if (ctx.principal.tenant !== undefined) {
      throw new QuarryError(
        'FORBIDDEN',
        `re-embed progress counts every tenant's documents, so it needs a key not bound to a tenant; this key is bound to tenant '${ctx.principal.tenant}'`,
      );
    }
    return reembedProgress(ctx.database, input.collection);
  }),
  cancel: collectionAdminProcedure
    .input(collectionInput)
    .mutation(({ ctx, input }) => cancelReembed(ctx.database, input.collection)),
} satisfies TRPCRouterRecord;
