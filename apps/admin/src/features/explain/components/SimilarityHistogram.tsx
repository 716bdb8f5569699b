import type { RouterOutputs } from '@quarry/api';
import { EmptyState, ErrorState, Loading } from '../../../components/StatusMessage';
import { formatScore } from '../../../lib/format';
import { histogram, keptBy } from '../histogram';
import type { ApiQuery } from '../../../lib/trpc';

type SearchResponse = RouterOutputs['search']['query'];

/**
 * Similarity of the nearest N documents, by exact search and without any threshold, to see
 * where relevant results thin out. Choosing a bar sets the threshold to its lower edge.
 */
export function SimilarityHistogram({
  query,
  size,
  threshold,
  onThreshold,
}: {
  query: ApiQuery<SearchResponse>;
  size: number;
  threshold: number | undefined;
  onThreshold: (value: number | undefined) => void;
}) {
  if (query.isPending) return <Loading what="the similarity distribution" />;
  if (query.isError)
    return (
      <ErrorState
        error={query.error}
        action="load the similarity distribution"
        onRetry={() => void query.refetch()}
      />
    );
  const values = query.data.results.flatMap((result) =>
    result.similarity === null ? [] : [result.similarity],
  );
  if (values.length === 0)
    return (
      <EmptyState title="No similarities to show: nothing matched the query's restrictions." />
    );
  const bins = histogram(values, 20);
  const tallest = Math.max(...bins.map((bin) => bin.count));
  const kept = keptBy(values, threshold);
  return (
    <div className={query.isPlaceholderData ? 'results-stale' : undefined}>
      <p>
        Nearest {values.length} of {size} asked · similarity {formatScore(Math.min(...values))} to{' '}
        {formatScore(Math.max(...values))}
        {threshold !== undefined ? (
          <>
            {' '}
            · minimum similarity <strong>{threshold}</strong> keeps <strong>{kept}</strong> of{' '}
            {values.length}{' '}
            <button type="button" className="link-button" onClick={() => onThreshold(undefined)}>
              Clear the threshold
            </button>
          </>
        ) : (
          ' · choose a bar to set the minimum similarity at its lower edge'
        )}
      </p>
      <div className="histogram" role="group" aria-label="similarity histogram">
        {bins.map((bin) => {
          const belowThreshold = threshold !== undefined && bin.to <= threshold;
          return (
            <button
              type="button"
              key={bin.from}
              className={`histogram-bar${belowThreshold ? ' histogram-bar-cut' : ''}`}
              onClick={() => onThreshold(bin.from)}
              aria-label={`similarity ${bin.from.toFixed(3)} to ${bin.to.toFixed(3)}: ${bin.count} results; set the minimum similarity to ${bin.from.toFixed(3)}`}
              title={`${bin.from.toFixed(3)}–${bin.to.toFixed(3)}: ${bin.count}`}
            >
              <span
                className="histogram-fill"
                style={{ height: `${tallest > 0 ? (bin.count / tallest) * 100 : 0}%` }}
              />
              <span className="histogram-count">{bin.count > 0 ? bin.count : ''}</span>
            </button>
          );
        })}
      </div>
      <div className="histogram-axis" aria-hidden="true">
        <span>{bins[0]?.from.toFixed(2)}</span>
        <span>similarity</span>
        <span>{bins.at(-1)?.to.toFixed(2)}</span>
      </div>
    </div>
  );
}
