import type { VectorSet } from './synthetic';

/** Euclidean norms of every row, computed once. */
export function rowNorms(set: VectorSet): Float64Array {
  const norms = new Float64Array(set.count);
  const { values, dimensions } = set;
  for (let n = 0; n < set.count; n++) {
    let sum = 0;
    const offset = n * dimensions;
    for (let i = 0; i < dimensions; i++) sum += values[offset + i]! * values[offset + i]!;
    norms[n] = Math.sqrt(sum);
  }
  return norms;
}

/** Cosine distance from the query to every row: the ground truth, by brute force, in float64. */
export function cosineDistances(
  set: VectorSet,
  norms: Float64Array,
  query: ArrayLike<number>,
): Float64Array {
  const { values, dimensions } = set;
  let queryNorm = 0;
  for (let i = 0; i < dimensions; i++) queryNorm += query[i]! * query[i]!;
  queryNorm = Math.sqrt(queryNorm);
  const distances = new Float64Array(set.count);
  for (let n = 0; n < set.count; n++) {
    let dot = 0;
    const offset = n * dimensions;
    for (let i = 0; i < dimensions; i++) dot += values[offset + i]! * query[i]!;
    distances[n] = 1 - dot / (queryNorm * norms[n]!);
  }
  return distances;
}

export interface ExactResult {
  /** Row indices of the k nearest rows passing the filter, nearest first. */
  rows: number[];
  /** How many rows pass the filter. */
  matching: number;
}

export function exactTopK(
  distances: Float64Array,
  k: number,
  passes: (row: number) => boolean = () => true,
): ExactResult {
  const rows: number[] = [];
  let matching = 0;
  for (let n = 0; n < distances.length; n++) {
    if (!passes(n)) continue;
    matching++;
    const distance = distances[n]!;
    if (rows.length === k && distance >= distances[rows[k - 1]!]!) continue;
    let position = rows.length === k ? k - 1 : rows.length;
    while (position > 0 && distances[rows[position - 1]!]! > distance) position--;
    rows.splice(position, 0, n);
    if (rows.length > k) rows.pop();
  }
  return { rows, matching };
}

/**
 * recall@k with ties counted as hits: a returned row is correct when its exact distance is within
 * the k-th true distance (plus a float32 tolerance); divided by the number of rows that could be
 * returned, min(k, matching).
 */
export function recallAtK(
  distances: Float64Array,
  exact: ExactResult,
  returnedRows: readonly number[],
  k: number,
): number {
  const possible = Math.min(k, exact.matching);
  if (possible === 0) return 1;
  const kth = distances[exact.rows[possible - 1]!]!;
  const seen = new Set<number>();
  let hits = 0;
  for (const row of returnedRows.slice(0, k)) {
    if (seen.has(row)) continue;
    seen.add(row);
    if (distances[row]! <= kth + 1e-5) hits++;
  }
  return Math.min(1, hits / possible);
}
