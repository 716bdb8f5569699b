import { Link } from '@tanstack/react-router';
import type { RouterOutputs } from '@quarry/api';
import { MetadataList } from '../../../components/MetadataList';
import { SimilarityBar } from '../../../components/SimilarityBar';
import { Badge } from '../../../components/ui/badge';
import { formatScore, shortId } from '../../../lib/format';
import { markdownToText } from '../../../lib/markdown-text';
import { withCondition } from '../filter/filter-draft';
import { snippet } from '../highlight';
import type { SearchMode } from '../search-state';
import { FullDocumentDialog } from './FullDocumentDialog';

type SearchResult = RouterOutputs['search']['query']['results'][number];

type Scalar = string | number | boolean | null;
const isScalar = (value: unknown): value is Scalar =>
  value === null || ['string', 'number', 'boolean'].includes(typeof value);

/** Narrows the current query to results sharing this metadata value. */
function FilterToValue({
  collection,
  metadataKey,
  value,
}: {
  collection: string;
  metadataKey: string;
  value: unknown;
}) {
  if (!isScalar(value)) return null;
  const label = `only results with ${metadataKey} = ${String(value)}`;
  return (
    <Link
      to="/collections/$collection/search"
      params={{ collection }}
      search={(previous) => ({
        ...previous,
        filter: withCondition(previous.filter, { key: metadataKey, op: 'eq', value }),
      })}
      className="border-l px-1.5 py-0.5 font-semibold no-underline hover:bg-muted hover:no-underline"
      aria-label={label}
      title={label}
    >
      +
    </Link>
  );
}

function Rank({ label, value }: { label: string; value: number | null }) {
  return (
    <Badge
      variant="outline"
      className="rank-chip"
      title={
        value === null ? `not retrieved by ${label} search` : `rank ${value} in ${label} search`
      }
    >
      {label} {value === null ? '–' : `#${value}`}
    </Badge>
  );
}

export function ResultItem({
  result,
  rank,
  collection,
  mode,
  stems,
  tenant,
}: {
  result: SearchResult;
  rank: number;
  collection: string;
  mode: SearchMode;
  stems: ReadonlySet<string>;
  tenant: string | undefined;
}) {
  // Markdown shows as the text a reader sees, then the query's words are highlighted in it.
  const shown = snippet(markdownToText(result.content), stems);
  return (
    <li
      className="result grid grid-cols-[2rem_minmax(0,1fr)] gap-3 rounded-lg border bg-card p-3 sm:p-4"
      data-document-id={result.id}
    >
      <div
        className="result-rank text-right font-mono text-lg text-muted-foreground"
        aria-label={`rank ${rank}`}
      >
        {rank}
      </div>
      <div className="min-w-0 space-y-2">
        <div className="flex flex-wrap items-center gap-x-3 gap-y-1 text-xs text-muted-foreground">
          <SimilarityBar similarity={result.similarity} />
          <span title="raw pgvector distance">distance {formatScore(result.distance)}</span>
          {mode !== 'vector' ? (
            <>
              <Rank label="vector" value={result.vectorRank} />
              <Rank label="keyword" value={result.keywordRank} />
              <span title={mode === 'hybrid' ? 'reciprocal rank fusion score' : 'ts_rank_cd'}>
                {mode === 'hybrid' ? 'fused' : 'keyword score'}{' '}
                {formatScore(result.score, mode === 'hybrid' ? 5 : 4)}
              </span>
            </>
          ) : null}
        </div>
        <p className="snippet text-sm break-words whitespace-pre-line">
          {shown.clippedStart ? '… ' : ''}
          {shown.segments.map((segment, index) =>
            segment.match ? <mark key={index}>{segment.text}</mark> : segment.text,
          )}
          {shown.clippedEnd || result.contentTruncated ? ' …' : ''}
        </p>
        <MetadataList
          metadata={result.metadata}
          action={(key, value) => (
            <FilterToValue collection={collection} metadataKey={key} value={value} />
          )}
        />
        <div className="flex flex-wrap items-center gap-x-4 gap-y-1 text-sm">
          <FullDocumentDialog collection={collection} documentId={result.id} tenant={tenant} />
          <Link
            to="/collections/$collection/documents/$documentId"
            params={{ collection, documentId: result.id }}
          >
            Open document <code>{shortId(result.id)}</code>
          </Link>
          <Link
            to="/collections/$collection/search"
            params={{ collection }}
            search={(previous) => ({
              ...previous,
              source: 'document' as const,
              like: result.id,
              mode: 'vector' as const,
            })}
          >
            More like this
          </Link>
        </div>
      </div>
    </li>
  );
}
