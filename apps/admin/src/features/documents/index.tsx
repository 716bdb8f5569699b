import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { MetadataList } from '../../components/MetadataList';
import { Stat } from '../../components/Stat';
import { ErrorState, Loading } from '../../components/StatusMessage';
import { formatScore } from '../../lib/format';
import { useTRPC } from '../../lib/trpc';
import { Neighbours } from './components/Neighbours';

const route = getRouteApi('/collections/$collection/documents/$documentId');

export function DocumentPage() {
  const { collection, documentId } = route.useParams();
  const { neighbours, tenant } = route.useSearch();
  const trpc = useTRPC();
  const document = useQuery(
    trpc.documents.get.queryOptions({ collection, id: documentId, ...(tenant ? { tenant } : {}) }),
  );

  return (
    <div className="page">
      <header className="page-header page-header-row">
        <div>
          <h1>
            Document <code className="document-id">{documentId}</code>
          </h1>
          <p className="muted">
            in{' '}
            <Link to="/collections/$collection/search" params={{ collection }}>
              {collection}
            </Link>
          </p>
        </div>
        <Link
          to="/collections/$collection/search"
          params={{ collection }}
          search={{ source: 'document', like: documentId, ...(tenant ? { tenant } : {}) }}
          className="button"
        >
          Search more like this
        </Link>
      </header>
      {document.isPending ? <Loading what="the document" /> : null}
      {document.isError ? (
        <ErrorState
          error={document.error}
          action="load the document"
          onRetry={() => void document.refetch()}
        />
      ) : null}
      {document.data ? (
        <div className="split">
          <div className="split-main">
            <section className="card" aria-labelledby="content-heading">
              <h2 id="content-heading">Content</h2>
              <p className="document-content">{document.data.content}</p>
            </section>
            <section className="card" aria-labelledby="metadata-heading">
              <h2 id="metadata-heading">Metadata</h2>
              <MetadataList metadata={document.data.metadata} />
            </section>
            <section className="card" aria-labelledby="details-heading">
              <h2 id="details-heading">Embedding and record</h2>
              <dl className="stats">
                <Stat label="Dimensions">{document.data.dimensions ?? 'no embedding'}</Stat>
                <Stat label="Norm (L2)">{formatScore(document.data.norm)}</Stat>
                <Stat label="Tenant">{document.data.tenant}</Stat>
                <Stat label="External id">{document.data.externalId ?? '–'}</Stat>
                <Stat label="Created">
                  <time dateTime={document.data.createdAt}>
                    {new Date(document.data.createdAt).toLocaleString()}
                  </time>
                </Stat>
                <Stat label="Updated">
                  <time dateTime={document.data.updatedAt}>
                    {new Date(document.data.updatedAt).toLocaleString()}
                  </time>
                </Stat>
                <Stat label="Content hash">
                  <code className="small">{document.data.contentHash.slice(0, 16)}…</code>
                </Stat>
              </dl>
            </section>
          </div>
          <aside className="split-side split-side-right">
            <section className="card" aria-labelledby="neighbours-heading">
              <h2 id="neighbours-heading">Nearest neighbours</h2>
              {document.data.dimensions === null ? (
                <p className="muted">This document has no embedding, so it has no neighbours.</p>
              ) : (
                <Neighbours
                  collection={collection}
                  documentId={documentId}
                  count={neighbours}
                  tenant={tenant}
                />
              )}
            </section>
          </aside>
        </div>
      ) : null}
    </div>
  );
}
