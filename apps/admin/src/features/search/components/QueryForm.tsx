import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import type { KeyTypes } from '../filter/filter-draft';
import {
  initialEditorState,
  resolveFilter,
  type FilterEditorState,
} from '../filter/filter-editor-state';
import { draftToState, stateToDraft, type DraftField, type QueryDraft } from '../query-draft';
import {
  querySources,
  searchModes,
  type QuerySource,
  type SearchMode,
  type SearchState,
} from '../search-state';
import { useMetadataKeys } from '../use-search';
import { FieldError } from '../../../components/StatusMessage';
import { Button } from '../../../components/ui/button';
import { Card } from '../../../components/ui/card';
import { Input, Textarea } from '../../../components/ui/input';
import { FilterEditor } from './FilterEditor';

const sourceLabels: Record<QuerySource, string> = {
  text: 'Embed the text',
  vector: 'Pasted vector',
  document: 'More like a document',
};

const radioRow = 'flex min-w-0 flex-wrap gap-x-4 gap-y-2 disabled:opacity-50';
const legend = 'mb-1.5 text-sm font-medium';
const radio = 'inline-flex items-center gap-1.5 text-sm [&_input]:accent-primary';

const modeLabels: Record<SearchMode, string> = {
  vector: 'Vector',
  keyword: 'Keyword',
  hybrid: 'Hybrid',
};

function Field({
  label,
  error,
  hint,
  children,
}: {
  label: string;
  error?: string;
  hint?: string;
  children: (describedBy: string | undefined) => ReactNode;
}) {
  const id = `field-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div className="grid min-w-0 gap-1">
      <label className="grid gap-1.5">
        <span className="text-sm font-medium">{label}</span>
        {children(error ? `${id}-error` : hint ? `${id}-hint` : undefined)}
      </label>
      {error ? (
        <FieldError id={`${id}-error`}>{error}</FieldError>
      ) : hint ? (
        <p className="text-xs text-muted-foreground" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The playground's query. It edits a draft; running it writes the state to the URL, and the
 * results follow the URL. Switching the mode runs at once, since comparing modes is the point.
 */
export function QueryForm({
  collection,
  state,
  onRun,
}: {
  collection: string;
  state: SearchState;
  onRun: (state: SearchState) => void;
}) {
  const keys = useMetadataKeys(collection);
  const keyTypes: KeyTypes = useMemo(
    () => new Map((keys.data ?? []).map((key) => [key.key, key.types])),
    [keys.data],
  );
  const [draft, setDraft] = useState<QueryDraft>(() => stateToDraft(state));
  const [filterEditor, setFilterEditor] = useState<FilterEditorState>(() =>
    initialEditorState(state.filter, new Map()),
  );
  const [errors, setErrors] = useState<Partial<Record<DraftField, string>>>({});
  const resolvedFilter = resolveFilter(filterEditor, keyTypes);

  const set = (field: DraftField) => (event: { target: { value: string } }) =>
    setDraft((current) => ({ ...current, [field]: event.target.value }));

  const run = (next: QueryDraft) => {
    if (resolvedFilter.problem) return;
    const outcome = draftToState(next, resolvedFilter.filter);
    setErrors(outcome.ok ? {} : outcome.errors);
    if (outcome.ok) onRun(outcome.state);
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    run(draft);
  };

  const chooseMode = (mode: SearchMode) => {
    const next = { ...draft, mode };
    setDraft(next);
    run(next);
  };

  return (
    <Card>
      <form className="grid gap-4" onSubmit={onSubmit} aria-label="search query">
        <Field
          label="Query text"
          error={errors.text}
          hint={
            draft.mode === 'vector' && draft.source !== 'text'
              ? 'Used for highlights only in vector mode.'
              : undefined
          }
        >
          {(describedBy) => (
            <Input
              type="search"
              name="text"
              value={draft.text}
              onChange={set('text')}
              placeholder="e.g. tariffs on imported goods"
              aria-describedby={describedBy}
            />
          )}
        </Field>

        <fieldset className={radioRow} disabled={draft.mode === 'keyword'}>
          <legend className={legend}>Query vector from</legend>
          {querySources.map((source) => (
            <label key={source} className={radio}>
              <input
                type="radio"
                name="source"
                value={source}
                checked={draft.source === source}
                onChange={() => setDraft((current) => ({ ...current, source }))}
              />
              {sourceLabels[source]}
            </label>
          ))}
        </fieldset>
        {draft.source === 'vector' && draft.mode !== 'keyword' ? (
          <Field
            label="Query vector"
            error={errors.vectorText}
            hint="Numbers separated by commas or spaces, or a JSON array."
          >
            {(describedBy) => (
              <Textarea
                name="vector"
                rows={4}
                value={draft.vectorText}
                onChange={set('vectorText')}
                spellCheck={false}
                aria-describedby={describedBy}
              />
            )}
          </Field>
        ) : null}
        {draft.source === 'document' && draft.mode !== 'keyword' ? (
          <Field
            label="Document id"
            error={errors.like}
            hint='Or use "More like this" on any result.'
          >
            {(describedBy) => (
              <Input
                name="like"
                value={draft.like}
                onChange={set('like')}
                spellCheck={false}
                aria-describedby={describedBy}
              />
            )}
          </Field>
        ) : null}

        <fieldset className={radioRow}>
          <legend className={legend}>Mode</legend>
          {searchModes.map((mode) => (
            <label key={mode} className={radio}>
              <input
                type="radio"
                name="mode"
                value={mode}
                checked={draft.mode === mode}
                onChange={() => chooseMode(mode)}
              />
              {modeLabels[mode]}
            </label>
          ))}
        </fieldset>
        {draft.mode === 'hybrid' ? (
          <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-2">
            <Field label="Vector weight" error={errors.vectorWeight}>
              {(describedBy) => (
                <Input
                  inputMode="decimal"
                  value={draft.vectorWeight}
                  onChange={set('vectorWeight')}
                  aria-describedby={describedBy}
                />
              )}
            </Field>
            <Field label="Keyword weight" error={errors.keywordWeight}>
              {(describedBy) => (
                <Input
                  inputMode="decimal"
                  value={draft.keywordWeight}
                  onChange={set('keywordWeight')}
                  aria-describedby={describedBy}
                />
              )}
            </Field>
            <Field label="RRF k" error={errors.rrfK} hint="score = Σ weight / (k + rank)">
              {(describedBy) => (
                <Input
                  inputMode="numeric"
                  value={draft.rrfK}
                  onChange={set('rrfK')}
                  aria-describedby={describedBy}
                />
              )}
            </Field>
          </div>
        ) : null}

        <div className="grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-2">
          <Field label="k (results)" error={errors.k}>
            {(describedBy) => (
              <Input
                inputMode="numeric"
                name="k"
                value={draft.k}
                onChange={set('k')}
                aria-describedby={describedBy}
              />
            )}
          </Field>
          <Field
            label="Min similarity"
            error={errors.minSimilarity}
            hint={draft.mode === 'keyword' ? 'Not used by keyword search.' : undefined}
          >
            {(describedBy) => (
              <Input
                inputMode="decimal"
                name="minSimilarity"
                value={draft.minSimilarity}
                onChange={set('minSimilarity')}
                placeholder="none"
                aria-describedby={describedBy}
              />
            )}
          </Field>
          <Field label="ef_search" error={errors.efSearch}>
            {(describedBy) => (
              <Input
                inputMode="numeric"
                name="efSearch"
                value={draft.efSearch}
                onChange={set('efSearch')}
                placeholder="40"
                aria-describedby={describedBy}
              />
            )}
          </Field>
          <Field label="Tenant" error={errors.tenant}>
            {(describedBy) => (
              <Input
                name="tenant"
                value={draft.tenant}
                onChange={set('tenant')}
                placeholder="all"
                aria-describedby={describedBy}
              />
            )}
          </Field>
        </div>

        <FilterEditor
          state={filterEditor}
          onChange={setFilterEditor}
          resolved={resolvedFilter}
          keys={keys.data ?? []}
          keyTypes={keyTypes}
          keysUnavailable={keys.isError}
        />

        <div className="flex justify-end">
          <Button type="submit" disabled={resolvedFilter.problem !== undefined}>
            Search
          </Button>
        </div>
      </form>
    </Card>
  );
}
