import type { Database } from '@quarry/db';
import type { Principal } from '../auth';
import type { Context } from '../context';
import { onReplica } from '../replicas';
import { HARD_LIMITS } from '../limits';
import { chargeResponse } from '../response-budget';
import { inReadTransaction, lastStatementIssued } from '../transaction';
import { knownCollectionRows } from './collection-size';
import { calibratedEfSearch } from './ef-calibration';
import { fuseHybrid, mergeRetrievals } from './fuse';
import type { SearchInput } from './input';
import {
  exactScanMaxRows,
  forgetProbe,
  hnswSettings,
  planByProbe,
  planWithoutCounting,
  probeKey,
  probeRestrictions,
  rememberedProbe,
  rememberedPlan,
  rememberProbe,
  type VectorPlan,
} from './plan';
import { checkSearchLimits, prepareQuery, withCurrentCollection } from './prepare';
import { retrieveByKeyword } from './retrieve-keyword';
import { nearerRowCheck } from './nearer-rows';
import { retrieveByVector } from './retrieve-vector';
import { shapeResults } from './shape';
import type { SearchResponse } from './types';

export type { SearchResponse, SearchResult, SearchStats, VectorStrategy } from './types';

/**
 * A search, stage by stage: prepare (collection, tenant, query vector, restrictions), plan (how
 * the vector part is answered), retrieve (keyword, vector; one transaction), fuse (hybrid), shape
 * (threshold, scores, the first k). A search only reads: a healthy replica answers it, or the next
 * one, or the primary (see onReplica).
 */
export function runSearch(
  ctx: Context,
  principal: Principal,
  input: SearchInput,
): Promise<SearchResponse> {
  return onReplica(ctx, (reader) =>
    withCurrentCollection(reader, input.collection, () => searchOn(reader, ctx, principal, input)),
  );
}

/**
 * Candidates asked of each retriever: the page and the results before it (k + offset), or for
 * hybrid the configured pool (default max(40, 4 (k + offset))).
 */
function candidatesFor(input: SearchInput): number {
  const through = input.k + input.offset;
  return input.mode === 'hybrid'
    ? (input.hybrid.candidates ?? Math.max(40, Math.min(through * 4, HARD_LIMITS.k)))
    : through;
}

async function searchOn(
  reader: Database,
  ctx: Context,
  principal: Principal,
  input: SearchInput,
): Promise<SearchResponse> {
  const started = performance.now();
  checkSearchLimits(ctx, principal, input);
  const prepared = await prepareQuery(ctx, principal, input, reader);
  const { collection, vector } = prepared;
  const candidates = candidatesFor(input);

  const restricted = prepared.restrictions.length > 0;
  // A tenant-bound key learns nothing of other tenants, so nothing of theirs may shape its plan:
  // not the collection's size (all tenants' rows), nor a sample taken across tenants.
  const boundTenant = principal.tenant;
  const collectionRows =
    boundTenant === undefined ? knownCollectionRows(prepared.reader, collection) : null;
  const keywordText = input.mode !== 'vector' ? input.text : undefined;
  const searchesVector = vector !== undefined && input.mode !== 'keyword';
  // Measured on every tenant's rows, so known only where the collection's size is.
  const calibration = searchesVector
    ? calibratedEfSearch(prepared.reader, collection, ctx.limits, collectionRows)
    : null;
  const exactSearchMaxRows = exactScanMaxRows(collection.dimensions, ctx.limits.exactSearchMaxRows);
  // A restriction probed by a search of the last few seconds (a minute, if it was too broad to
  // count) is planned from that probe.
  const probeCacheKey =
    searchesVector && restricted && collectionRows !== null
      ? probeKey(prepared, boundTenant)
      : undefined;
  const remembered =
    probeCacheKey === undefined ? undefined : rememberedProbe(prepared.reader, probeCacheKey);
  const knownPlan = searchesVector
    ? (planWithoutCounting(input, restricted, candidates, collectionRows, calibration) ??
      (remembered &&
        rememberedPlan(
          planByProbe(
            input,
            candidates,
            remembered,
            collectionRows,
            exactSearchMaxRows,
            calibration,
          ),
          remembered,
        )))
    : undefined;
  // A vector-only search that knows its index plan before touching the database sends its
  // settings with the statement timeout, in the transaction's first statement.
  const settingsUpFront =
    input.mode === 'vector' && knownPlan !== undefined && knownPlan.strategy !== 'exact';
  // An index answer is checked against a sample of the collection held in memory (a created-at
  // range is not checked there, so a search restricted by one is not); see retrieveByVector.
  const checkNearer =
    searchesVector &&
    !input.exact &&
    knownPlan?.strategy !== 'exact' &&
    input.createdAfter === undefined &&
    input.createdBefore === undefined
      ? nearerRowCheck(
          prepared.reader,
          collection,
          ctx.limits,
          vector,
          {
            tenant: prepared.tenant,
            filter: input.filter,
          },
          boundTenant,
        )
      : null;
  const { byVector, byKeyword } = await inReadTransaction(
    prepared.reader,
    ctx.limits,
    async (tx) => {
      const retrieveVector = (plan: VectorPlan, queryVector: number[]) =>
        retrieveByVector({
          tx,
          prepared,
          vector: queryVector,
          wanted: candidates,
          plan,
          explain: input.explain,
          settingsApplied: settingsUpFront,
          checkNearer,
          checkedRows: input.k + input.offset,
        });
      const keywordOnly = input.mode === 'keyword' || !vector;
      // A vector retrieval whose plan is known goes out in the same turn as the keyword query,
      // behind it: statements run in order, so the keyword query (its GIN index is a bitmap scan)
      // runs before the vector retrieval's settings switch the sequential and bitmap scans off.
      // Not with EXPLAIN ANALYZE, which runs the keyword query again once it has answered.
      const vectorAtOnce = !keywordOnly && knownPlan !== undefined && !input.explain;
      // Otherwise the keyword query and the planning probe (a selectivity sample, and a count
      // where it can matter) go out together, right behind the settings, and the vector retrieval
      // follows once the probe has answered.
      const needsProbe = searchesVector && !knownPlan;
      const first = Promise.all([
        keywordText
          ? retrieveByKeyword({
              tx,
              prepared,
              text: keywordText,
              wanted: candidates,
              enough: input.k + input.offset,
              explain: input.explain,
            })
          : null,
        needsProbe
          ? probeRestrictions(tx, prepared, {
              boundTenant,
              cutoff: exactSearchMaxRows,
              collectionRows,
            })
          : null,
        vectorAtOnce && knownPlan && vector ? retrieveVector(knownPlan, vector) : null,
      ]);
      // Usually the last statements (EXPLAIN ANALYZE runs each query again once it has answered);
      // an exact re-run after a short HNSW answer runs the work again.
      if ((keywordOnly || vectorAtOnce) && !input.explain) lastStatementIssued(tx);
      const [byKeyword, probe, vectorFirst] = await first;
      if (keywordOnly) return { byVector: null, byKeyword };
      if (probe && probeCacheKey !== undefined)
        rememberProbe(prepared.reader, probeCacheKey, probe);
      let byVector = vectorFirst;
      if (byVector === null) {
        const plan =
          knownPlan ??
          planByProbe(
            input,
            candidates,
            probe ?? { sampledRows: 0, sampledPassing: 0, matchedRows: 0 },
            collectionRows,
            exactSearchMaxRows,
            calibration,
          );
        const retrieval = retrieveVector(plan, vector);
        if (!input.explain) lastStatementIssued(tx);
        byVector = await retrieval;
      }
      // A short index answer means the restriction matches fewer rows than its probe said.
      if (byVector.fallbackCause === 'short-answer' && probeCacheKey !== undefined) {
        forgetProbe(prepared.reader, probeCacheKey);
      }
      return { byVector, byKeyword };
    },
    {
      ...(settingsUpFront ? hnswSettings(knownPlan) : {}),
      // Citus refuses EXPLAIN ANALYZE of a distributed query once the transaction has read a
      // reference table (`collections`) by local execution, and shows the slowest shard's task
      // unless told to show the first (the same one each time); elsewhere placeholders, ignored.
      ...(input.explain
        ? {
            'citus.enable_local_execution': 'off',
            'citus.explain_analyze_sort_method': 'taskId',
          }
        : {}),
    },
    prepared.collectionIsCurrent,
  );

  const merged = mergeRetrievals(byVector, byKeyword);
  const fused = input.mode === 'hybrid' ? fuseHybrid(merged, input.hybrid) : merged;
  const results = shapeResults(fused, {
    collection,
    mode: input.mode,
    k: input.k,
    offset: input.offset,
    minSimilarity: input.minSimilarity,
    contentChars: prepared.contentChars,
  });
  chargeResponse(
    ctx,
    results,
    'ask for fewer results (a smaller k) or less of each content (contentMaxChars)',
  );
  return {
    results,
    // A full page may have more behind it; a short one is the last.
    nextOffset: results.length === input.k ? input.offset + input.k : null,
    stats: {
      mode: input.mode,
      tookMs: Math.round((performance.now() - started) * 100) / 100,
      strategy: byVector?.strategy ?? null,
      strategyReason: byVector?.reason ?? null,
      efSearch: byVector?.efSearch ?? null,
      maxScanTuples: byVector?.maxScanTuples ?? null,
      selectivity: byVector?.selectivity ?? null,
      approximate: (byVector?.approximateReason ?? null) !== null,
      approximateReason: byVector?.approximateReason ?? null,
      exactFallback: byVector?.exactFallback ?? false,
      candidates,
      matchedRows: byVector?.matchedRows ?? null,
      matchedRowsCappedAt: byVector?.matchedRowsCappedAt ?? null,
      fewerThanK: results.length < input.k,
      metric: collection.metric,
    },
    plan: byVector?.plan ?? null,
    keywordPlan: byKeyword?.plan ?? null,
  };
}
