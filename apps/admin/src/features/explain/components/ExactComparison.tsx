import { Link } from '@tanstack/react-router';
import type { RouterOutputs } from '@quarry/api';
import { ErrorState, Loading } from '../../../components/StatusMessage';
import { formatScore, shortId } from '../../../lib/format';
import type { SearchState } from '../../search/search-state';
import { compareWithExact, formatRecall } from '../compare';
import type { ApiQuery } from '../../../lib/trpc';

type SearchResponse = RouterOutputs['search']['query'];
type SearchResult = SearchResponse['results'][number];

function ResultCell({
  result,
  collection,
  status,
}: {
  result: SearchResult | undefined;
  collection: string;
  status: 'ok' | 'missed' | 'extra';
}) {
  if (!result) return <td className="muted">–</td>;
  return (
    <td className={`compare-cell compare-${status}`}>
      <Link
        to="/collections/$collection/documents/$documentId"
        params={{ collection, documentId: result.id }}
      >
        <code>{shortId(result.id)}</code>
      </Link>{' '}
      <span className="muted">{formatScore(result.similarity)}</span>
      {status === 'missed' ? <span className="badge badge-bad">missed by the index</span> : null}
      {status === 'extra' ? <span className="badge badge-warn">not in exact top k</span> : null}
    </td>
  );
}

export function ExactComparison({
  collection,
  state,
  fromIndex,
  exact,
  onInspect,
}: {
  collection: string;
  state: SearchState;
  fromIndex: ApiQuery<SearchResponse>;
  exact: ApiQuery<SearchResponse>;
  onInspect: (documentId: string) => void;
}) {
  if (state.mode === 'keyword') {
    return (
      <p className="notice">
        Keyword search does not use the vector index, so there is nothing to compare: switch the
        query to vector or hybrid mode.
      </p>
    );
  }
  if (fromIndex.isError)
    return (
      <ErrorState
        error={fromIndex.error}
        action="run the search"
        onRetry={() => void fromIndex.refetch()}
      />
    );
  if (exact.isError)
    return (
      <ErrorState
        error={exact.error}
        action="run the exact search"
        onRetry={() => void exact.refetch()}
      />
    );
  if (fromIndex.isPending || exact.isPending) return <Loading what="the index and exact results" />;

  const comparison = compareWithExact(fromIndex.data.results, exact.data.results);
  const missedIds = new Set(comparison.missed.map(({ result }) => result.id));
  const exactIds = new Set(exact.data.results.map((result) => result.id));
  const rows = Math.max(fromIndex.data.results.length, exact.data.results.length);
  const stats = fromIndex.data.stats;
  return (
    <div
      className={
        fromIndex.isPlaceholderData || exact.isPlaceholderData ? 'results-stale' : undefined
      }
    >
      <div className="recall-line">
        <p className="recall" aria-label="recall">
          <span className="recall-label">recall@{state.k}</span>
          <span className="recall-value">{formatRecall(comparison.recall)}</span>
        </p>
        <p>
          The index returned {comparison.shared.length} of the {exact.data.results.length} results
          exact search returns.{' '}
          {stats.strategy === 'exact' ? (
            <span className="muted">
              This query was already answered by an exact scan ({stats.strategyReason}), so the two
              agree by construction.
            </span>
          ) : (
            <span className="muted">
              Index search:{' '}
              {stats.strategy === 'hnsw_iterative' ? 'HNSW with iterative scan' : 'HNSW'}, ef_search{' '}
              {stats.efSearch}; {fromIndex.data.stats.tookMs} ms against {exact.data.stats.tookMs}{' '}
              ms exact.
            </span>
          )}
        </p>
      </div>
      {comparison.missed.length > 0 ? (
        <div className="missed">
          <h3>Missed by the index</h3>
          <ul>
            {comparison.missed.map(({ result, exactRank }) => (
              <li key={result.id}>
                Exact rank {exactRank}: <code>{shortId(result.id)}</code> similarity{' '}
                {formatScore(result.similarity)} —{' '}
                <span className="muted">{result.content.slice(0, 120)}…</span>{' '}
                <button type="button" className="link-button" onClick={() => onInspect(result.id)}>
                  Why was it missed?
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <table className="compare-table">
        <caption className="sr-only">Index results beside exact results, by rank</caption>
        <thead>
          <tr>
            <th scope="col">Rank</th>
            <th scope="col">Index (what users get)</th>
            <th scope="col">Exact (ground truth)</th>
          </tr>
        </thead>
        <tbody>
          {Array.from({ length: rows }, (_, position) => {
            const indexed = fromIndex.data.results[position];
            const truth = exact.data.results[position];
            return (
              <tr key={position}>
                <th scope="row">{position + 1}</th>
                <ResultCell
                  result={indexed}
                  collection={collection}
                  status={indexed && !exactIds.has(indexed.id) ? 'extra' : 'ok'}
                />
                <ResultCell
                  result={truth}
                  collection={collection}
                  status={truth && missedIds.has(truth.id) ? 'missed' : 'ok'}
                />
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
