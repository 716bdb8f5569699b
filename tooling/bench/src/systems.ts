import type { PGlite } from '@electric-sql/pglite';
import type postgres from 'postgres';
import {
  createCaller,
  createContextInner,
  defaultLimits,
  ingestDocuments,
  openAccess,
  type IngestItem,
  type RouterOutputs,
} from '@quarry/api';
import { createEmbeddingRegistry, type EmbeddingProvider } from '@quarry/api/embeddings';
import { collections, dropVectorIndexes, eq, type Collection, type Database } from '@quarry/db';
import { guideQueryText } from './guide';
import { progress } from './log';
import type { SearchSystems } from './recall-bench';

/** A collection for synthetic vectors; without its HNSW index unless asked (loads build it afterwards). */
export async function createBenchCollection(
  database: Database,
  name: string,
  dimensions: number,
  options: { withIndex: boolean },
): Promise<Collection> {
  await quarryCaller(database).collections.create({
    name,
    dimensions,
    embeddingModel: 'bench/synthetic',
  });
  const [collection] = await database.db
    .select()
    .from(collections)
    .where(eq(collections.name, name));
  if (!collection) throw new Error(`collection ${name} was not created`);
  if (!options.withIndex) await dropVectorIndexes(database, collection.id);
  return collection;
}

/**
 * Quarry's ingest pipeline in process, as every part of the benchmark loads it: vectors given, no
 * statement timeout, no batch cap, and the index left as the bench set it up (deferral measured apart).
 */
export function quarryBulkIngest(database: Database, collection: Collection, items: IngestItem[]) {
  return ingestDocuments(
    database,
    defaultLimits,
    createEmbeddingRegistry([]),
    collection,
    'default',
    items,
    { statementTimeoutMs: 0, enforceBatchLimits: false, deferIndex: false },
  );
}

/**
 * An in-process caller of Quarry's router: the whole search procedure, without HTTP. Each call gets
 * its own context, as each request does in the server (a context holds the request's response
 * budget: one shared by every call would fill and refuse calls after a few thousand).
 */
export function quarryCaller(database: Database, providers: EmbeddingProvider[] = []) {
  const embeddings = createEmbeddingRegistry(providers);
  return createCaller(() =>
    createContextInner({ database, embeddings, limits: { statementTimeoutMs: 0 } }, openAccess),
  );
}

/** How long untilPlanSettled waits at most. */
const PLAN_SETTLE_MS = 60_000;

/**
 * Reads the collection (`collections.get`) until Quarry's plan for its searches has settled: its
 * size is known and, for a size that is calibrated, its ef_search is measured. Both are read in
 * the background after a collection's first searches (or reads); a user's searches after those
 * first seconds run at the settled plan, and that is what the benchmark measures.
 */
export async function untilPlanSettled(
  readCollection: () => Promise<RouterOutputs['collections']['get']>,
): Promise<void> {
  const started = performance.now();
  for (;;) {
    const width = (await readCollection()).searchWidth;
    const rows = width?.collectionRows ?? null;
    if (
      width === null ||
      width.calibration !== null ||
      (rows !== null && (rows < width.calibratedRows.min || rows > width.calibratedRows.max))
    ) {
      return;
    }
    if (performance.now() - started > PLAN_SETTLE_MS) {
      progress(`  Quarry's plan did not settle in ${PLAN_SETTLE_MS / 1000} s`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

export function quarrySearch(database: Database, collectionName: string): SearchSystems['quarry'] {
  const caller = quarryCaller(database);
  let settled = false;
  return async (vector, filter, efSearch) => {
    if (!settled) {
      await untilPlanSettled(() => caller.collections.get({ name: collectionName }));
      settled = true;
    }
    const response = await caller.search.query({
      collection: collectionName,
      mode: 'vector',
      vector,
      k: 10,
      ...(filter ? { filter } : {}),
      ...(efSearch ? { efSearch } : {}),
    });
    return {
      externalIds: response.results.map((result) => result.externalId ?? ''),
      strategy: response.stats.strategy,
    };
  };
}

type GuideCollection = Pick<Collection, 'id' | 'dimensions'>;

function guideStatement(
  collection: GuideCollection,
  filter: { key: string; value: string } | undefined,
) {
  const text = guideQueryText({
    collectionId: collection.id,
    dimensions: collection.dimensions,
    filterKey: filter?.key,
    k: 10,
  });
  return { text, params: (vector: string) => (filter ? [vector, filter.value] : [vector]) };
}

/** The guide's query through its own client settings (postgres.js, `prepare: false`). */
export function guideSearchOnPostgres(
  client: postgres.Sql,
  collection: GuideCollection,
): SearchSystems['guide'] {
  return async (vector, filter, efSearch) => {
    const { text, params } = guideStatement(collection, filter);
    const rows =
      efSearch === undefined
        ? await client.unsafe<Array<{ external_id: string }>>(text, params(vector))
        : await client.begin(async (tx) => {
            await tx`select set_config('hnsw.ef_search', ${String(efSearch)}, true)`;
            return tx.unsafe<Array<{ external_id: string }>>(text, params(vector));
          });
    return rows.map((row) => row.external_id);
  };
}

export function guideSearchOnPglite(
  client: PGlite,
  collection: GuideCollection,
): SearchSystems['guide'] {
  return async (vector, filter, efSearch) => {
    const { text, params } = guideStatement(collection, filter);
    const result =
      efSearch === undefined
        ? await client.query<{ external_id: string }>(text, params(vector))
        : await client.transaction(async (tx) => {
            await tx.query(`select set_config('hnsw.ef_search', $1, true)`, [String(efSearch)]);
            return tx.query<{ external_id: string }>(text, params(vector));
          });
    return result.rows.map((row) => row.external_id);
  };
}
