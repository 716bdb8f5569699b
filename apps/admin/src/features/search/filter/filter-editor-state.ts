import type { MetadataFilter } from '@quarry/api/filter';
import {
  draftToFilter,
  emptyDraft,
  filterToDraft,
  type FilterDraft,
  type KeyTypes,
} from './filter-draft';
import { metadataFilterSchema } from './filter-schema';

/**
 * The filter editor has two views of one filter: the builder (a flat list of conditions) and the
 * JSON text. `draft` is null when the filter is one only JSON can express.
 */
export interface FilterEditorState {
  view: 'builder' | 'json';
  draft: FilterDraft | null;
  jsonText: string;
}

export function formatFilterJson(filter: MetadataFilter | undefined): string {
  return filter === undefined ? '' : JSON.stringify(filter, null, 2);
}

export type JsonOutcome =
  { ok: true; filter: MetadataFilter | undefined } | { ok: false; message: string };

/** The filter in the JSON view; blank text means no filter. */
export function parseFilterJson(text: string): JsonOutcome {
  if (text.trim() === '') return { ok: true, filter: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      message: `not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const result = metadataFilterSchema.safeParse(parsed);
  if (result.success) return { ok: true, filter: result.data };
  return {
    ok: false,
    message:
      'not a filter: expected a condition such as {"key": "year", "op": "gte", "value": 1900}, or {"and": [...]}, {"or": [...]}, {"not": {...}}',
  };
}

export function initialEditorState(
  filter: MetadataFilter | undefined,
  keyTypes: KeyTypes,
): FilterEditorState {
  const draft = filterToDraft(filter, keyTypes);
  return { view: draft ? 'builder' : 'json', draft, jsonText: formatFilterJson(filter) };
}

export interface ResolvedFilter {
  filter: MetadataFilter | undefined;
  /** Why the filter cannot be used yet (the JSON view's message); undefined when it can. */
  problem: string | undefined;
  /** Builder conditions that cannot be used yet, by position. */
  conditionProblems: ReadonlyMap<number, string>;
}

/** The filter the editor currently stands for. */
export function resolveFilter(state: FilterEditorState, keyTypes: KeyTypes): ResolvedFilter {
  if (state.view === 'json' || state.draft === null) {
    const parsed = parseFilterJson(state.jsonText);
    return parsed.ok
      ? { filter: parsed.filter, problem: undefined, conditionProblems: new Map() }
      : { filter: undefined, problem: parsed.message, conditionProblems: new Map() };
  }
  const { filter, problems } = draftToFilter(state.draft, keyTypes);
  return {
    filter,
    problem:
      problems.length > 0
        ? `fix the ${problems.length === 1 ? 'condition' : `${problems.length} conditions`} marked below, or remove ${problems.length === 1 ? 'it' : 'them'}`
        : undefined,
    conditionProblems: new Map(problems.map((problem) => [problem.index, problem.message])),
  };
}

export function editDraft(
  state: FilterEditorState,
  draft: FilterDraft,
  keyTypes: KeyTypes,
): FilterEditorState {
  const { filter } = draftToFilter(draft, keyTypes);
  return {
    ...state,
    draft,
    jsonText:
      filter === undefined && draft.conditions.length > 0
        ? state.jsonText
        : formatFilterJson(filter),
  };
}

/** Typing in the JSON view; the builder follows whenever the JSON is a filter it can show. */
export function editJson(
  state: FilterEditorState,
  jsonText: string,
  keyTypes: KeyTypes,
): FilterEditorState {
  const parsed = parseFilterJson(jsonText);
  return {
    ...state,
    jsonText,
    draft: parsed.ok ? filterToDraft(parsed.filter, keyTypes) : state.draft,
  };
}

export function showView(
  state: FilterEditorState,
  view: FilterEditorState['view'],
  keyTypes: KeyTypes,
): FilterEditorState {
  if (view === 'json') {
    const current = resolveFilter(state, keyTypes);
    return {
      ...state,
      view,
      jsonText: current.problem ? state.jsonText : formatFilterJson(current.filter),
    };
  }
  return { ...state, view };
}

export function clearFilter(): FilterEditorState {
  return { view: 'builder', draft: emptyDraft, jsonText: '' };
}
