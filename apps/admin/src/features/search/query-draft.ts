import type { MetadataFilter } from '@quarry/api/filter';
import {
  MAX_K,
  parseVectorText,
  type QuerySource,
  type SearchMode,
  type SearchState,
} from './search-state';

/** The playground form as typed: numbers stay text until the query is run, so they can be half-typed. */
export interface QueryDraft {
  text: string;
  source: QuerySource;
  vectorText: string;
  like: string;
  mode: SearchMode;
  k: string;
  minSimilarity: string;
  efSearch: string;
  tenant: string;
  vectorWeight: string;
  keywordWeight: string;
  rrfK: string;
}

export type DraftField = keyof QueryDraft;

export function stateToDraft(state: SearchState): QueryDraft {
  return {
    text: state.text,
    source: state.source,
    vectorText: state.vector ? state.vector.join(', ') : '',
    like: state.like ?? '',
    mode: state.mode,
    k: String(state.k),
    minSimilarity: state.minSimilarity === undefined ? '' : String(state.minSimilarity),
    efSearch: state.efSearch === undefined ? '' : String(state.efSearch),
    tenant: state.tenant ?? '',
    vectorWeight: String(state.vectorWeight),
    keywordWeight: String(state.keywordWeight),
    rrfK: String(state.rrfK),
  };
}

type NumberRule = { min: number; max: number; integer: boolean };

function readNumber(
  text: string,
  rule: NumberRule,
  label: string,
): { value: number } | { error: string } {
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (trimmed === '' || !Number.isFinite(value)) return { error: `${label} must be a number` };
  if (rule.integer && !Number.isInteger(value)) return { error: `${label} must be a whole number` };
  if (value < rule.min || value > rule.max)
    return { error: `${label} must be from ${rule.min} to ${rule.max}` };
  return { value };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const tenantPattern = /^[\w.:@-]{1,128}$/;

export type DraftOutcome =
  { ok: true; state: SearchState } | { ok: false; errors: Partial<Record<DraftField, string>> };

/**
 * The search state a submitted form stands for, or a message per field that is wrong. Only the
 * fields the chosen source and mode use are checked: a half-typed vector does not block a text search.
 */
export function draftToState(draft: QueryDraft, filter: MetadataFilter | undefined): DraftOutcome {
  const errors: Partial<Record<DraftField, string>> = {};
  const number = (field: DraftField, rule: NumberRule, label: string): number | undefined => {
    const result = readNumber(draft[field], rule, label);
    if ('error' in result) {
      errors[field] = result.error;
      return undefined;
    }
    return result.value;
  };
  const optionalNumber = (field: DraftField, rule: NumberRule, label: string) =>
    draft[field].trim() === '' ? undefined : number(field, rule, label);

  const k = number('k', { min: 1, max: MAX_K, integer: true }, 'k');
  const minSimilarity = optionalNumber(
    'minSimilarity',
    { min: -1e6, max: 1e6, integer: false },
    'the threshold',
  );
  const efSearch = optionalNumber('efSearch', { min: 1, max: 1000, integer: true }, 'ef_search');
  const hybrid = draft.mode === 'hybrid';
  const vectorWeight = hybrid
    ? number('vectorWeight', { min: 0, max: 100, integer: false }, 'the vector weight')
    : 1;
  const keywordWeight = hybrid
    ? number('keywordWeight', { min: 0, max: 100, integer: false }, 'the keyword weight')
    : 1;
  const rrfK = hybrid
    ? number('rrfK', { min: 1, max: 10_000, integer: true }, 'the RRF constant')
    : 60;

  const tenant = draft.tenant.trim();
  if (tenant && !tenantPattern.test(tenant))
    errors.tenant = 'tenant ids use letters, digits and . : @ _ - (up to 128)';

  const usesVectorSource = draft.mode !== 'keyword';
  let vector: number[] | undefined;
  if (draft.source === 'vector' && usesVectorSource) {
    const parsed = parseVectorText(draft.vectorText);
    if (parsed.ok) vector = parsed.vector;
    else errors.vectorText = parsed.message;
  }
  const like = draft.like.trim();
  if (draft.source === 'document' && usesVectorSource && !uuidPattern.test(like)) {
    errors.like = 'enter a document id (a uuid, as shown on each result)';
  }

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    state: {
      text: draft.text.trim(),
      source: draft.source,
      vector: draft.source === 'vector' ? vector : undefined,
      like: draft.source === 'document' && like ? like : undefined,
      mode: draft.mode,
      k: k ?? 10,
      minSimilarity,
      efSearch,
      tenant: tenant || undefined,
      filter,
      vectorWeight: vectorWeight ?? 1,
      keywordWeight: keywordWeight ?? 1,
      rrfK: rrfK ?? 60,
    },
  };
}
