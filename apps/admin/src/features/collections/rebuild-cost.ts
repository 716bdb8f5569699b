export interface HnswParameters {
  m: number;
  efConstruction: number;
}

export interface RebuildCost {
  /** Vectors the rebuild reads and inserts into the new graph. */
  vectors: number;
  /** Estimated size of the new index; the old one stays until the new one is swapped in. */
  estimatedIndexBytes: number;
  /** How much more (or less) work each insert does than the current build, from ef_construction. */
  buildWorkRatio: number;
}

/** Bytes one element takes in a pgvector HNSW index beyond its neighbours: the vector and a header. */
const elementBytes = (dimensions: number, vectorBytesPerDimension: number) =>
  dimensions * vectorBytesPerDimension + 32;
/** Each element keeps up to 2·m neighbours on layer 0 (a 6-byte tuple id each, padded to 8). */
const linkBytes = (m: number) => 2 * m * 8;

/**
 * What changing HNSW parameters costs. An estimate: it scales the current index's size by the
 * per-element bytes under the new m (or computes them when there is no index yet), and the build's
 * work by ef_construction, which sets how many candidates each insert examines.
 */
export function rebuildCost(options: {
  documents: number;
  dimensions: number;
  /** 4 for vector, 2 for halfvec. */
  vectorBytesPerDimension: number;
  currentIndexBytes: number | null;
  current: HnswParameters;
  next: HnswParameters;
}): RebuildCost {
  const element = elementBytes(options.dimensions, options.vectorBytesPerDimension);
  const perElementNext = element + linkBytes(options.next.m);
  const perElementNow = element + linkBytes(options.current.m);
  const estimatedIndexBytes =
    options.currentIndexBytes !== null && options.currentIndexBytes > 0
      ? Math.round((options.currentIndexBytes * perElementNext) / perElementNow)
      : options.documents * perElementNext;
  return {
    vectors: options.documents,
    estimatedIndexBytes,
    buildWorkRatio: options.next.efConstruction / options.current.efConstruction,
  };
}
