import { describe, expect, it } from 'vitest';
import { abbreviateVectors } from './abbreviate-plan';

describe('abbreviateVectors', () => {
  it('shortens a 1,536-number vector literal to its ends and its length', () => {
    const vector = Array.from({ length: 1536 }, (_, i) => (i / 1000).toFixed(3)).join(',');
    const line = `Order By: (embedding <=> '[${vector}]'::vector)`;
    expect(abbreviateVectors(line)).toBe(
      "Order By: (embedding <=> '[0.000,0.001,0.002,…,1.533,1.534,1.535] (1,536 numbers)'::vector)",
    );
  });

  it('reads negative and exponent numbers', () => {
    const vector = Array.from({ length: 20 }, (_, i) => `-${i}e-05`).join(',');
    expect(abbreviateVectors(`'[${vector}]'`)).toBe(
      "'[-0e-05,-1e-05,-2e-05,…,-17e-05,-18e-05,-19e-05] (20 numbers)'",
    );
  });

  it('leaves short arrays and other lines alone', () => {
    const line = "Index Cond: (tags && '{1,2,3}'::int[]) Filter: x = ANY ('[1,2,3]')";
    expect(abbreviateVectors(line)).toBe(line);
    expect(abbreviateVectors('Limit  (cost=0.00..1.00 rows=10 width=8)')).toBe(
      'Limit  (cost=0.00..1.00 rows=10 width=8)',
    );
  });
});
