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
import { FilterEditor } from './FilterEditor';

const sourceLabels: Record<QuerySource, string> = {
  text: 'Embed the text',
  vector: 'Pasted vector',
  document: 'More like a document',
};

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
    <div className="field">
      <label>
        <span className="field-label">{label}</span>
        {children(error ? `${id}-error` : hint ? `${id}-hint` : undefined)}
      </label>
      {error ? (
        <p className="field-error" id={`${id}-error`}>
          {error}
        </p>
      ) : hint ? (
        <p className="field-hint" id={`${id}-hint`}>
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
    <form className="query-form" onSubmit={onSubmit} aria-label="search query">
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
          <input
            type="search"
            name="text"
            value={draft.text}
            onChange={set('text')}
            placeholder="e.g. tariffs on imported goods"
            aria-describedby={describedBy}
          />
        )}
      </Field>

      <fieldset className="radio-row" disabled={draft.mode === 'keyword'}>
        <legend>Query vector from</legend>
        {querySources.map((source) => (
          <label key={source} className="radio">
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
            <textarea
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
            <input
              name="like"
              value={draft.like}
              onChange={set('like')}
              spellCheck={false}
              aria-describedby={describedBy}
            />
          )}
        </Field>
      ) : null}

      <fieldset className="radio-row segmented-radio">
        <legend>Mode</legend>
        {searchModes.map((mode) => (
          <label key={mode} className="radio">
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
        <div className="field-grid">
          <Field label="Vector weight" error={errors.vectorWeight}>
            {(describedBy) => (
              <input
                inputMode="decimal"
                value={draft.vectorWeight}
                onChange={set('vectorWeight')}
                aria-describedby={describedBy}
              />
            )}
          </Field>
          <Field label="Keyword weight" error={errors.keywordWeight}>
            {(describedBy) => (
              <input
                inputMode="decimal"
                value={draft.keywordWeight}
                onChange={set('keywordWeight')}
                aria-describedby={describedBy}
              />
            )}
          </Field>
          <Field label="RRF k" error={errors.rrfK} hint="score = Σ weight / (k + rank)">
            {(describedBy) => (
              <input
                inputMode="numeric"
                value={draft.rrfK}
                onChange={set('rrfK')}
                aria-describedby={describedBy}
              />
            )}
          </Field>
        </div>
      ) : null}

      <div className="field-grid">
        <Field label="k (results)" error={errors.k}>
          {(describedBy) => (
            <input
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
            <input
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
            <input
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
            <input
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

      <div className="form-actions">
        <button
          type="submit"
          className="button-primary"
          disabled={resolvedFilter.problem !== undefined}
        >
          Search
        </button>
      </div>
    </form>
  );
}
