import {
  describeEachTarget,
  seededRandom,
  testTargets,
  type TestDatabase,
  type TestTarget,
} from '@quarry/db/testing';
import { createContextInner, createCaller, type QuarryServices } from '../src/index';
import { openAccess, type Principal, type Scope } from '../src/auth';
import { createEmbeddingRegistry, type EmbeddingProvider } from '../src/embeddings';
import type { Limits } from '../src/limits';

export { describeEachTarget, testTargets, type TestDatabase, type TestTarget };
export { seededRandom };

export function gaussian(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Vectors from a Gaussian mixture: clustered, like real embeddings. */
export function clusteredVectors(
  count: number,
  dimensions: number,
  seed: number,
  clusters = 16,
): number[][] {
  const random = seededRandom(seed);
  const centers = Array.from({ length: clusters }, () =>
    Array.from({ length: dimensions }, () => gaussian(random)),
  );
  return Array.from({ length: count }, () => {
    const center = centers[Math.floor(random() * clusters)] ?? [];
    return center.map((c) => Math.fround(c + 0.35 * gaussian(random)));
  });
}

export function principal(scopes: Scope[], tenant?: string): Principal {
  return {
    name: `test-${scopes.join('-')}${tenant ? `-${tenant}` : ''}`,
    scopes: new Set(scopes),
    tenant,
  };
}

export interface Harness {
  database: TestDatabase;
  services: QuarryServices;
  /** A caller acting as `who` (open access by default). */
  as(who?: Principal): ReturnType<typeof createCaller>;
  close(): Promise<void>;
}

export async function createHarness(
  target: TestTarget,
  options: { limits?: Partial<Limits>; providers?: EmbeddingProvider[] } = {},
): Promise<Harness> {
  const database = await target.createDatabase();
  const services: QuarryServices = {
    database,
    embeddings: createEmbeddingRegistry(options.providers ?? []),
    limits: options.limits,
  };
  return {
    database,
    services,
    as: (who = openAccess) => createCaller(createContextInner(services, who)),
    close: () => database.close(),
  };
}

/**
 * A small deterministic text embedder for tests that need text → vector without the word-vector
 * data: hashed bag of words, L2-normalised. Shares words → closer vectors.
 */
export function hashedBagOfWords(model: string, dimensions: number): EmbeddingProvider {
  return {
    model,
    dimensions,
    embed(texts) {
      return Promise.resolve(
        texts.map((text) => {
          const vector = new Array<number>(dimensions).fill(0);
          for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
            let hash = 2166136261;
            for (const char of word) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619);
            vector[(hash >>> 0) % dimensions]! += 1;
          }
          vector[0]! += 1e-3; // never the zero vector, whose cosine distance is undefined
          const norm = Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
          return vector.map((x) => x / norm);
        }),
      );
    },
  };
}

/**
 * An EXPLAIN ANALYZE plan without what changes from run to run or with how many rows are asked:
 * costs, row counts and timings; on Citus also the shards' own timings, the bytes they sent, the
 * subplans' numbers and which shard (and worker) the task shown ran on. Two statements planned
 * alike have the same shape.
 */
export function planShape(plan: string[] | null): string[] {
  return (plan ?? [])
    .filter((line) => !/^\s*((Planning|Execution) Time|Subplan Duration)/.test(line))
    .map((line) =>
      line
        .replace(/\((cost|actual)[^)]*\)/g, '')
        .replace(/Distributed Subplan \d+_\d+/, 'Distributed Subplan')
        .replace(/(documents\w*?)_\d{6}\b/g, '$1')
        .replace(/ port=\d+ /, ' ')
        .replace(/(Intermediate Data Size|Tuple data received from nodes?): \d+ bytes/, '$1')
        .trimEnd(),
    );
}
