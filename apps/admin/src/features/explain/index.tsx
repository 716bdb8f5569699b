import { getRouteApi } from '@tanstack/react-router';
import { EmptyState } from '../../components/StatusMessage';
import { pickSearchState, toSearchInput } from '../search/search-state';
import { useSearch } from '../search/use-search';
import { ExactComparison } from './components/ExactComparison';
import { QueryPlan } from './components/QueryPlan';
import { QuerySummary } from './components/QuerySummary';
import { SimilarityHistogram } from './components/SimilarityHistogram';
import { WhyNotDocument } from './components/WhyNotDocument';

const route = getRouteApi('/collections/$collection/explain');

export function ExplainPage() {
  const { collection } = route.useParams();
  const state = route.useSearch();
  const navigate = route.useNavigate();
  const search = pickSearchState(state);
  const plan = toSearchInput(collection, search);

  // The same query three ways: as served (with its plan), exactly, and as the nearest N by exact distance.
  const fromIndex = useSearch(collection, search, (input) => ({ ...input, explain: true }));
  const exact = useSearch(collection, search, (input) => ({ ...input, exact: true }));
  const nearest = useSearch(
    collection,
    { ...search, mode: 'vector', k: state.histogramSize, minSimilarity: undefined },
    (input) => ({ ...input, exact: true }),
  );

  const inspect = (documentId: string | undefined) =>
    void navigate({ search: (previous) => ({ ...previous, inspect: documentId }) });

  return (
    <div className="page">
      <header className="page-header">
        <h1>
          Explain results in <span className="collection-name">{collection}</span>
        </h1>
        <p className="muted">
          What the index returned against exact search, why a document is missing, and where to set
          the threshold.
        </p>
      </header>
      <QuerySummary collection={collection} state={search} />
      {!plan.ok ? (
        <EmptyState title="There is no query to explain yet.">
          <p>
            To explain a query, {plan.missing} in the playground, then choose &quot;Explain these
            results&quot;.
          </p>
        </EmptyState>
      ) : (
        <>
          <section className="card" aria-labelledby="compare-heading">
            <h2 id="compare-heading">Compare with exact search</h2>
            <ExactComparison
              collection={collection}
              state={search}
              fromIndex={fromIndex.query}
              exact={exact.query}
              onInspect={inspect}
            />
          </section>
          <section className="card" aria-labelledby="why-heading">
            <h2 id="why-heading">Why not document X?</h2>
            <WhyNotDocument
              key={state.inspect ?? ''}
              collection={collection}
              state={state}
              returned={fromIndex.query.data}
              onInspect={inspect}
            />
          </section>
          <section className="card" aria-labelledby="histogram-heading">
            <h2 id="histogram-heading">Similarity of the nearest {state.histogramSize}</h2>
            <SimilarityHistogram
              query={nearest.query}
              size={state.histogramSize}
              threshold={state.minSimilarity}
              onThreshold={(value) =>
                void navigate({ search: (previous) => ({ ...previous, minSimilarity: value }) })
              }
            />
          </section>
          <QueryPlan query={fromIndex.query} />
        </>
      )}
    </div>
  );
}
