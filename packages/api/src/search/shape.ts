import { maxDistanceForSimilarity, similarityFromDistance, type Collection } from '@quarry/db';
import type { FusedCandidate } from './fuse';
import type { SearchMode } from './input';
import type { SearchResult } from './types';

export interface ShapeOptions {
  collection: Pick<Collection, 'metric'>;
  mode: SearchMode;
  /** Results to return, after skipping `offset`. */
  k: number;
  offset: number;
  minSimilarity: number | undefined;
  /** Characters each result's content was cut to. */
  contentChars: number;
}

/**
 * The response's results from the fused candidates (in their order): the similarity threshold
 * applied, each scored for its mode (similarity, keyword score, or the fused `score` of hybrid),
 * the first `offset` skipped and the next k kept.
 */
export function shapeResults(
  fused: ReadonlyArray<FusedCandidate & { score?: number }>,
  options: ShapeOptions,
): SearchResult[] {
  const { collection, mode } = options;
  const maxDistance =
    options.minSimilarity === undefined
      ? null
      : maxDistanceForSimilarity(collection.metric, options.minSimilarity);
  const results: SearchResult[] = [];
  let skip = options.offset;
  for (const { candidate, vectorRank, keywordRank, score: fusedScore } of fused) {
    if (results.length >= options.k) break;
    const distance = candidate.distance === null ? null : Number(candidate.distance);
    // The threshold is applied after the LIMIT, never inside the index scan: a threshold no row
    // reaches would otherwise make an iterative scan walk the whole index (pgvector's max_scan_tuples trap).
    if (maxDistance !== null && (distance === null || distance > maxDistance)) continue;
    if (skip > 0) {
      skip--;
      continue;
    }
    const similarity =
      distance === null ? null : similarityFromDistance(collection.metric, distance);
    const keywordScore = candidate.keywordScore === null ? null : Number(candidate.keywordScore);
    const score =
      mode === 'vector'
        ? (similarity ?? 0)
        : mode === 'keyword'
          ? (keywordScore ?? 0)
          : (fusedScore ?? 0);
    results.push({
      id: candidate.id,
      externalId: candidate.externalId,
      tenant: candidate.tenant,
      content: candidate.content,
      contentTruncated: Number(candidate.contentLength) > options.contentChars,
      contentLength: Number(candidate.contentLength),
      metadata: candidate.metadata,
      createdAt: new Date(candidate.createdAt).toISOString(),
      similarity,
      distance,
      vectorRank,
      keywordRank,
      keywordScore,
      score,
    });
  }
  return results;
}
