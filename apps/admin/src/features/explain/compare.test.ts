import { describe, expect, it } from 'vitest';
import { compareWithExact, formatRecall } from './compare';

const results = (...ids: string[]) => ids.map((id) => ({ id }));

describe('compare with exact', () => {
  it('has full recall when the index returns the exact list', () => {
    expect(compareWithExact(results('a', 'b', 'c'), results('a', 'b', 'c')).recall).toBe(1);
  });

  it('counts recall as the share of exact results the index found, in any order', () => {
    expect(compareWithExact(results('c', 'x', 'a', 'y'), results('a', 'b', 'c', 'd')).recall).toBe(
      0.5,
    );
  });

  it('lists what the index missed with its exact rank', () => {
    const { missed } = compareWithExact(results('a', 'x'), results('a', 'b', 'c'));
    expect(missed.map(({ result, exactRank }) => [result.id, exactRank])).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('lists what the index returned instead with its rank there', () => {
    const { intruders } = compareWithExact(results('a', 'x', 'y'), results('a', 'b', 'c'));
    expect(intruders.map(({ result, indexRank }) => [result.id, indexRank])).toEqual([
      ['x', 2],
      ['y', 3],
    ]);
  });

  it('keeps both ranks of results found by both', () => {
    expect(compareWithExact(results('b', 'a'), results('a', 'b')).shared).toEqual([
      { result: { id: 'a' }, indexRank: 2, exactRank: 1 },
      { result: { id: 'b' }, indexRank: 1, exactRank: 2 },
    ]);
  });

  it('has no recall to report when exact search finds nothing', () => {
    expect(compareWithExact(results(), results()).recall).toBeNull();
  });

  it('formats recall as a percentage', () => {
    expect(formatRecall(1)).toBe('100%');
    expect(formatRecall(0.875)).toBe('87.5%');
    expect(formatRecall(null)).toBe('–');
  });
});
