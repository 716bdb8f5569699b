import type { RouterOutputs } from '@quarry/api';
import type { ApiQuery } from '../../../lib/trpc';

type SearchResponse = RouterOutputs['search']['query'];

/** EXPLAIN ANALYZE of the vector retrieval: behind a disclosure, since few need it. */
export function QueryPlan({ query }: { query: ApiQuery<SearchResponse> }) {
  const plan = query.data?.plan;
  return (
    <details className="card disclosure">
      <summary>Query plan (EXPLAIN ANALYZE of the vector retrieval)</summary>
      {plan && plan.length > 0 ? (
        <>
          <p className="muted small">
            An <code>Index Scan using …hnsw…</code> means the index served the query; a{' '}
            <code>Seq Scan</code> with a <code>Sort</code> means an exact scan.
          </p>
          <pre className="plan">{plan.join('\n')}</pre>
        </>
      ) : (
        <p className="muted">
          {query.isPending
            ? 'Loading…'
            : 'No plan: this query has no vector retrieval (keyword mode), or it has not run.'}
        </p>
      )}
    </details>
  );
}
