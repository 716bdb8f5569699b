import { describe, expect, it } from 'vitest';
import { draftToState, stateToDraft, type QueryDraft } from './query-draft';
import { defaultSearchState, searchStateSchema, type SearchState } from './search-state';

const draft = (changes: Partial<QueryDraft>): QueryDraft => ({
  ...stateToDraft(defaultSearchState),
  ...changes,
});

describe('playground form to search state', () => {
  it('round-trips a full state through the form unchanged', () => {
    const state: SearchState = searchStateSchema.parse({
      text: 'gold standard',
      mode: 'hybrid',
      k: 20,
      minSimilarity: 0.35,
      efSearch: 100,
      tenant: 'acme',
      vectorWeight: 2,
      keywordWeight: 0.5,
      rrfK: 10,
      filter: { key: 'party', op: 'eq', value: 'Whig' },
    });
    expect(draftToState(stateToDraft(state), state.filter)).toEqual({ ok: true, state });
  });

  it('round-trips a pasted vector', () => {
    const state = searchStateSchema.parse({ source: 'vector', vector: [0.25, -1, 3] });
    expect(draftToState(stateToDraft(state), undefined)).toEqual({ ok: true, state });
  });

  it('names each wrong field', () => {
    const outcome = draftToState(
      draft({ k: '0', minSimilarity: 'high', efSearch: '2.5', tenant: 'has space' }),
      undefined,
    );
    expect(outcome).toEqual({
      ok: false,
      errors: {
        k: 'k must be from 1 to 200',
        minSimilarity: 'the threshold must be a number',
        efSearch: 'ef_search must be a whole number',
        tenant: 'tenant ids use letters, digits and . : @ _ - (up to 128)',
      },
    });
  });

  it('leaves optional numbers out when their fields are empty', () => {
    const outcome = draftToState(draft({ text: 'x', minSimilarity: ' ', efSearch: '' }), undefined);
    expect(outcome.ok && [outcome.state.minSimilarity, outcome.state.efSearch]).toEqual([
      undefined,
      undefined,
    ]);
  });

  it('checks the fusion weights only in hybrid mode', () => {
    expect(draftToState(draft({ text: 'x', vectorWeight: 'lots' }), undefined).ok).toBe(true);
    expect(
      draftToState(draft({ text: 'x', vectorWeight: 'lots', mode: 'hybrid' }), undefined).ok,
    ).toBe(false);
  });

  it('ignores a half-typed vector unless the vector source is chosen', () => {
    expect(draftToState(draft({ text: 'x', vectorText: '0.1, oops' }), undefined).ok).toBe(true);
    expect(draftToState(draft({ source: 'vector', vectorText: '0.1, oops' }), undefined)).toEqual({
      ok: false,
      errors: { vectorText: 'item 2 ("oops") is not a number' },
    });
  });

  it('asks for a uuid for "more like this document"', () => {
    expect(draftToState(draft({ source: 'document', like: '42' }), undefined).ok).toBe(false);
  });

  it('keeps no pasted vector or document id for a text query', () => {
    const outcome = draftToState(
      draft({ text: 'x', like: '0b7e4a8e-8d54-4c3c-9f1e-5b0f5c6f2a11' }),
      undefined,
    );
    expect(outcome.ok && outcome.state.like).toBeUndefined();
  });
});
