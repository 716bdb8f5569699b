import { describe, expect, it } from 'vitest';
import {
  defaultSearchState,
  explainStateSchema,
  parseVectorText,
  searchStateSchema,
  toSearchInput,
} from './search-state';

const documentId = '0b7e4a8e-8d54-4c3c-9f1e-5b0f5c6f2a11';

describe('search state from the URL', () => {
  it('gives a vector search of 10 by default', () => {
    expect(searchStateSchema.parse({})).toEqual(
      expect.objectContaining({
        text: '',
        source: 'text',
        mode: 'vector',
        k: 10,
        vectorWeight: 1,
        keywordWeight: 1,
        rrfK: 60,
      }),
    );
  });

  it('keeps every valid field of a shared link', () => {
    const link = {
      text: 'tax relief',
      mode: 'hybrid',
      k: 25,
      minSimilarity: 0.4,
      efSearch: 80,
      tenant: 'acme',
      filter: {
        and: [
          { key: 'party', op: 'eq', value: 'Republican' },
          { key: 'year', op: 'gte', value: 1950 },
        ],
      },
      vectorWeight: 2,
      keywordWeight: 0.5,
      rrfK: 30,
    };
    expect(searchStateSchema.parse(link)).toEqual({ ...link, source: 'text' });
  });

  it('replaces an out-of-range k with the default instead of failing the page', () => {
    expect(searchStateSchema.parse({ k: 5000 }).k).toBe(10);
    expect(searchStateSchema.parse({ k: 2.5 }).k).toBe(10);
  });

  it('drops a malformed filter but keeps the rest of the query', () => {
    const state = searchStateSchema.parse({
      text: 'war',
      filter: { key: 'year', op: 'between', value: [1, 2] },
    });
    expect(state.filter).toBeUndefined();
    expect(state.text).toBe('war');
  });

  it('drops an unknown mode back to vector', () => {
    expect(searchStateSchema.parse({ mode: 'semantic' }).mode).toBe('vector');
  });

  it('ignores a "more like this" id that is not a uuid', () => {
    expect(searchStateSchema.parse({ source: 'document', like: 'doc-1' }).like).toBeUndefined();
  });

  it('adds the explain fields with their defaults', () => {
    const state = explainStateSchema.parse({ text: 'x' });
    expect(state.histogramSize).toBe(100);
    expect(state.inspect).toBeUndefined();
  });

  it('strips explain-only fields when parsed as a plain search', () => {
    const state = searchStateSchema.parse({ text: 'x', inspect: documentId, histogramSize: 50 });
    expect(state).not.toHaveProperty('inspect');
    expect(state).not.toHaveProperty('histogramSize');
  });
});

describe('search state to API input', () => {
  it('asks for text before running a text search', () => {
    expect(toSearchInput('sotu', defaultSearchState)).toEqual({
      ok: false,
      missing: 'type a query to search for',
    });
  });

  it('sends only what the state sets', () => {
    const plan = toSearchInput('sotu', { ...defaultSearchState, text: '  jobs  ' });
    expect(plan).toEqual({
      ok: true,
      input: { collection: 'sotu', mode: 'vector', k: 10, text: 'jobs' },
    });
  });

  it('sends the filter, tenant and ef_search as given', () => {
    const filter = { key: 'party', op: 'eq', value: 'Whig' } as const;
    const plan = toSearchInput('sotu', {
      ...defaultSearchState,
      text: 'jobs',
      filter,
      tenant: 'acme',
      efSearch: 64,
    });
    expect(plan.ok && plan.input).toEqual(
      expect.objectContaining({ filter, tenant: 'acme', efSearch: 64 }),
    );
  });

  it('sends the fusion weights only in hybrid mode', () => {
    const weighted = { ...defaultSearchState, text: 'jobs', vectorWeight: 3 };
    const hybrid = toSearchInput('sotu', { ...weighted, mode: 'hybrid' });
    const vector = toSearchInput('sotu', weighted);
    expect(hybrid.ok && hybrid.input.hybrid).toEqual({
      vectorWeight: 3,
      keywordWeight: 1,
      rrfK: 60,
    });
    expect(vector.ok && vector.input.hybrid).toBeUndefined();
  });

  it('uses the pasted vector for the vector side and keeps the text for keywords', () => {
    const plan = toSearchInput('sotu', {
      ...defaultSearchState,
      mode: 'hybrid',
      source: 'vector',
      vector: [0.1, 0.2],
      text: 'jobs',
    });
    expect(plan.ok && plan.input).toEqual(
      expect.objectContaining({ vector: [0.1, 0.2], text: 'jobs' }),
    );
  });

  it('needs text for keyword search even with a pasted vector', () => {
    const plan = toSearchInput('sotu', {
      ...defaultSearchState,
      mode: 'keyword',
      source: 'vector',
      vector: [1],
    });
    expect(plan.ok).toBe(false);
  });

  it('finds more like a document without any text', () => {
    const plan = toSearchInput('sotu', {
      ...defaultSearchState,
      source: 'document',
      like: documentId,
    });
    expect(plan.ok && plan.input.likeDocumentId).toBe(documentId);
  });

  it('leaves the similarity threshold out of keyword search, which computes no similarity', () => {
    const plan = toSearchInput('sotu', {
      ...defaultSearchState,
      mode: 'keyword',
      text: 'jobs',
      minSimilarity: 0.5,
    });
    expect(plan.ok && plan.input.minSimilarity).toBeUndefined();
  });
});

describe('pasted vectors', () => {
  it('reads JSON arrays and loose lists alike', () => {
    expect(parseVectorText('[0.5, -1, 2e-3]')).toEqual({ ok: true, vector: [0.5, -1, 0.002] });
    expect(parseVectorText('0.5 -1\n2e-3')).toEqual({ ok: true, vector: [0.5, -1, 0.002] });
  });

  it('names the first item that is not a number', () => {
    expect(parseVectorText('1, 2, abc, 4')).toEqual({
      ok: false,
      message: 'item 3 ("abc") is not a number',
    });
  });

  it('refuses an empty paste', () => {
    expect(parseVectorText(' [ ] ').ok).toBe(false);
  });
});
