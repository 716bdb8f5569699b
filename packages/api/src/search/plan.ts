import { count, documents, sql, type SQL } from '@quarry/db';
import type { Transaction } from '../transaction';
import { runPrepared } from './columns';
import type { SearchInput } from './input';
import type { VectorStrategy } from './types';

/**
 * ef_search when the request names none. pgvector's own default, 40, left queries at recall 0 and
 * a mean of 0.87 at 50,000 x 1,536 (issue 12); 100 costs about 0.6 ms more and reaches 0.95.
 */
const DEFAULT_EF_SEARCH = 100;
const MAX_EF_SEARCH = 1000;
/**
 * Vector components an exact scan may read in place of the index (rows × dimensions): about 650
 * rows at 1,536 dimensions, 7,800 at 128. At 1,536 dimensions an exact scan of 4,500 rows took
 * 43 ms where a relaxed iterative index scan took 6 ms at recall 0.99 (issue 12).
 */
export const EXACT_SCAN_COMPONENTS = 1_000_000;
/**
 * Index tuples an iterative scan may visit before it gives up (pgvector's hnsw.max_scan_tuples,
 * default 20,000); fewer results than asked for then re-run exactly (retrieveByVector).
 */
const MAX_SCAN_TUPLES = 20_000;

export interface VectorPlan {
  strategy: VectorStrategy;
  reason: string;
  matchedRows: number | null;
  matchedRowsCappedAt: number | null;
  /** hnsw.ef_search: at least the number of candidates asked for. */
  efSearch: number;
}

/**
 * hnsw.ef_search: as asked, and at least the number of candidates wanted; by default
 * DEFAULT_EF_SEARCH and twice the candidates (the candidate list must be wider than the answer for
 * its tail to be right).
 */
export function efSearchFor(input: Pick<SearchInput, 'efSearch'>, wanted: number): number {
  const asked = input.efSearch ?? Math.max(DEFAULT_EF_SEARCH, 2 * wanted);
  return Math.min(MAX_EF_SEARCH, Math.max(asked, wanted));
}

/**
 * The most matching rows an exact scan answers: `exactSearchMaxRows`, and no more than
 * EXACT_SCAN_COMPONENTS allow at the collection's dimensions.
 */
export function exactScanMaxRows(dimensions: number, exactSearchMaxRows: number): number {
  return Math.min(exactSearchMaxRows, Math.floor(EXACT_SCAN_COMPONENTS / dimensions));
}

/** Rows matching the scope, counted up to `cap` (the LIMIT keeps the count cheap on big sets). */
export async function countUpTo(
  tx: Transaction,
  scope: SQL | undefined,
  cap: number,
): Promise<number> {
  const matching = tx
    .select({ one: sql`1` })
    .from(documents)
    .where(scope)
    .limit(cap)
    .as('matching');
  const [row] = await runPrepared(tx.select({ n: count() }).from(matching), 'quarry_count');
  return row?.n ?? 0;
}

/**
 * The strategy of the vector retrieval. The rule (documented in packages/api/README.md):
 * - `exact: true` → exact scan;
 * - unrestricted → HNSW;
 * - restricted (tenant, dates or metadata filter) and at most `exactScanMaxRows` rows match
 *   (`exactSearchMaxRows`, fewer at high dimensions) → exact scan, then both faster and exact;
 * - restricted and more match → HNSW with pgvector's iterative scan (relaxed order, re-sorted
 *   here), so the index keeps walking until enough rows pass the restrictions.
 * The first two need no database; `undefined` means the rows must be counted (`planByCount`).
 */
export function planWithoutCounting(
  input: SearchInput,
  restricted: boolean,
  wanted: number,
): VectorPlan | undefined {
  const unCounted = {
    matchedRows: null,
    matchedRowsCappedAt: null,
    efSearch: efSearchFor(input, wanted),
  };
  if (input.exact) return { strategy: 'exact', reason: 'exact search was requested', ...unCounted };
  if (!restricted) return { strategy: 'hnsw', reason: 'no restrictions: HNSW index', ...unCounted };
  return undefined;
}

/** See `planWithoutCounting`; `matchedRows` is counted up to `exactSearchMaxRows + 1` (the cutoff of `exactScanMaxRows`). */
export function planByCount(
  input: SearchInput,
  wanted: number,
  matchedRows: number,
  exactSearchMaxRows: number,
): VectorPlan {
  const counted = {
    matchedRows,
    matchedRowsCappedAt: exactSearchMaxRows,
    efSearch: efSearchFor(input, wanted),
  };
  if (matchedRows <= exactSearchMaxRows) {
    return {
      strategy: 'exact',
      reason: `the restrictions match ${matchedRows} rows (≤ ${exactSearchMaxRows}): scanning them is faster than walking the index, and exact`,
      ...counted,
    };
  }
  return {
    strategy: 'hnsw_iterative',
    reason: `the restrictions match more than ${exactSearchMaxRows} rows: HNSW with iterative scan until ${wanted} pass them`,
    ...counted,
  };
}

/** The settings an HNSW retrieval runs under; `SET LOCAL`, so they end with the request's transaction. */
export function hnswSettings(plan: VectorPlan): Record<string, string> {
  return {
    'hnsw.ef_search': String(plan.efSearch),
    // Relaxed order (results re-sorted here): strict order stops early on filtered scans.
    ...(plan.strategy === 'hnsw_iterative'
      ? { 'hnsw.iterative_scan': 'relaxed_order', 'hnsw.max_scan_tuples': String(MAX_SCAN_TUPLES) }
      : {}),
    // The index must serve the ORDER BY ... LIMIT; the planner's estimate for jsonb filters is often
    // far too low, which would otherwise make it sort a bitmap scan of "few" rows. Nothing that
    // needs a sequential or bitmap scan runs after this in the transaction, except the exact re-run,
    // which turns them back on.
    enable_seqscan: 'off',
    enable_bitmapscan: 'off',
  };
}
