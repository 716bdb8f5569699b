import { describe, expect, it } from 'vitest';
import { tokenize, vocabularyWords } from '../../src/embeddings/offline/tokenize';

const vocabulary = new Set([
  'do',
  'not',
  'can',
  'will',
  'we',
  'are',
  'nation',
  'tax',
  'cutting',
  'well-known',
  'obrien',
]);
const isKnown = (word: string): boolean => vocabulary.has(word);

describe('tokenize', () => {
  it('lowercases and drops punctuation', () => {
    expect(tokenize('The Union, STRONG!')).toEqual(['the', 'union', 'strong']);
  });

  it('removes accents', () => {
    expect(tokenize('Café naïve Über')).toEqual(['cafe', 'naive', 'uber']);
  });

  it('keeps hyphenated and apostrophe words whole and folds curly apostrophes', () => {
    expect(tokenize('a well-known nation’s “tax-cutting” plan')).toEqual([
      'a',
      'well-known',
      "nation's",
      'tax-cutting',
      'plan',
    ]);
  });

  it('returns nothing for empty or punctuation-only text', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize(' — ?! … ')).toEqual([]);
  });
});

describe('vocabularyWords', () => {
  it('keeps a known token as it is', () => {
    expect(vocabularyWords('well-known', isKnown)).toEqual(['well-known']);
  });

  it('expands negations, including irregular ones', () => {
    expect(vocabularyWords("don't", isKnown)).toEqual(['do', 'not']);
    expect(vocabularyWords("can't", isKnown)).toEqual(['can', 'not']);
    expect(vocabularyWords("won't", isKnown)).toEqual(['will', 'not']);
  });

  it("expands contractions and drops the possessive 's", () => {
    expect(vocabularyWords("we're", isKnown)).toEqual(['we', 'are']);
    expect(vocabularyWords("nation's", isKnown)).toEqual(['nation']);
  });

  it('splits an unknown compound into its known parts', () => {
    expect(vocabularyWords('tax-cutting', isKnown)).toEqual(['tax', 'cutting']);
    expect(vocabularyWords('tax-xyzzy', isKnown)).toEqual(['tax']);
  });

  it('joins a name written with an apostrophe', () => {
    expect(vocabularyWords("o'brien", isKnown)).toEqual(['obrien']);
  });

  it('returns nothing for an unknown word', () => {
    expect(vocabularyWords('xyzzy', isKnown)).toEqual([]);
  });
});
