import type { RouterOutputs } from '@quarry/api';
import type { ApiQuery } from '../../../lib/trpc';

type SearchResponse = RouterOutputs['search']['query'];

/** EXPLAIN ANALYZE of the vector and keyword retrievals: behind a disclosure, since few need it. */
export function QueryPlan({ query }: { query: ApiQuery<SearchResponse> }) {
  const vectorPlan = query.data?.plan ?? [];
  const keywordPlan = query.data?.keywordPlan ?? [];
  return (
    <details className="card disclosure">
      <summary>Query plan (EXPLAIN ANALYZE of the retrievals)</summary>
      {vectorPlan.length > 0 || keywordPlan.length > 0 ? (
        <>
          {vectorPlan.length > 0 && (
            <>
              <h4>Vector retrieval</h4>
              <p className="muted small">
                An <code>Index Scan using …hnsw…</code> means the index served the query; a{' '}
                <code>Seq Scan</code> with a <code>Sort</code> means an exact scan.
              </p>
              <pre className="plan">{vectorPlan.join('\n')}</pre>
            </>
          )}
          {keywordPlan.length > 0 && (
            <>
              <h4>Keyword retrieval</h4>
              <p className="muted small">
                A <code>Bitmap Index Scan on …search_text…</code> means the full-text index found
                the matches.
              </p>
              <pre className="plan">{keywordPlan.join('\n')}</pre>
            </>
          )}
        </>
      ) : (
        <p className="muted">{query.isPending ? 'Loading…' : 'No plan: this query has not run.'}</p>
      )}
    </details>
  );
}
