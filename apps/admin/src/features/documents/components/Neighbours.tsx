import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { SimilarityBar } from '../../../components/SimilarityBar';
import { EmptyState, ErrorState, Loading } from '../../../components/StatusMessage';
import { shortId } from '../../../lib/format';
import { markdownToText } from '../../../lib/markdown-text';
import { useTRPC } from '../../../lib/trpc';

/** The documents nearest to this one, each a link to its own page (and its own neighbours). */
export function Neighbours({
  collection,
  documentId,
  count,
  tenant,
}: {
  collection: string;
  documentId: string;
  count: number;
  tenant: string | undefined;
}) {
  const trpc = useTRPC();
  // One more than shown: the document itself is its own nearest neighbour.
  const query = useQuery(
    trpc.search.query.queryOptions({
      collection,
      likeDocumentId: documentId,
      k: count + 1,
      contentMaxChars: 160,
      ...(tenant ? { tenant } : {}),
    }),
  );
  if (query.isPending) return <Loading what="neighbours" />;
  if (query.isError)
    return (
      <ErrorState
        error={query.error}
        action="find the neighbours"
        onRetry={() => void query.refetch()}
      />
    );
  const neighbours = query.data.results
    .filter((result) => result.id !== documentId)
    .slice(0, count);
  if (neighbours.length === 0)
    return <EmptyState title="No other document in this collection has an embedding yet." />;
  return (
    <>
      <ol className="space-y-3" aria-label="nearest neighbours">
        {neighbours.map((neighbour) => (
          <li key={neighbour.id} className="space-y-1 text-sm">
            <Link
              to="/collections/$collection/documents/$documentId"
              params={{ collection, documentId: neighbour.id }}
              search={(previous) => previous}
              className="line-clamp-3 break-words"
            >
              <code>{shortId(neighbour.id)}</code> {markdownToText(neighbour.content)}
              {neighbour.contentTruncated ? '…' : ''}
            </Link>
            <SimilarityBar similarity={neighbour.similarity} />
          </li>
        ))}
      </ol>
      <Link
        to="."
        search={(previous) => ({ ...previous, neighbours: Math.min(100, count + 10) })}
        className="mt-3 inline-block text-sm"
      >
        Show more
      </Link>
    </>
  );
}
