import type { IngestItem } from '@quarry/api';
import type { Metadata } from '@quarry/db';
import { rowNorms } from './exact';
import type { VectorSet } from './synthetic';

/** Documents with their vectors kept as float32 in one buffer, for loading and for ground truth. */
export interface Corpus {
  label: string;
  vectors: VectorSet;
  norms: Float64Array;
  contents: string[];
  metadata: Metadata[];
  externalIds: string[];
}

export function corpus(
  label: string,
  vectors: VectorSet,
  contents: string[],
  metadata: Metadata[],
  externalIds: string[],
): Corpus {
  if (
    contents.length !== vectors.count ||
    metadata.length !== vectors.count ||
    externalIds.length !== vectors.count
  ) {
    throw new Error(
      `corpus ${label}: ${vectors.count} vectors, ${contents.length} texts, ${metadata.length} metadata, ${externalIds.length} ids`,
    );
  }
  return { label, vectors, norms: rowNorms(vectors), contents, metadata, externalIds };
}

export function vectorOf(corpus: Corpus, row: number): Float32Array {
  const { dimensions, values } = corpus.vectors;
  return values.subarray(row * dimensions, (row + 1) * dimensions);
}

/** Rows [start, end) as ingest items (plain number arrays, as a caller of the API would hold them). */
export function ingestItems(corpus: Corpus, start: number, end: number): IngestItem[] {
  const items: IngestItem[] = [];
  for (let row = start; row < Math.min(end, corpus.vectors.count); row++) {
    items.push({
      content: corpus.contents[row] ?? '',
      metadata: corpus.metadata[row] ?? {},
      externalId: corpus.externalIds[row],
      embedding: Array.from(vectorOf(corpus, row)),
    });
  }
  return items;
}

export function rowsByExternalId(corpus: Corpus): Map<string, number> {
  return new Map(corpus.externalIds.map((id, row) => [id, row]));
}
