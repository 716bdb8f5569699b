import { useId } from 'react';
import type { ConditionOperator } from '@quarry/api/filter';
import type { RouterOutputs } from '@quarry/api';
import {
  newCondition,
  operatorLabels,
  operators,
  type ConditionDraft,
  type FilterDraft,
  type KeyTypes,
} from '../filter/filter-draft';
import {
  clearFilter,
  editDraft,
  editJson,
  showView,
  type FilterEditorState,
  type ResolvedFilter,
} from '../filter/filter-editor-state';

type MetadataKeySummary = RouterOutputs['search']['metadataKeys'][number];

interface FilterEditorProps {
  state: FilterEditorState;
  onChange: (state: FilterEditorState) => void;
  resolved: ResolvedFilter;
  keys: readonly MetadataKeySummary[];
  keyTypes: KeyTypes;
  keysUnavailable: boolean;
}

function placeholderFor(op: ConditionOperator, types: readonly string[]): string {
  if (op === 'in' || op === 'nin')
    return types.includes('number') ? 'e.g. 1861, 1862' : 'values, comma separated';
  if (op === 'contains') return 'e.g. ["tag"] or {"field": 1}';
  if (types.includes('number')) return 'a number';
  if (types.includes('boolean')) return 'true or false';
  return 'value ("quoted" for text)';
}

function ConditionRow({
  condition,
  index,
  problem,
  keyTypes,
  keyListId,
  onEdit,
  onRemove,
}: {
  condition: ConditionDraft;
  index: number;
  problem: string | undefined;
  keyTypes: KeyTypes;
  keyListId: string;
  onEdit: (condition: ConditionDraft) => void;
  onRemove: () => void;
}) {
  const types = keyTypes.get(condition.key.trim()) ?? [];
  const label = `condition ${index + 1}`;
  const problemId = `${keyListId}-problem-${index}`;
  return (
    <li className="condition">
      <div className="condition-fields" role="group" aria-label={label}>
        <input
          aria-label={`${label} key`}
          list={keyListId}
          value={condition.key}
          placeholder="metadata key"
          onChange={(event) => onEdit({ ...condition, key: event.target.value })}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? problemId : undefined}
        />
        <select
          aria-label={`${label} operator`}
          value={condition.op}
          onChange={(event) =>
            onEdit({ ...condition, op: event.target.value as ConditionOperator })
          }
        >
          {operators.map((op) => (
            <option key={op} value={op}>
              {operatorLabels[op]}
            </option>
          ))}
        </select>
        {condition.op === 'exists' ? (
          <span className="condition-novalue muted">(any value)</span>
        ) : (
          <input
            aria-label={`${label} value`}
            value={condition.value}
            placeholder={placeholderFor(condition.op, types)}
            onChange={(event) => onEdit({ ...condition, value: event.target.value })}
            aria-invalid={problem ? true : undefined}
            aria-describedby={problem ? problemId : undefined}
          />
        )}
        <button
          type="button"
          className="icon-button"
          onClick={onRemove}
          aria-label={`remove ${label}`}
          title="Remove condition"
        >
          ×
        </button>
      </div>
      {problem ? (
        <p className="field-error" id={problemId}>
          {problem}
        </p>
      ) : null}
    </li>
  );
}

function Builder({
  draft,
  onDraft,
  resolved,
  keys,
  keyTypes,
}: { draft: FilterDraft; onDraft: (draft: FilterDraft) => void } & Pick<
  FilterEditorProps,
  'resolved' | 'keys' | 'keyTypes'
>) {
  const keyListId = useId();
  const firstKey = keys[0];
  const editAt = (index: number, condition: ConditionDraft) =>
    onDraft({
      ...draft,
      conditions: draft.conditions.map((existing, position) =>
        position === index ? condition : existing,
      ),
    });
  return (
    <div className="filter-builder">
      <datalist id={keyListId}>
        {keys.map((key) => (
          <option key={key.key} value={key.key}>
            {`${key.types.join(' | ')} · in ${key.count} sampled documents`}
          </option>
        ))}
      </datalist>
      {draft.conditions.length > 1 ? (
        <label className="inline-field">
          Match
          <select
            value={draft.match}
            onChange={(event) =>
              onDraft({ ...draft, match: event.target.value === 'any' ? 'any' : 'all' })
            }
          >
            <option value="all">all of these (and)</option>
            <option value="any">any of these (or)</option>
          </select>
        </label>
      ) : null}
      {draft.conditions.length === 0 ? (
        <p className="muted small">No filter: every document can match.</p>
      ) : null}
      <ol className="conditions">
        {draft.conditions.map((condition, index) => (
          <ConditionRow
            key={index}
            condition={condition}
            index={index}
            problem={resolved.conditionProblems.get(index)}
            keyTypes={keyTypes}
            keyListId={keyListId}
            onEdit={(next) => editAt(index, next)}
            onRemove={() =>
              onDraft({
                ...draft,
                conditions: draft.conditions.filter((_, position) => position !== index),
              })
            }
          />
        ))}
      </ol>
      <button
        type="button"
        onClick={() =>
          onDraft({
            ...draft,
            conditions: [
              ...draft.conditions,
              newCondition(
                draft.conditions.length === 0 && firstKey ? firstKey.key : '',
                firstKey?.types,
              ),
            ],
          })
        }
      >
        Add condition
      </button>
    </div>
  );
}

export function FilterEditor({
  state,
  onChange,
  resolved,
  keys,
  keyTypes,
  keysUnavailable,
}: FilterEditorProps) {
  const jsonId = useId();
  return (
    <fieldset className="filter-editor">
      <legend>Metadata filter</legend>
      <div className="segmented" role="group" aria-label="filter view">
        <button
          type="button"
          aria-pressed={state.view === 'builder'}
          onClick={() => onChange(showView(state, 'builder', keyTypes))}
        >
          Builder
        </button>
        <button
          type="button"
          aria-pressed={state.view === 'json'}
          onClick={() => onChange(showView(state, 'json', keyTypes))}
        >
          JSON
        </button>
      </div>
      {keysUnavailable ? (
        <p className="muted small">
          The collection&apos;s metadata keys could not be loaded; type key names yourself.
        </p>
      ) : null}
      {state.view === 'builder' && state.draft ? (
        <Builder
          draft={state.draft}
          onDraft={(draft) => onChange(editDraft(state, draft, keyTypes))}
          resolved={resolved}
          keys={keys}
          keyTypes={keyTypes}
        />
      ) : null}
      {state.view === 'builder' && !state.draft ? (
        <div className="status-hint">
          <p>
            This filter uses nesting, &quot;not&quot; or key paths, which the builder cannot show.
            Edit it as JSON, or start over.
          </p>
          <button type="button" onClick={() => onChange(clearFilter())}>
            Clear the filter
          </button>
        </div>
      ) : null}
      {state.view === 'json' ? (
        <div className="filter-json">
          <label htmlFor={jsonId} className="small">
            The filter as the API receives it (empty for none)
          </label>
          <textarea
            id={jsonId}
            rows={8}
            spellCheck={false}
            value={state.jsonText}
            onChange={(event) => onChange(editJson(state, event.target.value, keyTypes))}
            aria-invalid={resolved.problem ? true : undefined}
          />
        </div>
      ) : null}
      {resolved.problem ? <p className="field-error">{resolved.problem}</p> : null}
    </fieldset>
  );
}
