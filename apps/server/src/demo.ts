import {
  createCaller,
  createContextInner,
  defaultLimits,
  ingestDocuments,
  openAccess,
  withDeferredIndex,
  type QuarryServices,
} from '@quarry/api';
import { OFFLINE_DIMENSIONS, OFFLINE_MODEL } from '@quarry/api/embeddings';
import { and, collections, count, documents, eq, isNotNull, type Metadata } from '@quarry/db';

export const DEMO_COLLECTION = 'sotu';
/** Documents per ingest call: large enough to be quick, small enough to show progress and stop promptly. */
const DEMO_BATCH = 250;

export interface DemoDocument {
  /** Stable across runs: the resume key. */
  externalId: string;
  content: string;
  metadata: Metadata;
}

export interface DemoOutcome {
  status: 'filled' | 'already-filled' | 'stopped';
  documents: number;
  inserted: number;
  seconds: number;
}

/**
 * Creates the demo collection and fills it through the one ingest pipeline (so it is embedded,
 * validated and deduplicated exactly like any client's data). Resumable: documents are
 * keyed by external id, and only the ones not stored yet are sent, so an interrupted first start
 * picks up where it stopped, and a filled collection costs one count query.
 */
export async function seedDemo(options: {
  services: QuarryServices;
  load: () => Promise<DemoDocument[]>;
  signal?: AbortSignal;
  onStart?: (total: number, stored: number) => void;
  onProgress?: (stored: number, total: number) => void;
  onIndexBuild?: () => void;
}): Promise<DemoOutcome> {
  const started = performance.now();
  const seconds = () => Math.round(performance.now() - started) / 1000;
  const { db } = options.services.database;
  const caller = createCaller(createContextInner(options.services, openAccess, 'demo-seed'));

  const [existing] = await db
    .select()
    .from(collections)
    .where(eq(collections.name, DEMO_COLLECTION));
  if (!existing) {
    await caller.collections.create({
      name: DEMO_COLLECTION,
      dimensions: OFFLINE_DIMENSIONS,
      embeddingModel: OFFLINE_MODEL,
      metric: 'cosine',
    });
  }
  const collection =
    existing ??
    (await db.select().from(collections).where(eq(collections.name, DEMO_COLLECTION)))[0];
  if (collection === undefined)
    throw new Error(`collection '${DEMO_COLLECTION}' vanished while being filled`);
  const collectionId = collection.id;

  const corpus = await options.load();
  const [stored] = await db
    .select({ n: count() })
    .from(documents)
    .where(eq(documents.collectionId, collectionId));
  if ((stored?.n ?? 0) >= corpus.length) {
    return { status: 'already-filled', documents: stored?.n ?? 0, inserted: 0, seconds: seconds() };
  }
  const have = new Set(
    (
      await db
        .select({ externalId: documents.externalId })
        .from(documents)
        .where(and(eq(documents.collectionId, collectionId), isNotNull(documents.externalId)))
    ).map((row) => row.externalId),
  );
  const missing = corpus.filter((document) => !have.has(document.externalId));
  let done = corpus.length - missing.length;
  let inserted = 0;
  options.onStart?.(corpus.length, done);
  // Building the HNSW index once over all rows is several times faster than growing it row by row
  // (pgvector's own advice for bulk loads): the pipeline defers it for a load this size into an
  // empty or small collection. Should the fill be interrupted, `migrate` rebuilds it on the next start.
  const { services } = options;
  const { value: stopped } = await withDeferredIndex(
    services.database,
    collection,
    missing.length,
    async () => {
      for (let start = 0; start < missing.length; start += DEMO_BATCH) {
        // The embedded database answers through promises alone; without a turn of the event loop
        // here, health checks, requests and signals would wait for the whole fill.
        await new Promise((resolve) => setImmediate(resolve));
        if (options.signal?.aborted) return true;
        const batch = missing.slice(start, start + DEMO_BATCH);
        const result = await ingestDocuments(
          services.database,
          { ...defaultLimits, ...services.limits },
          services.embeddings,
          collection,
          'default',
          batch,
          { deferIndex: false },
        );
        inserted += result.inserted;
        done += batch.length;
        options.onProgress?.(done, corpus.length);
      }
      return false;
    },
    {
      ...(options.onIndexBuild ? { onIndexBuild: options.onIndexBuild } : {}),
      ...(options.signal ? { stopping: options.signal } : {}),
    },
  );
  if (stopped) return { status: 'stopped', documents: done, inserted, seconds: seconds() };
  return { status: 'filled', documents: done, inserted, seconds: seconds() };
}
