import type { RouterOutputs } from '@quarry/api';
import { EmptyState, ErrorState, Loading } from '../../../components/StatusMessage';
import { formatScore } from '../../../lib/format';
import { histogram, keptBy } from '../histogram';
import { Button } from '../../../components/ui/button';
import type { ApiQuery } from '../../../lib/trpc';
import { cn } from '../../../lib/utils';

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
    <div className={cn('space-y-2', query.isPlaceholderData && 'results-stale opacity-60')}>
      <p className="text-sm">
        Nearest {values.length} of {size} asked · similarity {formatScore(Math.min(...values))} to{' '}
        {formatScore(Math.max(...values))}
        {threshold !== undefined ? (
          <>
            {' '}
            · minimum similarity <strong>{threshold}</strong> keeps <strong>{kept}</strong> of{' '}
            {values.length}{' '}
            <Button variant="link" size="sm" onClick={() => onThreshold(undefined)}>
              Clear the threshold
            </Button>
          </>
        ) : (
          ' · choose a bar to set the minimum similarity at its lower edge'
        )}
      </p>
      <div
        className="flex h-40 items-end gap-0.5 border-b sm:gap-1"
        role="group"
        aria-label="similarity histogram"
      >
        {bins.map((bin) => {
          const belowThreshold = threshold !== undefined && bin.to <= threshold;
          return (
            <button
              type="button"
              key={bin.from}
              className={cn(
                'group relative flex h-full min-w-0 flex-1 flex-col justify-end rounded-t-sm hover:bg-muted focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none',
                belowThreshold && 'opacity-40',
              )}
              onClick={() => onThreshold(bin.from)}
              aria-label={`similarity ${bin.from.toFixed(3)} to ${bin.to.toFixed(3)}: ${bin.count} results; set the minimum similarity to ${bin.from.toFixed(3)}`}
              title={`${bin.from.toFixed(3)}–${bin.to.toFixed(3)}: ${bin.count}`}
            >
              <span
                className="block w-full rounded-t-sm bg-primary/70 group-hover:bg-primary"
                style={{ height: `${tallest > 0 ? (bin.count / tallest) * 100 : 0}%` }}
              />
              <span className="absolute inset-x-0 top-0 hidden text-center text-[10px] text-muted-foreground sm:block">
                {bin.count > 0 ? bin.count : ''}
              </span>
            </button>
          );
        })}
      </div>
      <div className="flex justify-between text-xs text-muted-foreground" aria-hidden="true">
        <span>{bins[0]?.from.toFixed(2)}</span>
        <span>similarity</span>
        <span>{bins.at(-1)?.to.toFixed(2)}</span>
      </div>
    </div>
  );
}
