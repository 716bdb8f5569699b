import { describe, expect, it } from 'vitest';
import { seededRandom } from '@quarry/db/testing';
import { sampledDistances, type CollectionSample } from '../src/search/nearer-rows';

/** The metrics as pgvector defines them, one component at a time. */
const reference = {
  l2: (row: number[], query: number[]) =>
    Math.sqrt(row.reduce((sum, value, i) => sum + (value - query[i]!) ** 2, 0)),
  inner_product: (row: number[], query: number[]) =>
    -row.reduce((sum, value, i) => sum + value * query[i]!, 0),
  cosine: (row: number[], query: number[]) =>
    1 -
    row.reduce((sum, value, i) => sum + value * query[i]!, 0) /
      (Math.hypot(...row) * Math.hypot(...query)),
} as const;

describe('sampledDistances', () => {
  it.each([1, 3, 7, 64, 1_537])(
    'gives every metric pgvector’s distance at %i dimensions',
    (dimensions) => {
      const random = seededRandom(dimensions);
      const rows = Array.from({ length: 5 }, () =>
        Array.from({ length: dimensions }, () => Math.fround(random() * 2 - 1)),
      );
      const query = Array.from({ length: dimensions }, () => random() * 2 - 1);
      const sample: CollectionSample = {
        ids: rows.map((_, i) => String(i)),
        tenants: rows.map(() => 'default'),
        metadata: rows.map(() => ({})),
        vectors: Float32Array.from(rows.flat()),
        norms: Float64Array.from(rows.map((row) => Math.hypot(...row))),
      };
      for (const metric of ['l2', 'inner_product', 'cosine'] as const) {
        const distances = sampledDistances(sample, { dimensions, metric }, query);
        rows.forEach((row, i) => {
          expect(distances[i]).toBeCloseTo(reference[metric](row, query), 9);
        });
      }
    },
  );
});
