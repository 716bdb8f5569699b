import { describe, expect, it } from 'vitest';
import type { RouterOutputs } from '@quarry/api';
import { verdict, type VerdictContext } from './verdict';

type Inspection = RouterOutputs['search']['inspectDocument'];

const passing: Inspection = {
  id: '0b7e4a8e-8d54-4c3c-9f1e-5b0f5c6f2a11',
  tenant: 'default',
  hasEmbedding: true,
  distance: 0.2,
  similarity: 0.8,
  passesFilter: true,
  inDateRange: true,
  passesThreshold: true,
  exactRank: 3,
  withinK: true,
};
const context: VerdictContext = {
  k: 10,
  minSimilarity: undefined,
  returnedRank: undefined,
  efSearch: undefined,
};

describe('why not document X', () => {
  it('blames the filter first when it fails the filter', () => {
    expect(
      verdict(
        { ...passing, passesFilter: false, passesThreshold: false, exactRank: null },
        context,
      ),
    ).toMatch(/fails the metadata filter/);
  });

  it('names the threshold and the similarity it fell short with', () => {
    const text = verdict(
      { ...passing, similarity: 0.41, passesThreshold: false },
      { ...context, minSimilarity: 0.5 },
    );
    expect(text).toBe(
      'Its similarity 0.4100 is below the minimum similarity 0.5000: lower the threshold to include it.',
    );
  });

  it('says which k would reach it when it ranks beyond k', () => {
    expect(verdict({ ...passing, exactRank: 14, withinK: false }, context)).toBe(
      'By exact distance it ranks 14, beyond k = 10: raise k to 14 to see it.',
    );
  });

  it('calls an index miss an index miss', () => {
    expect(verdict(passing, { ...context, returnedRank: null, efSearch: 40 })).toMatch(
      /approximate index missed it\. Raise ef_search \(now 40\)/,
    );
  });

  it('confirms a document that was returned', () => {
    expect(verdict(passing, { ...context, returnedRank: 4 })).toBe(
      'It is returned, at rank 4 (exact rank 3).',
    );
  });

  it('says it has no embedding before anything else', () => {
    expect(verdict({ ...passing, hasEmbedding: false, passesFilter: false }, context)).toMatch(
      /no embedding/,
    );
  });
});
