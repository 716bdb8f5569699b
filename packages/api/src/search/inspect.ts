import {
  and,
  count,
  distanceTo,
  documents,
  inCollection,
  isNotNull,
  lt,
  QuarryError,
  similarityFromDistance,
  sql,
  type Database,
} from '@quarry/db';
import type { z } from 'zod';
import type { Principal } from '../auth';
import { documentInScope } from '../collections';
import type { Context } from '../context';
import { onReplica } from '../replicas';
import { createdRangeConditions, documentIdSchema } from '../inputs';
import { inReadTransaction } from '../transaction';
import { prepareQuery, withCurrentCollection } from './prepare';
import { searchInputSchema } from './input';

export const inspectDocumentInputSchema = searchInputSchema.extend({
  documentId: documentIdSchema,
});
export type InspectDocumentInput = z.infer<typeof inspectDocumentInputSchema>;

/**
 * "Why not document X?": where one document stands against a query — its exact distance, whether
 * it passes each restriction and the threshold, and its exact rank among the documents that pass.
 */
export function inspectDocument(ctx: Context, principal: Principal, input: InspectDocumentInput) {
  // Read-only: on a healthy replica, or the next, or the primary.
  return onReplica(ctx, (reader) =>
    withCurrentCollection(reader, input.collection, () => inspectOn(reader, ctx, principal, input)),
  );
}

async function inspectOn(
  reader: Database,
  ctx: Context,
  principal: Principal,
  input: InspectDocumentInput,
) {
  const prepared = await prepareQuery(ctx, principal, { ...input, mode: 'vector' }, reader);
  const { collection, vector, tenant } = prepared;
  if (!vector)
    throw new QuarryError('INVALID_INPUT', 'inspecting a document needs a query vector or text');
  return inReadTransaction(
    prepared.reader,
    ctx.limits,
    async (tx) => {
      const scope = documentInScope(collection, input.documentId, tenant);
      const exactDistance = distanceTo(collection, vector, { exact: true });
      const { filter } = prepared;
      const [row] = await tx
        .select({
          id: documents.id,
          tenant: documents.tenantId,
          inDateRange: sql<boolean>`${and(sql`true`, ...createdRangeConditions(input))}`,
          hasEmbedding: sql<boolean>`${documents.embedding} is not null`,
          distance: sql<number | null>`${exactDistance}`.mapWith((value: unknown) =>
            value === null ? null : Number(value),
          ),
          passesFilter: filter ? sql<boolean>`coalesce(${filter}, false)` : sql<boolean>`true`,
        })
        .from(documents)
        .where(scope.where);
      if (!row) throw scope.notFound();
      const inDateRange = Boolean(row.inDateRange);
      const similarity =
        row.distance === null ? null : similarityFromDistance(collection.metric, row.distance);
      const passesThreshold =
        input.minSimilarity === undefined ||
        (similarity !== null && similarity >= input.minSimilarity);
      const passesRestrictions = Boolean(row.passesFilter) && inDateRange && row.hasEmbedding;
      let exactRank: number | null = null;
      if (passesRestrictions && row.distance !== null) {
        const [closer] = await tx
          .select({ n: count() })
          .from(documents)
          .where(
            and(
              inCollection(collection.id),
              isNotNull(documents.embedding),
              ...prepared.restrictions,
              lt(exactDistance, row.distance),
            ),
          );
        exactRank = (closer?.n ?? 0) + 1;
      }
      return {
        id: row.id,
        tenant: row.tenant,
        hasEmbedding: row.hasEmbedding,
        distance: row.distance,
        similarity,
        passesFilter: Boolean(row.passesFilter),
        inDateRange,
        passesThreshold,
        /** 1-based rank by exact distance among the documents that pass the restrictions; null when it does not pass them. */
        exactRank,
        /** Whether exact search with this k would return it. */
        withinK: exactRank !== null && exactRank <= input.k && passesThreshold,
      };
    },
    {},
    prepared.collectionIsCurrent,
  );
}
