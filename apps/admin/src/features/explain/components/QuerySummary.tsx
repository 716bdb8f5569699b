import { Link } from '@tanstack/react-router';
import { Button } from '../../../components/ui/button';
import { Card } from '../../../components/ui/card';
import type { SearchState } from '../../search';

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
    <Card className="flex flex-wrap items-end justify-between gap-3">
      <dl className="flex min-w-0 flex-wrap gap-x-5 gap-y-2 text-sm [&_dd]:break-words [&_dt]:text-xs [&_dt]:text-muted-foreground">
        <div>
          <dt>Text</dt>
          <dd>
            {state.text ? <q>{state.text}</q> : <span className="text-muted-foreground">none</span>}
          </dd>
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
          <dd className="max-w-full">
            {state.filter ? (
              <code className="break-all">{JSON.stringify(state.filter)}</code>
            ) : (
              'none'
            )}
          </dd>
        </div>
      </dl>
      <Button asChild variant="outline" size="sm">
        <Link to="/collections/$collection/search" params={{ collection }} search={state}>
          Edit in the playground
        </Link>
      </Button>
    </Card>
  );
}
