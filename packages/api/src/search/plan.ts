import { count, documents, sql, type SQL } from '@quarry/db';
import type { Transaction } from '../transaction';
import type { SearchInput } from './input';
import type { VectorStrategy } from './types';

const DEFAULT_EF_SEARCH = 40;
const MAX_EF_SEARCH = 1000;

export interface VectorPlan {
  strategy: VectorStrategy;
  reason: string;
  matchedRows: number | null;
  matchedRowsCappedAt: number | null;
  /** hnsw.ef_search: at least the number of candidates asked for. */
  efSearch: number;
}

/** hnsw.ef_search: as asked (default 40), and at least the number of candidates wanted. */
function efSearchFor(input: SearchInput, wanted: number): number {
  return Math.min(MAX_EF_SEARCH, Math.max(input.efSearch ?? DEFAULT_EF_SEARCH, wanted));
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
  const [row] = await tx.select({ n: count() }).from(matching);
  return row?.n ?? 0;
}

/**
 * The strategy of the vector retrieval. The rule (documented in packages/api/README.md):
 * - `exact: true` → exact scan;
 * - unrestricted → HNSW;
 * - restricted (tenant, dates or metadata filter) and at most `exactSearchMaxRows` rows match →
 *   exact scan, which is then both faster and exact;
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

/** See `planWithoutCounting`; `matchedRows` is counted up to `exactSearchMaxRows + 1`. */
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
    ...(plan.strategy === 'hnsw_iterative' ? { 'hnsw.iterative_scan': 'relaxed_order' } : {}),
    // The index must serve the ORDER BY ... LIMIT; the planner's estimate for jsonb filters is often
    // far too low, which would otherwise make it sort a bitmap scan of "few" rows. Nothing that
    // needs a sequential or bitmap scan runs after this in the transaction, except the exact re-run,
    // which turns them back on.
    enable_seqscan: 'off',
    enable_bitmapscan: 'off',
  };
}
