import { skipToken, useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { useId, useState, type FormEvent } from 'react';
import type { RouterOutputs } from '@quarry/api';
import { ErrorState, Loading } from '../../../components/StatusMessage';
import { formatScore } from '../../../lib/format';
import { useTRPC } from '../../../lib/trpc';
import { toSearchInput, type SearchState } from '../../search/search-state';
import { verdict } from '../verdict';

type SearchResponse = RouterOutputs['search']['query'];
type Inspection = RouterOutputs['search']['inspectDocument'];

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function Check({ ok, children }: { ok: boolean; children: string }) {
  return (
    <li className={ok ? 'check check-ok' : 'check check-fail'}>
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
    <div className="inspection" aria-live="polite">
      <p className="verdict">
        {verdict(inspection, {
          k: state.k,
          minSimilarity: state.minSimilarity,
          returnedRank,
          efSearch: returned?.stats.efSearch,
        })}
      </p>
      <ul className="checks">
        <Check ok={inspection.hasEmbedding}>has an embedding</Check>
        <Check ok={inspection.passesFilter}>passes the metadata filter</Check>
        <Check ok={inspection.inDateRange}>is in the date range</Check>
        <Check
          ok={inspection.passesThreshold}
        >{`reaches the minimum similarity${state.minSimilarity === undefined ? ' (none set)' : ` ${state.minSimilarity}`}`}</Check>
        <Check ok={inspection.withinK}>{`is within the exact top k = ${state.k}`}</Check>
      </ul>
      <dl className="stats">
        <div className="stat">
          <dt>Exact distance</dt>
          <dd>{formatScore(inspection.distance)}</dd>
        </div>
        <div className="stat">
          <dt>Similarity</dt>
          <dd>{formatScore(inspection.similarity)}</dd>
        </div>
        <div className="stat">
          <dt>Exact rank</dt>
          <dd>{inspection.exactRank ?? '–'}</dd>
        </div>
        <div className="stat">
          <dt>Tenant</dt>
          <dd>{inspection.tenant}</dd>
        </div>
      </dl>
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
  onInspect,
}: {
  collection: string;
  state: SearchState & { inspect?: string };
  returned: SearchResponse | undefined;
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
    const id = typed.trim();
    if (id && !uuidPattern.test(id)) {
      setProblem('a document id is a uuid, like the ones shown on each result');
      return;
    }
    setProblem(undefined);
    onInspect(id || undefined);
  };

  return (
    <div>
      <form className="inline-form" onSubmit={onSubmit}>
        <label htmlFor={inputId}>Document id</label>
        <input
          id={inputId}
          value={typed}
          onChange={(event) => setTyped(event.target.value)}
          placeholder="00000000-0000-0000-0000-000000000000"
          spellCheck={false}
          aria-invalid={problem ? true : undefined}
        />
        <button type="submit">Inspect</button>
      </form>
      {problem ? <p className="field-error">{problem}</p> : null}
      {!plan.ok ? <p className="muted">Inspecting needs a query vector: {plan.missing}.</p> : null}
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
