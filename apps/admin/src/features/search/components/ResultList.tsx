import type { RouterOutputs } from '@quarry/api';
import { EmptyState, ErrorState, Loading } from '../../../components/StatusMessage';
import { queryStems } from '../highlight';
import type { QueryPlan, SearchState } from '../search-state';
import { ResultItem } from './ResultItem';
import { SearchStats } from './SearchStats';
import type { ApiQuery } from '../../../lib/trpc';
import { cn } from '../../../lib/utils';

type SearchResponse = RouterOutputs['search']['query'];

/** Why nothing came back, and the one change most likely to help. */
function NoResults({ state }: { state: SearchState }) {
  if (state.minSimilarity !== undefined && state.mode !== 'keyword') {
    return (
      <EmptyState title={`No result reaches similarity ${state.minSimilarity}.`}>
        <p>
          Lower the minimum similarity, or clear it and use the histogram on the Explain page to
          pick one.
        </p>
      </EmptyState>
    );
  }
  if (state.filter || state.tenant) {
    return (
      <EmptyState title="No document passes the filter.">
        <p>Loosen or remove the metadata filter{state.tenant ? ' or the tenant' : ''}.</p>
      </EmptyState>
    );
  }
  if (state.mode === 'keyword') {
    return (
      <EmptyState title="No document contains these words.">
        <p>Try other words, or switch to hybrid or vector mode to match by meaning.</p>
      </EmptyState>
    );
  }
  return (
    <EmptyState title="No results: the collection has no documents with embeddings yet.">
      Ingest documents, then search again.
    </EmptyState>
  );
}

export function ResultList({
  collection,
  state,
  plan,
  query,
}: {
  collection: string;
  state: SearchState;
  plan: QueryPlan;
  query: ApiQuery<SearchResponse>;
}) {
  if (!plan.ok) {
    return (
      <EmptyState title="Ready when you are.">
        <p>To search, {plan.missing}, then press Enter.</p>
      </EmptyState>
    );
  }
  if (query.isPending) return <Loading what="results" />;
  if (query.isError)
    return (
      <ErrorState
        error={query.error}
        action="run the search"
        onRetry={() => void query.refetch()}
      />
    );
  const { results, stats } = query.data;
  const stems = queryStems(state.text);
  return (
    <section
      className={cn('results space-y-3', query.isPlaceholderData && 'results-stale opacity-60')}
      aria-busy={query.isFetching}
      aria-label="results"
    >
      <SearchStats stats={stats} count={results.length} />
      {results.length === 0 ? <NoResults state={state} /> : null}
      {results.length > 0 && stats.fewerThanK ? (
        <p className="rounded-md bg-muted p-2 text-sm">
          Fewer than k = {state.k}: only {results.length}{' '}
          {results.length === 1 ? 'document passes' : 'documents pass'} the query&apos;s
          restrictions
          {state.minSimilarity !== undefined ? ' and threshold' : ''}.
        </p>
      ) : null}
      <ol className="space-y-3">
        {results.map((result, index) => (
          <ResultItem
            key={result.id}
            result={result}
            rank={index + 1}
            collection={collection}
            mode={stats.mode}
            stems={stems}
            tenant={state.tenant}
          />
        ))}
      </ol>
    </section>
  );
}
