import type { RouterOutputs } from '@quarry/api';
import { formatScore } from '../../lib/format';

type Inspection = RouterOutputs['search']['inspectDocument'];

export interface VerdictContext {
  k: number;
  minSimilarity: number | undefined;
  /** The document's rank in the results the search returned, null when absent, undefined when unknown. */
  returnedRank: number | null | undefined;
  /** The ef_search the returned results were found with, when the index served them. */
  efSearch: number | null | undefined;
}

/** "Why not document X?" in one sentence: the first reason in the order the search applies them. */
export function verdict(inspection: Inspection, context: VerdictContext): string {
  if (!inspection.hasEmbedding) return 'It has no embedding, so vector search can never return it.';
  if (!inspection.passesFilter)
    return 'It fails the metadata filter, so the search never considers it.';
  if (!inspection.inDateRange) return 'It is outside the created-at range of the query.';
  if (!inspection.passesThreshold) {
    return `Its similarity ${formatScore(inspection.similarity)} is below the minimum similarity ${formatScore(context.minSimilarity)}: lower the threshold to include it.`;
  }
  const rank = inspection.exactRank;
  if (rank === null) return "It does not pass the query's restrictions.";
  if (rank > context.k)
    return `By exact distance it ranks ${rank}, beyond k = ${context.k}: raise k to ${rank} to see it.`;
  if (context.returnedRank)
    return `It is returned, at rank ${context.returnedRank} (exact rank ${rank}).`;
  if (context.returnedRank === null) {
    const ef = context.efSearch ? ` (now ${context.efSearch})` : '';
    return `Exact search ranks it ${rank}, within k = ${context.k}, but the search did not return it: the approximate index missed it. Raise ef_search${ef}, or check the index's health.`;
  }
  return `Exact search returns it at rank ${rank}.`;
}
