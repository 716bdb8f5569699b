import type { RouterOutputs } from '@quarry/api';
import { formatCount } from '../../../lib/format';

type Stats = RouterOutputs['search']['query']['stats'];

const strategyLabels: Record<NonNullable<Stats['strategy']>, string> = {
  hnsw: 'HNSW index',
  hnsw_iterative: 'HNSW index, iterative scan',
  exact: 'exact scan',
};

/** How the server answered: time, how the vector side ran and why, and whether it is approximate. */
export function SearchStats({ stats, count }: { stats: Stats; count: number }) {
  return (
    <div className="space-y-1 text-sm" aria-label="search statistics">
      <p>
        <strong>{count}</strong> {count === 1 ? 'result' : 'results'} in {stats.tookMs} ms ·{' '}
        {stats.mode} search
        {stats.strategy ? ` · ${strategyLabels[stats.strategy]}` : ''}
        {stats.strategy ? (stats.approximate ? ' (approximate)' : ' (exact)') : ''}
        {stats.efSearch !== null ? ` · ef_search ${stats.efSearch}` : ''}
        {stats.mode === 'hybrid' ? ` · ${stats.candidates} candidates per retriever` : ''}
        {stats.matchedRows !== null
          ? ` · ${stats.matchedRowsCappedAt !== null && stats.matchedRows > stats.matchedRowsCappedAt ? `more than ${formatCount(stats.matchedRowsCappedAt)}` : formatCount(stats.matchedRows)} rows match the restrictions`
          : ''}
      </p>
      {stats.strategyReason ? (
        <p className="text-xs text-muted-foreground">Why: {stats.strategyReason}</p>
      ) : null}
      {stats.approximateReason ? (
        <p className="text-xs text-muted-foreground">Approximate: {stats.approximateReason}</p>
      ) : null}
    </div>
  );
}
