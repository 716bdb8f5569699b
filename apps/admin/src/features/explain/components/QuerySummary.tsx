import { Link } from '@tanstack/react-router';
import type { SearchState } from '../../search/search-state';

/** The query being explained, in one line, with a way back to edit it. */
export function QuerySummary({ collection, state }: { collection: string; state: SearchState }) {
  const vectorFrom =
    state.mode === 'keyword'
      ? null
      : state.source === 'vector'
        ? `a pasted ${state.vector?.length ?? 0}-dimensional vector`
        : state.source === 'document'
          ? `document ${state.like ?? '?'}`
          : 'the embedded text';
  return (
    <div className="query-summary card">
      <dl className="inline-list">
        <div>
          <dt>Text</dt>
          <dd>{state.text ? <q>{state.text}</q> : <span className="muted">none</span>}</dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd>
            {state.mode}
            {state.mode === 'hybrid'
              ? ` (vector ×${state.vectorWeight}, keyword ×${state.keywordWeight}, RRF k ${state.rrfK})`
              : ''}
          </dd>
        </div>
        {vectorFrom ? (
          <div>
            <dt>Vector from</dt>
            <dd>{vectorFrom}</dd>
          </div>
        ) : null}
        <div>
          <dt>k</dt>
          <dd>{state.k}</dd>
        </div>
        <div>
          <dt>Min similarity</dt>
          <dd>{state.minSimilarity ?? 'none'}</dd>
        </div>
        <div>
          <dt>ef_search</dt>
          <dd>{state.efSearch ?? 'default'}</dd>
        </div>
        <div>
          <dt>Tenant</dt>
          <dd>{state.tenant ?? 'all'}</dd>
        </div>
        <div>
          <dt>Filter</dt>
          <dd>{state.filter ? <code>{JSON.stringify(state.filter)}</code> : 'none'}</dd>
        </div>
      </dl>
      <Link
        to="/collections/$collection/search"
        params={{ collection }}
        search={state}
        className="button"
      >
        Edit in the playground
      </Link>
    </div>
  );
}
