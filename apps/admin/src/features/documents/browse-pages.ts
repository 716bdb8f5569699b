import { MAX_BACK, type BrowseState } from './document-state';

type Position = Pick<BrowseState, 'cursor' | 'page' | 'back'>;

/** The page after this one, which starts at the API's `nextCursor`; this one's cursor is kept. */
export function nextPage<S extends Position>(state: S, nextCursor: string): S {
  const back = state.cursor ? [...(state.back ?? []), state.cursor].slice(-MAX_BACK) : undefined;
  return { ...state, cursor: nextCursor, page: state.page + 1, back };
}

/**
 * The page before this one, or undefined where there is none, or where its cursor was dropped
 * (more than MAX_BACK pages ago, or a link that came without them).
 */
export function previousPage<S extends Position>(state: S): S | undefined {
  if (state.page <= 1) return undefined;
  if (state.page === 2) return firstPage(state);
  const cursor = state.back?.at(-1);
  if (cursor === undefined) return undefined;
  const back = state.back?.slice(0, -1);
  return { ...state, cursor, page: state.page - 1, back: back?.length ? back : undefined };
}

/** The first page of the same selection. */
export function firstPage<S extends Position>(state: S): S {
  return { ...state, cursor: undefined, page: 1, back: undefined };
}
