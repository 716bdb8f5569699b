import { useQuery } from '@tanstack/react-query';
import { getRouteApi, Link } from '@tanstack/react-router';
import { MetadataList } from '../../components/MetadataList';
import { PageHeader, Split } from '../../components/Page';
import { Stat, Stats } from '../../components/Stat';
import { ErrorState, Loading } from '../../components/StatusMessage';
import { Button } from '../../components/ui/button';
import { Card, CardTitle } from '../../components/ui/card';
import { formatScore } from '../../lib/format';
import { markdownToText } from '../../lib/markdown-text';
import { useTRPC } from '../../lib/trpc';
import { Neighbours } from './components/Neighbours';

export { DocumentBrowser } from './DocumentBrowser';
export {
  browseStateSchema,
  defaultBrowseState,
  defaultDocumentState,
  documentStateSchema,
} from './document-state';

const route = getRouteApi('/collections/$collection/documents/$documentId');

export function DocumentPage() {
  const { collection, documentId } = route.useParams();
  const { neighbours, tenant } = route.useSearch();
  const trpc = useTRPC();
  const document = useQuery(
    trpc.documents.get.queryOptions({ collection, id: documentId, ...(tenant ? { tenant } : {}) }),
  );

  return (
    <div>
      <PageHeader
        title={
          <>
            Document <code className="text-base break-all">{documentId}</code>
          </>
        }
        description={
          <>
            in{' '}
            <Link to="/collections/$collection/documents" params={{ collection }}>
              {collection}
            </Link>
          </>
        }
        actions={
          <Button asChild variant="outline" size="sm">
            <Link
              to="/collections/$collection/search"
              params={{ collection }}
              search={{ source: 'document', like: documentId, ...(tenant ? { tenant } : {}) }}
            >
              Search more like this
            </Link>
          </Button>
        }
      />
      {document.isPending ? <Loading what="the document" /> : null}
      {document.isError ? (
        <ErrorState
          error={document.error}
          action="load the document"
          onRetry={() => void document.refetch()}
        />
      ) : null}
      {document.data ? (
        <Split
          sideFirst={false}
          side={
            <Card aria-labelledby="neighbours-heading" className="space-y-3">
              <CardTitle id="neighbours-heading">Nearest neighbours</CardTitle>
              {document.data.dimensions === null ? (
                <p className="text-sm text-muted-foreground">
                  This document has no embedding, so it has no neighbours.
                </p>
              ) : (
                <Neighbours
                  collection={collection}
                  documentId={documentId}
                  count={neighbours}
                  tenant={tenant}
                />
              )}
            </Card>
          }
        >
          <Card aria-labelledby="content-heading" className="space-y-3">
            <CardTitle id="content-heading">Content</CardTitle>
            <p className="text-sm break-words whitespace-pre-line">
              {markdownToText(document.data.content)}
            </p>
          </Card>
          <Card aria-labelledby="metadata-heading" className="space-y-3">
            <CardTitle id="metadata-heading">Metadata</CardTitle>
            <MetadataList metadata={document.data.metadata} />
          </Card>
          <Card aria-labelledby="details-heading" className="space-y-3">
            <CardTitle id="details-heading">Embedding and record</CardTitle>
            <Stats>
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
                <code className="text-xs">{document.data.contentHash.slice(0, 16)}…</code>
              </Stat>
            </Stats>
          </Card>
        </Split>
      ) : null}
    </div>
  );
}
