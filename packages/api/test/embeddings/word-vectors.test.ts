import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readWinkVectors } from '../../src/embeddings/offline/wink-source';
import { loadWordVectors } from '../../src/embeddings/offline/word-vectors';
import { fixtureVector, writeWinkFixture } from './wink-fixture';

const words = ['the', 'of', 'president', 'well-known', 'say"quoted"', 'economy'];
const DIMENSIONS = 6;
let directory: string;
let jsonPath: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'quarry-word-vectors-'));
  jsonPath = await writeWinkFixture(directory, words, DIMENSIONS);
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('readWinkVectors', () => {
  it('hands out every word with its rank and vector, in file order', async () => {
    const seen: { word: string; rank: number; vector: number[] }[] = [];
    const { header, wordCount } = await readWinkVectors(jsonPath, ({ word, rank, vector }) => {
      seen.push({ word, rank, vector: Array.from(vector) });
    });
    expect(header).toEqual({
      dimensions: DIMENSIONS,
      size: words.length,
      l2NormIndex: DIMENSIONS,
      wordIndex: DIMENSIONS + 1,
    });
    expect(wordCount).toBe(words.length);
    expect(seen.map(({ word, rank }) => [word, rank])).toEqual(
      words.map((word, rank) => [word, rank]),
    );
    seen.forEach(({ rank, vector }) => {
      expect(vector).toEqual(Array.from(new Float32Array(fixtureVector(rank, DIMENSIONS))));
    });
  });
});

describe('loadWordVectors', () => {
  const cacheDir = (): string => join(directory, 'cache');

  it('builds the compact form on first load, then reuses it', async () => {
    const source = { jsonPath, version: '1.0.0-test' };
    const first = await loadWordVectors(cacheDir(), source);
    const second = await loadWordVectors(cacheDir(), source);
    expect(first.report.built).toBe(true);
    expect(second.report.built).toBe(false);
    expect(second.vectors.matrix).toEqual(first.vectors.matrix);
  });

  it('serves two loads that build the same cache at once', async () => {
    const source = { jsonPath, version: '1.0.0-test' };
    const [first, second] = await Promise.all([
      loadWordVectors(cacheDir(), source),
      loadWordVectors(cacheDir(), source),
    ]);
    expect(second.vectors.matrix).toEqual(first.vectors.matrix);
    expect((await loadWordVectors(cacheDir(), source)).report.built).toBe(false);
  });

  it('finds each word at the row of its rank with its vector', async () => {
    const { vectors } = await loadWordVectors(cacheDir(), { jsonPath, version: '1.0.0-test' });
    expect(vectors.size).toBe(words.length);
    expect(vectors.dimensions).toBe(DIMENSIONS);
    words.forEach((word, rank) => {
      expect(vectors.rowOf(word)).toBe(rank);
      const row = Array.from(vectors.matrix.subarray(rank * DIMENSIONS, (rank + 1) * DIMENSIONS));
      expect(row).toEqual(Array.from(new Float32Array(fixtureVector(rank, DIMENSIONS))));
    });
    expect(vectors.rowOf('absent')).toBeUndefined();
  });

  it('rebuilds a cache whose vector file was truncated', async () => {
    const source = { jsonPath, version: '1.0.0-test' };
    const { report } = await loadWordVectors(cacheDir(), source);
    await truncate(join(report.directory, 'vectors.f32'), 8);
    const again = await loadWordVectors(cacheDir(), source);
    expect(again.report.built).toBe(true);
    expect(again.vectors.rowOf('economy')).toBe(words.indexOf('economy'));
  });

  it('rebuilds when the source file changes size', async () => {
    const source = { jsonPath, version: '1.0.0-test' };
    await loadWordVectors(cacheDir(), source);
    await writeWinkFixture(directory, [...words, 'congress'], DIMENSIONS);
    const again = await loadWordVectors(cacheDir(), source);
    expect(again.report.built).toBe(true);
    expect(again.vectors.rowOf('congress')).toBe(words.length);
  });

  it('keeps one cache per source version', async () => {
    const first = await loadWordVectors(cacheDir(), { jsonPath, version: '1.0.0' });
    const second = await loadWordVectors(cacheDir(), { jsonPath, version: '2.0.0' });
    expect(second.report.built).toBe(true);
    expect(second.report.directory).not.toBe(first.report.directory);
  });

  it('refuses a source whose words are not in rank order', async () => {
    const path = join(directory, 'out-of-order.json');
    await writeFile(
      path,
      JSON.stringify({
        l2NormIndex: 2,
        wordIndex: 3,
        size: 2,
        dimensions: 2,
        words: ['b', 'a'],
        vectors: { a: [1, 0, 1, 1], b: [0, 1, 1, 0] },
      }),
    );
    await expect(loadWordVectors(cacheDir(), { jsonPath: path, version: 'x' })).rejects.toThrow(
      /rank 1 but appears at position 0/,
    );
  });
});
