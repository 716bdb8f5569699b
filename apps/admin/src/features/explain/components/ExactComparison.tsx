import { Link } from '@tanstack/react-router';
import type { RouterOutputs } from '@quarry/api';
import { ErrorState, Loading } from '../../../components/StatusMessage';
import { formatScore, shortId } from '../../../lib/format';
import { Badge } from '../../../components/ui/badge';
import { Button } from '../../../components/ui/button';
import {
  Table,
  TableBody,
  TableCell,
  TableHead,
  TableHeader,
  TableRow,
} from '../../../components/ui/table';
import type { ApiQuery } from '../../../lib/trpc';
import { cn } from '../../../lib/utils';
import type { SearchState } from '../../search';
import { compareWithExact, formatRecall } from '../compare';

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
  if (!result) return <TableCell className="text-muted-foreground">–</TableCell>;
  return (
    <TableCell className={cn('space-x-1', status === 'missed' && 'bg-destructive/5')}>
      <Link
        to="/collections/$collection/documents/$documentId"
        params={{ collection, documentId: result.id }}
      >
        <code>{shortId(result.id)}</code>
      </Link>{' '}
      <span className="text-muted-foreground">{formatScore(result.similarity)}</span>
      {status === 'missed' ? <Badge variant="bad">missed by the index</Badge> : null}
      {status === 'extra' ? <Badge variant="warn">not in exact top k</Badge> : null}
    </TableCell>
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
      <p className="rounded-md bg-muted p-2 text-sm">
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
      className={cn(
        'space-y-3',
        (fromIndex.isPlaceholderData || exact.isPlaceholderData) && 'results-stale opacity-60',
      )}
    >
      <div className="flex flex-wrap items-center gap-3 sm:flex-nowrap">
        <p className="flex shrink-0 items-baseline gap-2" aria-label="recall">
          <span className="text-sm text-muted-foreground">recall@{state.k}</span>
          <span className="text-2xl font-semibold tabular-nums">
            {formatRecall(comparison.recall)}
          </span>
        </p>
        <p className="text-sm">
          The index returned {comparison.shared.length} of the {exact.data.results.length} results
          exact search returns.{' '}
          {stats.strategy === 'exact' ? (
            <span className="text-muted-foreground">
              This query was already answered by an exact scan ({stats.strategyReason}), so the two
              agree by construction.
            </span>
          ) : (
            <span className="text-muted-foreground">
              Index search:{' '}
              {stats.strategy === 'hnsw_iterative' ? 'HNSW with iterative scan' : 'HNSW'}, ef_search{' '}
              {stats.efSearch}; {fromIndex.data.stats.tookMs} ms against {exact.data.stats.tookMs}{' '}
              ms exact.
            </span>
          )}
        </p>
      </div>
      {comparison.missed.length > 0 ? (
        <div className="space-y-1">
          <h3>Missed by the index</h3>
          <ul className="space-y-1 text-sm">
            {comparison.missed.map(({ result, exactRank }) => (
              <li key={result.id} className="break-words">
                Exact rank {exactRank}: <code>{shortId(result.id)}</code> similarity{' '}
                {formatScore(result.similarity)} —{' '}
                <span className="text-muted-foreground">{result.content.slice(0, 120)}…</span>{' '}
                <Button variant="link" size="sm" onClick={() => onInspect(result.id)}>
                  Why was it missed?
                </Button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <Table className="compare-table">
        <caption className="sr-only">Index results beside exact results, by rank</caption>
        <TableHeader>
          <TableRow>
            <TableHead scope="col" className="w-12">
              Rank
            </TableHead>
            <TableHead scope="col">Index (what users get)</TableHead>
            <TableHead scope="col">Exact (ground truth)</TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {Array.from({ length: rows }, (_, position) => {
            const indexed = fromIndex.data.results[position];
            const truth = exact.data.results[position];
            return (
              <TableRow key={position}>
                <TableHead scope="row">{position + 1}</TableHead>
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
              </TableRow>
            );
          })}
        </TableBody>
      </Table>
    </div>
  );
}
