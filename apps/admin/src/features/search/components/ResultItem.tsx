import { Link } from '@tanstack/react-router';
import type { RouterOutputs } from '@quarry/api';
import { MetadataList } from '../../../components/MetadataList';
import { SimilarityBar } from '../../../components/SimilarityBar';
import { formatScore, shortId } from '../../../lib/format';
import { withCondition } from '../filter/filter-draft';
import { snippet } from '../highlight';
import type { SearchMode } from '../search-state';

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
      className="metadata-filter"
      aria-label={label}
      title={label}
    >
      +
    </Link>
  );
}

function Rank({ label, value }: { label: string; value: number | null }) {
  return (
    <span
      className="rank-chip"
      title={
        value === null ? `not retrieved by ${label} search` : `rank ${value} in ${label} search`
      }
    >
      {label} {value === null ? '–' : `#${value}`}
    </span>
  );
}

export function ResultItem({
  result,
  rank,
  collection,
  mode,
  stems,
}: {
  result: SearchResult;
  rank: number;
  collection: string;
  mode: SearchMode;
  stems: ReadonlySet<string>;
}) {
  const shown = snippet(result.content, stems);
  return (
    <li className="result" data-document-id={result.id}>
      <div className="result-rank" aria-label={`rank ${rank}`}>
        {rank}
      </div>
      <div className="result-body">
        <div className="result-scores">
          <SimilarityBar similarity={result.similarity} />
          <span className="score-detail" title="raw pgvector distance">
            distance {formatScore(result.distance)}
          </span>
          {mode !== 'vector' ? (
            <>
              <Rank label="vector" value={result.vectorRank} />
              <Rank label="keyword" value={result.keywordRank} />
              <span
                className="score-detail"
                title={mode === 'hybrid' ? 'reciprocal rank fusion score' : 'ts_rank_cd'}
              >
                {mode === 'hybrid' ? 'fused' : 'keyword score'}{' '}
                {formatScore(result.score, mode === 'hybrid' ? 5 : 4)}
              </span>
            </>
          ) : null}
        </div>
        <p className="snippet">
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
        <div className="result-links">
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
