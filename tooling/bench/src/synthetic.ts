/**
 * Synthetic embeddings shaped like real ones: a Gaussian mixture in a low-dimensional latent space
 * (real embeddings have an intrinsic dimension far below their width), mapped into the full width
 * by one fixed random linear map, plus small isotropic noise. Isotropic mixtures in 1,536
 * dimensions would make every neighbour almost equally far, a problem no index faces in practice.
 */

import { seededRandom } from '@quarry/db/testing';

// The test suites' deterministic generator (mulberry32): the same data on every run.
export { seededRandom };

export interface SyntheticOptions {
  dimensions: number;
  seed: number;
  latentDimensions?: number;
  clusters?: number;
  /** Spread of a cluster around its centre, in latent units (centres are N(0, 1)). */
  clusterSpread?: number;
  /** Standard deviation of the isotropic noise per output component. */
  noise?: number;
}

export function gaussian(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Vectors as one row-major Float32Array (what pgvector stores), plus each row's cluster. */
/** The benchmark's synthetic data: 1,536 dimensions from a 32-dimensional mixture of 64 clusters. */
export const SYNTHETIC_SHAPE = {
  dimensions: 1536,
  latentDimensions: 32,
  clusters: 64,
  clusterSpread: 0.6,
  noise: 0.05,
} as const;

export interface VectorSet {
  dimensions: number;
  count: number;
  values: Float32Array;
  clusters: Uint16Array;
}

export function row(set: VectorSet, index: number): Float32Array {
  return set.values.subarray(index * set.dimensions, (index + 1) * set.dimensions);
}

export function rowAsArray(set: VectorSet, index: number): number[] {
  return Array.from(row(set, index));
}

/** One distribution: draw any number of independent samples from it with `sample(count, seed)`. */
export function gaussianMixture(options: SyntheticOptions) {
  const { dimensions } = options;
  const latent = options.latentDimensions ?? 32;
  const clusterCount = options.clusters ?? 64;
  const spread = options.clusterSpread ?? 0.6;
  const noise = options.noise ?? 0.05;
  const random = seededRandom(options.seed);
  const centres = Float64Array.from({ length: clusterCount * latent }, () => gaussian(random));
  // Column-scaled so each output component has about unit variance from the latent part.
  const scale = 1 / Math.sqrt(latent);
  const map = Float64Array.from({ length: dimensions * latent }, () => gaussian(random) * scale);
  // Noise comes from a table of Gaussian samples: 1,536 calls to log/sqrt/cos per vector would
  // dominate the generation time, and the noise only has to be small and isotropic.
  const noiseTable = Float32Array.from({ length: 1 << 16 }, () => gaussian(random) * noise);

  return {
    clusters: clusterCount,
    sample(count: number, seed: number): VectorSet {
      const draw = seededRandom(seed);
      const values = new Float32Array(count * dimensions);
      const clusters = new Uint16Array(count);
      const z = new Float64Array(latent);
      for (let n = 0; n < count; n++) {
        const cluster = Math.floor(draw() * clusterCount);
        clusters[n] = cluster;
        for (let j = 0; j < latent; j++)
          z[j] = centres[cluster * latent + j]! + spread * gaussian(draw);
        const offset = n * dimensions;
        let noiseAt = Math.floor(draw() * 65536);
        const noiseStep = 1 + 2 * Math.floor(draw() * 32768);
        for (let i = 0; i < dimensions; i++) {
          let sum = 0;
          const mapOffset = i * latent;
          for (let j = 0; j < latent; j++) sum += map[mapOffset + j]! * z[j]!;
          noiseAt = (noiseAt + noiseStep) & 65535;
          values[offset + i] = sum + noiseTable[noiseAt]!;
        }
      }
      return { dimensions, count, values, clusters };
    },
  };
}

/** Metadata whose filters select about 1 %, 10 % and 50 % of rows, independently of the vectors. */
export interface SyntheticMetadata {
  [key: string]: boolean | number;
  sel1: boolean;
  sel10: boolean;
  sel50: boolean;
  cluster: number;
}

export const selectivities = [
  { name: '1%', key: 'sel1', share: 0.01 },
  { name: '10%', key: 'sel10', share: 0.1 },
  { name: '50%', key: 'sel50', share: 0.5 },
] as const;
export type Selectivity = (typeof selectivities)[number];

export function syntheticMetadata(
  count: number,
  clusters: Uint16Array,
  seed: number,
): SyntheticMetadata[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, n) => ({
    sel1: random() < 0.01,
    sel10: random() < 0.1,
    sel50: random() < 0.5,
    cluster: clusters[n] ?? 0,
  }));
}

/**
 * Text that follows the vectors: each cluster has its own vocabulary, so keyword and vector search
 * agree often enough for hybrid search to mean something.
 */
export function syntheticTexts(clusterCount: number, seed: number) {
  const random = seededRandom(seed);
  const syllables = [
    'ka',
    'lo',
    'mi',
    'ren',
    'tu',
    'sa',
    'vel',
    'dor',
    'ni',
    'pra',
    'qui',
    'zen',
    'bo',
    'fa',
    'gri',
    'hul',
  ];
  const word = () =>
    Array.from({ length: 3 }, () => syllables[Math.floor(random() * syllables.length)]).join('');
  const vocabulary = Array.from({ length: clusterCount }, () => Array.from({ length: 40 }, word));
  const common = Array.from({ length: 200 }, word);
  const pick = <T>(list: readonly T[], draw: () => number): T =>
    list[Math.floor(draw() * list.length)]!;
  return {
    /** A document's text: mostly words of its cluster, some common ones. */
    document(index: number, cluster: number): string {
      const draw = seededRandom(seed * 7919 + index);
      const own = vocabulary[cluster] ?? common;
      const words = Array.from({ length: 12 }, () =>
        draw() < 0.7 ? pick(own, draw) : pick(common, draw),
      );
      return `document ${index}: ${words.join(' ')}`;
    },
    /** A query's text: two words of its cluster. */
    query(index: number, cluster: number): string {
      const draw = seededRandom(seed * 104729 + index);
      const own = vocabulary[cluster] ?? common;
      return `${pick(own, draw)} ${pick(own, draw)}`;
    },
  };
}
