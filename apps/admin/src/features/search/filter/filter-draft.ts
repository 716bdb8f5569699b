import type {
  ConditionOperator,
  JsonScalar,
  JsonValue,
  MetadataCondition,
  MetadataFilter,
} from '@quarry/api/filter';

/**
 * The filter builder edits a flat list of conditions joined by "all" (and) or "any" (or), with
 * values as the text a person types. This module turns that draft into the API's filter and back.
 * Filters the builder cannot show (nesting, `not`, key paths) are edited in the JSON view.
 */
export interface ConditionDraft {
  key: string;
  op: ConditionOperator;
  /** As typed: `1999`, `Republican`, `"1999"` (a string), `a, b` (a list), `["x"]` (JSON). */
  value: string;
}

export type MatchMode = 'all' | 'any';

export interface FilterDraft {
  match: MatchMode;
  conditions: ConditionDraft[];
}

/** Key name → the JSON types seen for it in the collection (from search.metadataKeys). */
export type KeyTypes = ReadonlyMap<string, readonly string[]>;

export const operatorLabels: Record<ConditionOperator, string> = {
  eq: '=',
  ne: '≠',
  gt: '>',
  gte: '≥',
  lt: '<',
  lte: '≤',
  in: 'is one of',
  nin: 'is none of',
  exists: 'exists',
  contains: 'contains',
};

export const operators = Object.keys(operatorLabels) as ConditionOperator[];

export const emptyDraft: FilterDraft = { match: 'all', conditions: [] };

export function newCondition(key: string, types: readonly string[] = []): ConditionDraft {
  return { key, op: types.length === 1 && types[0] === 'array' ? 'contains' : 'eq', value: '' };
}

const numberPattern = /^-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/i;

/**
 * Typed text to a JSON scalar. The key's types seen in the collection decide: `1999` is a number
 * for a numeric key and a string for a string key. A key the sample never saw takes the most
 * specific reading. Double quotes force a string: `"1999"`.
 */
export function parseScalar(text: string, types: readonly string[] = []): JsonScalar {
  const trimmed = text.trim();
  if (trimmed.startsWith('"') && trimmed.endsWith('"') && trimmed.length >= 2) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (typeof parsed === 'string') return parsed;
    } catch {
      // Not a valid JSON string: fall through and take the text literally.
    }
  }
  const unknownKey = types.length === 0;
  if ((unknownKey || types.includes('number')) && numberPattern.test(trimmed))
    return Number(trimmed);
  if ((unknownKey || types.includes('boolean')) && (trimmed === 'true' || trimmed === 'false'))
    return trimmed === 'true';
  if ((unknownKey || types.includes('null')) && trimmed === 'null') return null;
  return trimmed;
}

/** The text that `parseScalar` reads back as `value`: strings are quoted only when they must be. */
export function formatScalar(value: JsonScalar, types: readonly string[] = []): string {
  if (typeof value !== 'string') return String(value);
  const readsBack =
    parseScalar(value, types) === value && value.trim() === value && !value.includes(',');
  return readsBack ? value : JSON.stringify(value);
}

/** Splits `a, "b, c", d` on the commas outside double quotes. */
export function splitList(text: string): string[] {
  const items: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '\\' && quoted) {
      current += char + (text[i + 1] ?? '');
      i += 1;
    } else if (char === '"') {
      quoted = !quoted;
      current += char;
    } else if (char === ',' && !quoted) {
      items.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  items.push(current);
  return items.map((item) => item.trim()).filter((item) => item.length > 0);
}

export type ConditionResult =
  { ok: true; condition: MetadataCondition } | { ok: false; message: string };

export function draftToCondition(draft: ConditionDraft, keyTypes: KeyTypes): ConditionResult {
  const key = draft.key.trim();
  if (!key) return { ok: false, message: 'choose a metadata key' };
  const types = keyTypes.get(key) ?? [];
  switch (draft.op) {
    case 'exists':
      return { ok: true, condition: { key, op: 'exists' } };
    case 'in':
    case 'nin': {
      const values = splitList(draft.value).map((item) => parseScalar(item, types));
      if (values.length === 0)
        return { ok: false, message: `list one or more values for "${key}", separated by commas` };
      return { ok: true, condition: { key, op: draft.op, values } };
    }
    case 'contains': {
      if (!draft.value.trim())
        return {
          ok: false,
          message: `enter what "${key}" should contain, e.g. ["tag"] or {"field": 1}`,
        };
      return {
        ok: true,
        condition: { key, op: 'contains', value: parseJsonOrScalar(draft.value, types) },
      };
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (!draft.value.trim())
        return { ok: false, message: `enter a value to compare "${key}" with` };
      const value = parseScalar(draft.value, types);
      if (typeof value !== 'number' && typeof value !== 'string') {
        return {
          ok: false,
          message: `"${operatorLabels[draft.op]}" compares numbers or strings, not ${String(value)}`,
        };
      }
      return { ok: true, condition: { key, op: draft.op, value } };
    }
    case 'eq':
    case 'ne':
      return { ok: true, condition: { key, op: draft.op, value: parseScalar(draft.value, types) } };
  }
}

function parseJsonOrScalar(text: string, types: readonly string[]): JsonValue {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed) as JsonValue;
    } catch {
      // Looks like JSON but is not: take it as text, which the user sees in the JSON view.
    }
  }
  return parseScalar(trimmed, types);
}

export interface DraftResult {
  /** undefined when the draft has no conditions: no filter. */
  filter: MetadataFilter | undefined;
  /** One message per condition that cannot be used yet, by its position. */
  problems: Array<{ index: number; message: string }>;
}

export function draftToFilter(draft: FilterDraft, keyTypes: KeyTypes): DraftResult {
  const conditions: MetadataCondition[] = [];
  const problems: DraftResult['problems'] = [];
  draft.conditions.forEach((condition, index) => {
    const result = draftToCondition(condition, keyTypes);
    if (result.ok) conditions.push(result.condition);
    else problems.push({ index, message: result.message });
  });
  if (problems.length > 0) return { filter: undefined, problems };
  if (conditions.length === 0) return { filter: undefined, problems };
  if (conditions.length === 1) return { filter: conditions[0], problems };
  return { filter: draft.match === 'all' ? { and: conditions } : { or: conditions }, problems };
}

function isCondition(filter: MetadataFilter): filter is MetadataCondition {
  return 'op' in filter;
}

function conditionToDraft(condition: MetadataCondition, keyTypes: KeyTypes): ConditionDraft | null {
  if (typeof condition.key !== 'string') return null;
  const types = keyTypes.get(condition.key) ?? [];
  switch (condition.op) {
    case 'exists':
      return { key: condition.key, op: 'exists', value: '' };
    case 'in':
    case 'nin':
      return {
        key: condition.key,
        op: condition.op,
        value: condition.values.map((value) => formatScalar(value, types)).join(', '),
      };
    case 'contains': {
      const { value } = condition;
      const text =
        typeof value === 'object' && value !== null
          ? JSON.stringify(value)
          : formatScalar(value, types);
      return { key: condition.key, op: 'contains', value: text };
    }
    default:
      return { key: condition.key, op: condition.op, value: formatScalar(condition.value, types) };
  }
}

/** The draft the builder shows for `filter`, or null when only the JSON view can show it. */
export function filterToDraft(
  filter: MetadataFilter | undefined,
  keyTypes: KeyTypes,
): FilterDraft | null {
  if (filter === undefined) return emptyDraft;
  let match: MatchMode = 'all';
  let members: MetadataFilter[];
  if (isCondition(filter)) members = [filter];
  else if ('and' in filter) members = filter.and;
  else if ('or' in filter) {
    match = 'any';
    members = filter.or;
    // { or: [] } matches no document, while an empty builder means no filter at all.
    if (members.length === 0) return null;
  } else return null;
  const conditions: ConditionDraft[] = [];
  for (const member of members) {
    if (!isCondition(member)) return null;
    const draft = conditionToDraft(member, keyTypes);
    if (!draft) return null;
    conditions.push(draft);
  }
  return { match, conditions };
}

/**
 * `filter` narrowed by one more condition (the "filter to this value" action on a result):
 * appended to a top-level "and", or joined with the existing filter in a new one.
 */
export function withCondition(
  filter: MetadataFilter | undefined,
  condition: MetadataCondition,
): MetadataFilter {
  if (filter === undefined) return condition;
  if ('and' in filter) return { and: [...filter.and, condition] };
  return { and: [filter, condition] };
}
