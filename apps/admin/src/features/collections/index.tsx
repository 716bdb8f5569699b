import { useQuery } from '@tanstack/react-query';
import { skipToken } from '@tanstack/react-query';
import { PageHeader } from '../../components/Page';
import { EmptyState, ErrorState, Loading } from '../../components/StatusMessage';
import { useCapabilities } from '../../lib/capabilities';
import { useTRPC } from '../../lib/trpc';
import { CollectionCard } from './components/CollectionCard';
import { CreateCollectionDialog } from './components/CreateCollectionDialog';
import { TableHealth } from './components/TableHealth';

export { CollectionPage } from './CollectionPage';

/** While an index builds, poll so its progress moves on screen. */
const BUILD_POLL_MS = 2_000;

export function CollectionsPage() {
  const trpc = useTRPC();
  const key = useCapabilities();
  const list = useQuery(
    trpc.collections.list.queryOptions(undefined, {
      refetchInterval: (query) =>
        query.state.data?.some((collection) => collection.index?.building) ? BUILD_POLL_MS : false,
    }),
  );
  const first = list.data?.[0]?.name;
  // Table health is the same for every collection (they share one table); any name fetches it.
  const health = useQuery(
    trpc.collections.get.queryOptions(first ? { name: first } : skipToken, {
      refetchInterval: (query) =>
        (query.state.data?.table?.indexBuilds.length ?? 0) > 0 ? BUILD_POLL_MS : false,
    }),
  );

  return (
    <div className="space-y-4">
      <PageHeader
        title="Collections"
        description="Sizes, index parameters and table health. Open a collection to manage, browse, search or explain it."
        actions={key.canManageCollections ? <CreateCollectionDialog /> : null}
      />
      {list.isPending ? <Loading what="collections" /> : null}
      {list.isError ? (
        <ErrorState
          error={list.error}
          action="load the collections"
          onRetry={() => void list.refetch()}
        />
      ) : null}
      {list.data?.length === 0 ? (
        <EmptyState title="No collections yet.">
          <p>
            Create one with &quot;New collection&quot; (an admin key),{' '}
            <code>quarry collections create</code> or the API&apos;s <code>collections.create</code>
            , then upload or ingest documents. A server started on the embedded database creates the
            demo collection <code>sotu</code> by itself.
          </p>
        </EmptyState>
      ) : null}
      {list.data && list.data.length > 0 ? (
        <>
          <ul className="grid gap-4 xl:grid-cols-2" aria-label="collections">
            {list.data.map((collection) => (
              <li key={collection.id} className="min-w-0">
                <CollectionCard collection={collection} />
              </li>
            ))}
          </ul>
          <TableHealth query={health} />
        </>
      ) : null}
    </div>
  );
}
