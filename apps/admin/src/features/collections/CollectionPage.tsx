import { useQuery } from '@tanstack/react-query';
import { getRouteApi } from '@tanstack/react-router';
import { PageHeader } from '../../components/Page';
import { Stat, Stats } from '../../components/Stat';
import { ErrorState, Loading } from '../../components/StatusMessage';
import { Card, CardTitle } from '../../components/ui/card';
import { useCapabilities } from '../../lib/capabilities';
import { formatBytes, formatCount } from '../../lib/format';
import { useTRPC } from '../../lib/trpc';
import { describeSearchWidth } from './search-width';
import { IndexState } from './components/CollectionCard';
import { ClusterLayout } from './components/ClusterLayout';
import { CollectionLinks } from './components/CollectionLinks';
import { DeleteCollection } from './components/DeleteCollection';
import { IndexParameters } from './components/IndexParameters';
import { Reembed } from './components/Reembed';
import { TableHealth } from './components/TableHealth';

const route = getRouteApi('/collections/$collection');
/** While an index builds, poll so its progress moves on screen. */
const BUILD_POLL_MS = 2_000;

export function CollectionPage() {
  const { collection: name } = route.useParams();
  const trpc = useTRPC();
  const key = useCapabilities();
  const query = useQuery(
    trpc.collections.get.queryOptions(
      { name },
      {
        refetchInterval: (q) =>
          q.state.data?.index?.building || (q.state.data?.table?.indexBuilds.length ?? 0) > 0
            ? BUILD_POLL_MS
            : false,
      },
    ),
  );
  return (
    <div className="space-y-4">
      <PageHeader
        title={<>Collection {name}</>}
        description="Settings, index and health; for an admin key not bound to a tenant, index changes, re-embedding and deletion."
        actions={<CollectionLinks name={name} upload={key.canWrite} />}
      />
      {query.isPending ? <Loading what="the collection" /> : null}
      {query.isError ? (
        <ErrorState
          error={query.error}
          action="load the collection"
          onRetry={() => void query.refetch()}
        />
      ) : null}
      {query.data ? (
        <>
          <Card aria-labelledby="settings-heading" className="space-y-3">
            <CardTitle id="settings-heading">Settings and index</CardTitle>
            <Stats>
              <Stat label="Documents">
                {formatCount(query.data.documentCount)}
                {query.data.tenant !== null ? ` (tenant ${query.data.tenant})` : ''}
              </Stat>
              <Stat label="Dimensions">{query.data.dimensions}</Stat>
              <Stat label="Metric">{query.data.metric}</Stat>
              <Stat label="Model">
                <code>{query.data.embeddingModel}</code>
              </Stat>
              <Stat label="Keyword language">
                <code>{query.data.textSearchConfig}</code>
              </Stat>
              <Stat label="Created">
                <time dateTime={query.data.createdAt}>
                  {new Date(query.data.createdAt).toLocaleString()}
                </time>
              </Stat>
              <Stat label="Index">
                HNSW on <code>{query.data.indexType}</code> <code>{query.data.operatorClass}</code>
              </Stat>
              <Stat label="HNSW parameters">
                m = {query.data.hnsw.m}, ef_construction = {query.data.hnsw.efConstruction}
              </Stat>
              <Stat label="Index state">
                <IndexState index={query.data.index} tenant={query.data.tenant} />
              </Stat>
              <Stat label="Index size">
                {query.data.index ? formatBytes(query.data.index.sizeBytes) : '–'}
              </Stat>
              <Stat label="Index name">
                <code className="text-xs">{query.data.index?.name ?? '–'}</code>
              </Stat>
              <Stat label="Search width">
                {query.data.searchWidth
                  ? describeSearchWidth(query.data.searchWidth)
                  : 'not shown to a key bound to a tenant'}
              </Stat>
            </Stats>
          </Card>
          <TableHealth query={query} />
          {key.known && !key.canManageCollections ? (
            <p className="text-sm text-muted-foreground" role="note">
              Changing the index, re-embedding or deleting this collection needs an admin key not
              bound to a tenant; this key can only look.
            </p>
          ) : null}
          <Reembed
            collection={name}
            unbound={query.data.tenant === null}
            manage={key.canManageCollections}
          />
          {key.canManageCollections ? (
            <>
              <ClusterLayout collection={name} />
              <IndexParameters collection={query.data} />
              <Card aria-labelledby="danger-heading" className="space-y-3 border-destructive/40">
                <CardTitle id="danger-heading">Delete</CardTitle>
                <p className="text-sm text-muted-foreground">
                  Deleting removes every document of every tenant in this collection.
                </p>
                <DeleteCollection name={name} documents={query.data.documentCount} />
              </Card>
            </>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
