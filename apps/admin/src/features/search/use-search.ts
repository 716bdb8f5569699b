import { keepPreviousData, skipToken, useQuery } from '@tanstack/react-query';
import type { RouterInputs } from '@quarry/api';
import { useTRPC } from '../../lib/trpc';
import { toSearchInput, type SearchState } from './search-state';

type SearchQueryInput = RouterInputs['search']['query'];

/**
 * Runs the search a state stands for. `adjust` rewrites the API input (exact search, a larger k)
 * for pages that ask a variation of the same query.
 */
export function useSearch(
  collection: string,
  state: SearchState,
  adjust?: (input: SearchQueryInput) => SearchQueryInput,
) {
  const trpc = useTRPC();
  const plan = toSearchInput(collection, state);
  const input = plan.ok ? (adjust ? adjust(plan.input) : plan.input) : skipToken;
  // Earlier results stay on screen (dimmed) while the next query runs, so the page does not jump.
  const query = useQuery(
    trpc.search.query.queryOptions(input, { placeholderData: keepPreviousData }),
  );
  return { plan, query };
}

/** The metadata keys of a collection, for the filter builder; they change rarely. */
export function useMetadataKeys(collection: string) {
  const trpc = useTRPC();
  return useQuery(trpc.search.metadataKeys.queryOptions({ collection }, { staleTime: 5 * 60_000 }));
}
