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

/** How hybrid search combines its two retrievals. */
export const fusionMethods = ['rrf', 'score'] as const;
export type FusionMethod = (typeof fusionMethods)[number];

/**
 * The hybrid defaults, chosen on the known-item set of the demo corpus (packages/corpus/known-items,
 * the `quality` part of `pnpm bench`; 250 queries, 15,754 passages, offline embeddings): score 1:1
 * MRR@10 0.049, recall@10 0.096; rrf k=60 1:1 0.044 / 0.084; vector alone 0.037 / 0.056, keyword
 * alone 0.043 / 0.096; score 1:2 0.050 / 0.104 (one query's worth better on MRR) and score 2:1
 * 0.039 / 0.072. 1:1 keeps a strong hit of one retrieval: the vector's best for "war in Iraq" is
 * second (score 1:2: eighth; rrf: sixth), so it is the default.
 */
export const HYBRID_DEFAULTS = {
  fusion: 'score',
  rrfK: 60,
  vectorWeight: 1,
  keywordWeight: 1,
} as const satisfies {
  fusion: FusionMethod;
  rrfK: number;
  vectorWeight: number;
  keywordWeight: number;
};

type Scored = FusedCandidate & { score: number };

/**
 * Hybrid fusion: each candidate's fused score, best first; ties go to the better vector rank.
 * - `rrf`, reciprocal rank fusion: Σ weight / (rrfK + rank) over the retrievals that found it.
 * - `score`: vectorWeight × the vector similarity plus keywordWeight × the keyword score, each
 *   scaled to [0, 1] (min–max) over the candidates its own retrieval found, 0 where it did not.
 */
export function fuseHybrid(
  merged: readonly FusedCandidate[],
  options: SearchInput['hybrid'],
): Scored[] {
  const scored = options.fusion === 'score' ? byScores(merged, options) : byRanks(merged, options);
  return scored.sort(
    (a, b) => b.score - a.score || (a.vectorRank ?? Infinity) - (b.vectorRank ?? Infinity),
  );
}

function byRanks(merged: readonly FusedCandidate[], options: SearchInput['hybrid']): Scored[] {
  const { rrfK, vectorWeight, keywordWeight } = options;
  return merged.map((fused) => ({
    ...fused,
    score:
      (fused.vectorRank ? vectorWeight / (rrfK + fused.vectorRank) : 0) +
      (fused.keywordRank ? keywordWeight / (rrfK + fused.keywordRank) : 0),
  }));
}

/** Maps values onto [0, 1] by the smallest and largest present (all equal: 1); null stays 0. */
function minMax(values: ReadonlyArray<number | null>): number[] {
  const present = values.filter((value): value is number => value !== null);
  const low = Math.min(...present);
  const high = Math.max(...present);
  return values.map((value) =>
    value === null ? 0 : high > low ? (value - low) / (high - low) : 1,
  );
}

function byScores(merged: readonly FusedCandidate[], options: SearchInput['hybrid']): Scored[] {
  const { vectorWeight, keywordWeight } = options;
  // Each score counts for the candidates its own retrieval found, so each retrieval's best is 1.
  // (Giving keyword hits their vector distances too, which the keyword retrieval computes, scored a
  // little higher on the known-item set but pushed the vector's best hit for "war in Iraq" out of
  // the first 10: a vector hit has no keyword score to match.) Smaller distance is closer for
  // every metric (inner product's is its negative).
  const closeness = minMax(
    merged.map(({ candidate, vectorRank }) =>
      vectorRank === null || candidate.distance === null ? null : -candidate.distance,
    ),
  );
  const keyword = minMax(
    merged.map(({ candidate, keywordRank }) =>
      keywordRank === null || candidate.keywordScore === null
        ? null
        : Number(candidate.keywordScore),
    ),
  );
  return merged.map((fused, index) => ({
    ...fused,
    score: vectorWeight * closeness[index]! + keywordWeight * keyword[index]!,
  }));
}
