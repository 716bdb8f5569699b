import { useQuery } from '@tanstack/react-query';
import { useTRPC } from './trpc';

/**
 * What the current API key may do (`auth.whoami`), asked once and cached: pages offer only the
 * controls the API would accept. Entering another key invalidates every query, this one too.
 * Until it answers (or if it fails), nothing that needs a scope is offered.
 */
export function useCapabilities() {
  const trpc = useTRPC();
  const whoami = useQuery(trpc.auth.whoami.queryOptions(undefined, { staleTime: Infinity }));
  return {
    known: whoami.isSuccess,
    canWrite: whoami.data?.scopes.includes('write') ?? false,
    canManageCollections: whoami.data?.canManageCollections ?? false,
  };
}
