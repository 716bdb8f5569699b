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
import { FieldError } from '../../../components/StatusMessage';
import { Button } from '../../../components/ui/button';
import { Input, NativeSelect, Textarea } from '../../../components/ui/input';

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
    <li className="grid gap-1">
      {/* Key on its own line, then operator, value and remove: values keep their full width. */}
      <div
        className="grid grid-cols-[minmax(0,9rem)_minmax(0,1fr)_auto] gap-1.5"
        role="group"
        aria-label={label}
      >
        <Input
          className="col-span-3"
          aria-label={`${label} key`}
          list={keyListId}
          value={condition.key}
          placeholder="metadata key"
          onChange={(event) => onEdit({ ...condition, key: event.target.value })}
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? problemId : undefined}
        />
        <NativeSelect
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
        </NativeSelect>
        {condition.op === 'exists' ? (
          <span className="self-center text-sm text-muted-foreground">(any value)</span>
        ) : (
          <Input
            aria-label={`${label} value`}
            value={condition.value}
            placeholder={placeholderFor(condition.op, types)}
            onChange={(event) => onEdit({ ...condition, value: event.target.value })}
            aria-invalid={problem ? true : undefined}
            aria-describedby={problem ? problemId : undefined}
          />
        )}
        <Button
          variant="ghost"
          size="icon"
          onClick={onRemove}
          aria-label={`remove ${label}`}
          title="Remove condition"
        >
          ×
        </Button>
      </div>
      {problem ? <FieldError id={problemId}>{problem}</FieldError> : null}
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
    <div className="grid gap-2">
      <datalist id={keyListId}>
        {keys.map((key) => (
          <option key={key.key} value={key.key}>
            {`${key.types.join(' | ')} · in ${key.count} sampled documents`}
          </option>
        ))}
      </datalist>
      {draft.conditions.length > 1 ? (
        <label className="flex items-center gap-2 text-sm">
          Match
          <NativeSelect
            className="w-auto"
            value={draft.match}
            onChange={(event) =>
              onDraft({ ...draft, match: event.target.value === 'any' ? 'any' : 'all' })
            }
          >
            <option value="all">all of these (and)</option>
            <option value="any">any of these (or)</option>
          </NativeSelect>
        </label>
      ) : null}
      {draft.conditions.length === 0 ? (
        <p className="text-xs text-muted-foreground">No filter: every document can match.</p>
      ) : null}
      <ol className="grid gap-3">
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
      <Button
        variant="outline"
        size="sm"
        className="justify-self-start"
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
      </Button>
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
    <fieldset className="grid min-w-0 gap-2">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <legend className="float-left text-sm font-medium">Metadata filter</legend>
        <div
          className="inline-flex rounded-md bg-muted p-0.5"
          role="group"
          aria-label="filter view"
        >
          {(['builder', 'json'] as const).map((view) => (
            <button
              key={view}
              type="button"
              className="rounded px-2.5 py-1 text-xs font-medium aria-pressed:bg-background aria-pressed:shadow-xs"
              aria-pressed={state.view === view}
              onClick={() => onChange(showView(state, view, keyTypes))}
            >
              {view === 'builder' ? 'Builder' : 'JSON'}
            </button>
          ))}
        </div>
      </div>
      {keysUnavailable ? (
        <p className="text-xs text-muted-foreground">
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
        <div className="space-y-2 text-sm text-muted-foreground">
          <p>
            This filter uses nesting, &quot;not&quot; or key paths, which the builder cannot show.
            Edit it as JSON, or start over.
          </p>
          <Button variant="outline" size="sm" onClick={() => onChange(clearFilter())}>
            Clear the filter
          </Button>
        </div>
      ) : null}
      {state.view === 'json' ? (
        <div className="grid gap-1.5">
          <label htmlFor={jsonId} className="text-xs text-muted-foreground">
            The filter as the API receives it (empty for none)
          </label>
          <Textarea
            id={jsonId}
            rows={8}
            spellCheck={false}
            value={state.jsonText}
            onChange={(event) => onChange(editJson(state, event.target.value, keyTypes))}
            aria-invalid={resolved.problem ? true : undefined}
          />
        </div>
      ) : null}
      {resolved.problem ? <FieldError>{resolved.problem}</FieldError> : null}
    </fieldset>
  );
}
