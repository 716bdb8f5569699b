import type { RouterOutputs } from '@quarry/api';
import { Card } from '../../../components/ui/card';
import type { ApiQuery } from '../../../lib/trpc';
import { abbreviateVectors } from '../abbreviate-plan';

const planClasses =
  'plan max-h-[32rem] overflow-auto rounded-md bg-muted p-3 text-xs leading-relaxed whitespace-pre';
const noteClasses = 'text-xs text-muted-foreground';

type SearchResponse = RouterOutputs['search']['query'];

/** EXPLAIN ANALYZE of the vector and keyword retrievals: behind a disclosure, since few need it. */
export function QueryPlan({ query }: { query: ApiQuery<SearchResponse> }) {
  const vectorPlan = query.data?.plan ?? [];
  const keywordPlan = query.data?.keywordPlan ?? [];
  return (
    <Card className="p-0 sm:p-0">
      <details className="group p-4 sm:p-5">
        <summary className="cursor-pointer text-base font-semibold">
          Query plan (EXPLAIN ANALYZE of the retrievals)
        </summary>
        <div className="mt-3 space-y-2">
          {vectorPlan.length > 0 || keywordPlan.length > 0 ? (
            <>
              {vectorPlan.length > 0 && (
                <>
                  <h3>Vector retrieval</h3>
                  <p className={noteClasses}>
                    An <code>Index Scan using …hnsw…</code> means the index served the query; a{' '}
                    <code>Seq Scan</code> with a <code>Sort</code> means an exact scan.
                  </p>
                  <pre className={planClasses}>{vectorPlan.map(abbreviateVectors).join('\n')}</pre>
                </>
              )}
              {keywordPlan.length > 0 && (
                <>
                  <h3>Keyword retrieval</h3>
                  <p className={noteClasses}>
                    A <code>Bitmap Index Scan on …search_text…</code> means the full-text index
                    found the matches.
                  </p>
                  <pre className={planClasses}>{keywordPlan.map(abbreviateVectors).join('\n')}</pre>
                </>
              )}
            </>
          ) : (
            <p className="text-sm text-muted-foreground">
              {query.isPending ? 'Loading…' : 'No plan: this query has not run.'}
            </p>
          )}
        </div>
      </details>
    </Card>
  );
}
