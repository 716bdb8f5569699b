import { describe, expect, it } from 'vitest';
import { highlight, queryStems, snippet } from './highlight';

const matched = (text: string, query: string) =>
  highlight(text, queryStems(query))
    .filter((segment) => segment.match)
    .map((segment) => segment.text);

describe('keyword highlights', () => {
  it('marks the query words in the text', () => {
    expect(matched('We will cut taxes and raise wages.', 'taxes wages')).toEqual([
      'taxes',
      'wages',
    ]);
  });

  it('matches other forms of the same word', () => {
    expect(matched('The taxing power; a new tax; taxed goods.', 'taxes')).toEqual([
      'taxing',
      'tax',
      'taxed',
    ]);
  });

  it('ignores stop words in the query', () => {
    expect(matched('the state of the union', 'the union')).toEqual(['union']);
  });

  it('is case-insensitive', () => {
    expect(matched('CONGRESS and Congress', 'congress')).toEqual(['CONGRESS', 'Congress']);
  });

  it('loses no text', () => {
    const text = 'Peace, at home and abroad — peace!';
    expect(
      highlight(text, queryStems('peace'))
        .map((segment) => segment.text)
        .join(''),
    ).toBe(text);
  });

  it('marks nothing for an empty query', () => {
    expect(highlight('any text', queryStems(''))).toEqual([{ text: 'any text', match: false }]);
  });
});

describe('snippets', () => {
  const long = `${'Opening words of a long paragraph. '.repeat(20)}Here the railroad appears. ${'Closing words follow on. '.repeat(20)}`;

  it('keeps short text whole', () => {
    expect(snippet('short text', queryStems('text'))).toEqual(
      expect.objectContaining({ clippedStart: false, clippedEnd: false }),
    );
  });

  it('shows the first match of long text, clipped on both sides', () => {
    const result = snippet(long, queryStems('railroad'), 200);
    expect(result.segments.some((segment) => segment.match && segment.text === 'railroad')).toBe(
      true,
    );
    expect(result.clippedStart).toBe(true);
    expect(result.clippedEnd).toBe(true);
    expect(result.segments.map((segment) => segment.text).join('').length).toBeLessThanOrEqual(200);
  });

  it('starts at the beginning when nothing matches', () => {
    const result = snippet(long, queryStems('zeppelin'), 200);
    expect(result.clippedStart).toBe(false);
    expect(result.segments[0]?.text.startsWith('Opening words')).toBe(true);
  });
});
