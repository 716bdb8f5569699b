import { describe, expect, it } from 'vitest';
import type { KeyTypes } from './filter-draft';
import {
  editDraft,
  editJson,
  initialEditorState,
  parseFilterJson,
  resolveFilter,
  showView,
} from './filter-editor-state';

const keyTypes: KeyTypes = new Map([
  ['party', ['string']],
  ['year', ['number']],
]);

describe('filter editor', () => {
  it('opens a filter the builder can show in the builder', () => {
    expect(initialEditorState({ key: 'year', op: 'gte', value: 1900 }, keyTypes).view).toBe(
      'builder',
    );
  });

  it('opens a filter only JSON can express in the JSON view', () => {
    const state = initialEditorState({ not: { key: 'party', op: 'eq', value: 'Whig' } }, keyTypes);
    expect(state.view).toBe('json');
    expect(state.draft).toBeNull();
    expect(resolveFilter(state, keyTypes).filter).toEqual({
      not: { key: 'party', op: 'eq', value: 'Whig' },
    });
  });

  it('shows what the builder made in the JSON view', () => {
    let state = initialEditorState(undefined, keyTypes);
    state = editDraft(
      state,
      { match: 'all', conditions: [{ key: 'year', op: 'lt', value: '1900' }] },
      keyTypes,
    );
    state = showView(state, 'json', keyTypes);
    expect(JSON.parse(state.jsonText)).toEqual({ key: 'year', op: 'lt', value: 1900 });
  });

  it('carries JSON edits back to the builder', () => {
    const state = editJson(
      initialEditorState(undefined, keyTypes),
      '{"key": "party", "op": "ne", "value": "Whig"}',
      keyTypes,
    );
    expect(showView(state, 'builder', keyTypes).draft?.conditions).toEqual([
      { key: 'party', op: 'ne', value: 'Whig' },
    ]);
  });

  it('reports JSON that is not a filter instead of dropping it', () => {
    const state = editJson(
      showView(initialEditorState(undefined, keyTypes), 'json', keyTypes),
      '{"key": "party"}',
      keyTypes,
    );
    const resolved = resolveFilter(state, keyTypes);
    expect(resolved.filter).toBeUndefined();
    expect(resolved.problem).toMatch(/^not a filter/);
  });

  it('names the conditions the builder cannot use yet', () => {
    const state = editDraft(
      initialEditorState(undefined, keyTypes),
      { match: 'all', conditions: [{ key: 'year', op: 'in', value: '' }] },
      keyTypes,
    );
    expect(resolveFilter(state, keyTypes).conditionProblems.get(0)).toMatch(
      /list one or more values/,
    );
  });

  it('treats blank JSON as no filter', () => {
    expect(parseFilterJson('  \n')).toEqual({ ok: true, filter: undefined });
  });

  it('says when the JSON does not parse', () => {
    expect(parseFilterJson('{"key": ').ok).toBe(false);
  });
});
