import type { SearchInput } from './input';
import type { Candidate, Retrieval } from './types';

/** A candidate with its rank in each retrieval (1-based, null where it was not retrieved) and its score. */
export interface FusedCandidate {
  candidate: Candidate;
  vectorRank: number | null;
  keywordRank: number | null;
}

/**
 * The candidates of both retrievals, once each, with their ranks: vector order first, then the
 * keyword-only ones in keyword order. A candidate both found keeps the keyword score.
 */
export function mergeRetrievals(
  byVector: Retrieval | null,
  byKeyword: Retrieval | null,
): FusedCandidate[] {
  const merged = new Map<string, FusedCandidate>();
  byVector?.rows.forEach((candidate, index) =>
    merged.set(candidate.id, { candidate, vectorRank: index + 1, keywordRank: null }),
  );
  byKeyword?.rows.forEach((candidate, index) => {
    const existing = merged.get(candidate.id);
    if (existing) {
      existing.keywordRank = index + 1;
      existing.candidate.keywordScore = candidate.keywordScore;
    } else {
      merged.set(candidate.id, { candidate, vectorRank: null, keywordRank: index + 1 });
    }
  });
  return [...merged.values()];
}

/**
 * Hybrid fusion: each candidate's fused score (reciprocal rank fusion, Σ weight / (rrfK + rank)
 * over the retrievals that found it), best first; ties go to the better vector rank.
 */
export function fuseHybrid(
  merged: readonly FusedCandidate[],
  options: SearchInput['hybrid'],
): Array<FusedCandidate & { score: number }> {
  const { rrfK, vectorWeight, keywordWeight } = options;
  return merged
    .map((fused) => ({
      ...fused,
      score:
        (fused.vectorRank ? vectorWeight / (rrfK + fused.vectorRank) : 0) +
        (fused.keywordRank ? keywordWeight / (rrfK + fused.keywordRank) : 0),
    }))
    .sort((a, b) => b.score - a.score || (a.vectorRank ?? Infinity) - (b.vectorRank ?? Infinity));
}
