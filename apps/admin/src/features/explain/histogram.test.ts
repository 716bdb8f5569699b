import { describe, expect, it } from 'vitest';
import { histogram, keptBy } from './histogram';

describe('similarity histogram', () => {
  it('puts every value in exactly one bin', () => {
    const values = [0.61, 0.62, 0.7, 0.75, 0.8, 0.93];
    const bins = histogram(values, 10);
    expect(bins.reduce((sum, bin) => sum + bin.count, 0)).toBe(values.length);
  });

  it('spans the values rounded out to multiples of 0.05', () => {
    const bins = histogram([0.62, 0.93], 4);
    expect(bins[0]?.from).toBe(0.6);
    expect(bins.at(-1)?.to).toBe(0.95);
  });

  it('counts the largest value in the last bin', () => {
    const bins = histogram([0.5, 0.6, 0.7], 2);
    expect(bins.map((bin) => bin.count)).toEqual([1, 2]);
  });

  it('gives one value a bin of its own width', () => {
    const bins = histogram([0.8], 5);
    expect(bins[0]?.from).toBe(0.8);
    expect(bins.at(-1)?.to).toBe(0.85);
    expect(bins[0]?.count).toBe(1);
  });

  it('has no bins without values', () => {
    expect(histogram([])).toEqual([]);
  });

  it('counts what a threshold keeps, inclusive', () => {
    expect(keptBy([0.4, 0.5, 0.6], 0.5)).toBe(2);
    expect(keptBy([0.4, 0.5, 0.6], undefined)).toBe(3);
  });
});
