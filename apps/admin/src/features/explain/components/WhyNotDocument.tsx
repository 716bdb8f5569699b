import { skipToken, useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useId, useState, type FormEvent } from 'react';
import type { RouterOutputs } from '@quarry/api';
import { ErrorState, Loading } from '../../../components/StatusMessage';
import { formatScore } from '../../../lib/format';
import { Stat, Stats } from '../../../components/Stat';
import { FieldError } from '../../../components/StatusMessage';
import { Button } from '../../../components/ui/button';
import { Input } from '../../../components/ui/input';
import { Label } from '../../../components/ui/label';
import { useTRPC } from '../../../lib/trpc';
import { cn } from '../../../lib/utils';
import { toSearchInput, type SearchState } from '../../search';
import { resolveDocumentId } from '../resolve-id';
import { verdict } from '../verdict';

type SearchResponse = RouterOutputs['search']['query'];
type Inspection = RouterOutputs['search']['inspectDocument'];

function Check({ ok, children }: { ok: boolean; children: string }) {
  return (
    <li className={cn('text-sm', ok ? 'text-good' : 'text-destructive')}>
      <span aria-hidden="true">{ok ? '✓' : '✗'}</span>{' '}
      <span className="sr-only">{ok ? 'yes:' : 'no:'}</span> {children}
    </li>
  );
}

function InspectionReport({
  inspection,
  state,
  returned,
  collection,
}: {
  inspection: Inspection;
  state: SearchState;
  returned: SearchResponse | undefined;
  collection: string;
}) {
  const position = returned?.results.findIndex((result) => result.id === inspection.id);
  const returnedRank = position === undefined ? undefined : position === -1 ? null : position + 1;
  return (
    <div className="space-y-3" aria-live="polite">
      <p className="verdict font-medium">
        {verdict(inspection, {
          k: state.k,
          minSimilarity: state.minSimilarity,
          returnedRank,
          efSearch: returned?.stats.efSearch,
        })}
      </p>
      <ul className="space-y-0.5">
        <Check ok={inspection.hasEmbedding}>has an embedding</Check>
        <Check ok={inspection.passesFilter}>passes the metadata filter</Check>
        <Check ok={inspection.inDateRange}>is in the date range</Check>
        <Check
          ok={inspection.passesThreshold}
        >{`reaches the minimum similarity${state.minSimilarity === undefined ? ' (none set)' : ` ${state.minSimilarity}`}`}</Check>
        <Check ok={inspection.withinK}>{`is within the exact top k = ${state.k}`}</Check>
      </ul>
      <Stats>
        <Stat label="Exact distance">{formatScore(inspection.distance)}</Stat>
        <Stat label="Similarity">{formatScore(inspection.similarity)}</Stat>
        <Stat label="Exact rank">{inspection.exactRank ?? '–'}</Stat>
        <Stat label="Tenant">{inspection.tenant}</Stat>
      </Stats>
      <Link
        to="/collections/$collection/documents/$documentId"
        params={{ collection, documentId: inspection.id }}
      >
        Open the document
      </Link>
    </div>
  );
}

/** "Why not document X?": where one document stands against this query. */
export function WhyNotDocument({
  collection,
  state,
  returned,
  shownIds,
  onInspect,
}: {
  collection: string;
  state: SearchState & { inspect?: string };
  returned: SearchResponse | undefined;
  /** Documents on the page: a short id (as results show it) is looked up among them. */
  shownIds: readonly string[];
  onInspect: (documentId: string | undefined) => void;
}) {
  const trpc = useTRPC();
  const inputId = useId();
  const [typed, setTyped] = useState(state.inspect ?? '');
  const [problem, setProblem] = useState<string>();
  // Inspection is by vector distance whatever the mode: it explains the vector side of the query.
  const plan = toSearchInput(collection, { ...state, mode: 'vector' });
  const inspection = useQuery(
    trpc.search.inspectDocument.queryOptions(
      plan.ok && state.inspect ? { ...plan.input, documentId: state.inspect } : skipToken,
    ),
  );

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!typed.trim()) {
      setProblem(undefined);
      onInspect(undefined);
      return;
    }
    const resolved = resolveDocumentId(typed, shownIds);
    if (!resolved.ok) {
      setProblem(resolved.problem);
      return;
    }
    setProblem(undefined);
    setTyped(resolved.id);
    onInspect(resolved.id);
  };

  return (
    <div className="space-y-3">
      <form className="flex flex-wrap items-end gap-2" onSubmit={onSubmit}>
        <div className="grid min-w-0 flex-1 gap-1.5">
          <Label htmlFor={inputId}>Document id</Label>
          <Input
            id={inputId}
            value={typed}
            onChange={(event) => setTyped(event.target.value)}
            placeholder="a short id from the results (3f2a9c1e) or a whole uuid"
            spellCheck={false}
            aria-invalid={problem ? true : undefined}
            className="min-w-48"
          />
        </div>
        <Button type="submit">Inspect</Button>
      </form>
      {problem ? <FieldError>{problem}</FieldError> : null}
      {!plan.ok ? (
        <p className="text-sm text-muted-foreground">
          Inspecting needs a query vector: {plan.missing}.
        </p>
      ) : null}
      {state.inspect && inspection.isPending && plan.ok ? <Loading what="the inspection" /> : null}
      {inspection.isError ? (
        <ErrorState
          error={inspection.error}
          action="inspect the document"
          onRetry={() => void inspection.refetch()}
        />
      ) : null}
      {inspection.data ? (
        <InspectionReport
          inspection={inspection.data}
          state={state}
          returned={returned}
          collection={collection}
        />
      ) : null}
    </div>
  );
}
