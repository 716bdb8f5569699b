import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createOfflineEmbeddingProvider,
  OFFLINE_DIMENSIONS,
  OFFLINE_MODEL,
} from '../../src/embeddings';

function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    normA += a[i]! ** 2;
    normB += b[i]! ** 2;
  }
  return dot / Math.sqrt(normA * normB);
}

function norm(vector: readonly number[]): number {
  return Math.sqrt(vector.reduce((sum, component) => sum + component * component, 0));
}

// One provider on the default cache: built by the first test run on a machine, reused after.
const provider = createOfflineEmbeddingProvider();

describe('offline embedding provider', () => {
  it(`identifies itself as ${OFFLINE_MODEL} with ${OFFLINE_DIMENSIONS} dimensions`, () => {
    expect(provider.model).toBe('quarry/wink-sg-100d');
    expect(provider.dimensions).toBe(100);
  });

  it('places a text closer to a related text than to an unrelated one', async () => {
    const [speech, budget, cat] = await provider.embed([
      'the president addressed congress about the economy',
      'taxes and the federal budget',
      'my cat sleeps on the sofa',
    ]);
    expect(cosineSimilarity(speech!, budget!)).toBeGreaterThan(
      cosineSimilarity(speech!, cat!) + 0.2,
    );
  });

  it('ranks paraphrases above other topics', async () => {
    const [army, defense, harvest] = await provider.embed([
      'we must strengthen our army and navy',
      'military forces and national defense',
      'the price of wheat and corn rose this year',
    ]);
    expect(cosineSimilarity(army!, defense!)).toBeGreaterThan(cosineSimilarity(army!, harvest!));
  });

  it('returns one 100-dimensional unit vector per text, in order', async () => {
    const texts = ['schools and teachers', 'a treaty of peace', 'railroads to the west'];
    const vectors = await provider.embed(texts);
    expect(vectors).toHaveLength(texts.length);
    for (const vector of vectors) {
      expect(vector).toHaveLength(100);
      expect(norm(vector)).toBeCloseTo(1, 6);
    }
    const [alone] = await provider.embed([texts[1]!]);
    expect(vectors[1]).toEqual(alone);
  });

  it('gives the same text the same vector across calls and providers', async () => {
    const text = 'The Union is strong, and the economy is growing.';
    const [first] = await provider.embed([text]);
    const [again] = await createOfflineEmbeddingProvider().embed([text]);
    expect(again).toEqual(first);
  });

  it('ignores case, punctuation and accents', async () => {
    const [plain, styled] = await provider.embed([
      'the cafe near the capitol',
      'The CAFÉ, near the Capitol!!',
    ]);
    expect(styled).toEqual(plain);
  });

  it('reads contractions as their long form', async () => {
    const [short, long] = await provider.embed([
      "we can't and won't wait",
      'we can not and will not wait',
    ]);
    expect(short).toEqual(long);
  });

  it('gives text without known words a finite unit vector that cosine distance treats as unrelated', async () => {
    const [empty, punctuation, numbers, unknown, sentence] = await provider.embed([
      '',
      ' ?!… — ',
      '1790 2021',
      'qqzxv wrrbl',
      'the president addressed congress about the economy',
    ]);
    for (const vector of [empty!, punctuation!, numbers!, unknown!]) {
      expect(vector).toHaveLength(100);
      expect(vector.every(Number.isFinite)).toBe(true);
      expect(norm(vector)).toBeCloseTo(1, 6);
      const similarity = cosineSimilarity(vector, sentence!);
      expect(Number.isNaN(similarity)).toBe(false);
      expect(Math.abs(similarity)).toBeLessThan(1e-6);
    }
    expect(punctuation).toEqual(empty);
  });

  it('handles text in other scripts by its known words only', async () => {
    const [mixed, english] = await provider.embed(['東京 the economy Москва', 'the economy']);
    expect(mixed).toEqual(english);
  });

  it('refuses to work after the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(provider.embed(['anything'], { signal: controller.signal })).rejects.toMatchObject(
      {
        code: 'EMBEDDING_PROVIDER_FAILED',
      },
    );
  });
});

describe('offline word-vector cache', () => {
  const directories: string[] = [];
  afterAll(async () => {
    await Promise.all(
      directories.map((directory) => rm(directory, { recursive: true, force: true })),
    );
  });

  async function freshCacheDir(): Promise<string> {
    const directory = await mkdtemp(join(tmpdir(), 'quarry-embeddings-'));
    directories.push(directory);
    return directory;
  }

  it('is built on first use in a directory and reused by later providers, with identical vectors', async () => {
    const cacheDir = await freshCacheDir();
    const first = createOfflineEmbeddingProvider({ cacheDir });
    const firstReport = await first.warmUp();
    expect(firstReport.built).toBe(true);

    const second = createOfflineEmbeddingProvider({ cacheDir });
    const secondReport = await second.warmUp();
    expect(secondReport.built).toBe(false);
    expect(secondReport.directory).toBe(firstReport.directory);

    const text = 'a message to congress on the state of the union';
    expect(await second.embed([text])).toEqual(await first.embed([text]));
    expect((await readdir(firstReport.directory)).sort()).toEqual([
      'manifest.json',
      'vectors.f32',
      'vocabulary.txt',
    ]);
  });
});
