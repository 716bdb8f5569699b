import { getRouteApi } from '@tanstack/react-router';
import { PageHeader } from '../../components/Page';
import { EmptyState } from '../../components/StatusMessage';
import { Card, CardTitle } from '../../components/ui/card';
import { pickSearchState, toSearchInput, useSearch } from '../search';
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

  // The documents on screen, whose short ids "Why not document X?" accepts.
  const shownIds = [fromIndex, exact, nearest].flatMap(
    ({ query }) => query.data?.results.map((result) => result.id) ?? [],
  );

  const inspect = (documentId: string | undefined) =>
    void navigate({ search: (previous) => ({ ...previous, inspect: documentId }) });

  return (
    <div className="space-y-4">
      <PageHeader
        title={<>Explain results in {collection}</>}
        description="What the index returned against exact search, why a document is missing, and where to set the threshold."
      />
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
          <Card aria-labelledby="compare-heading" className="space-y-3">
            <CardTitle id="compare-heading">Compare with exact search</CardTitle>
            <ExactComparison
              collection={collection}
              state={search}
              fromIndex={fromIndex.query}
              exact={exact.query}
              onInspect={inspect}
            />
          </Card>
          <Card aria-labelledby="why-heading" className="space-y-3">
            <CardTitle id="why-heading">Why not document X?</CardTitle>
            <WhyNotDocument
              key={state.inspect ?? ''}
              collection={collection}
              state={state}
              returned={fromIndex.query.data}
              shownIds={shownIds}
              onInspect={inspect}
            />
          </Card>
          <Card aria-labelledby="histogram-heading" className="space-y-3">
            <CardTitle id="histogram-heading">
              Similarity of the nearest {state.histogramSize}
            </CardTitle>
            <SimilarityHistogram
              query={nearest.query}
              size={state.histogramSize}
              threshold={state.minSimilarity}
              onThreshold={(value) =>
                void navigate({ search: (previous) => ({ ...previous, minSimilarity: value }) })
              }
            />
          </Card>
          <QueryPlan query={fromIndex.query} />
        </>
      )}
    </div>
  );
}
