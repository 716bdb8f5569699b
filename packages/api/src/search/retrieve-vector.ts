import {
  and,
  distanceTo,
  documents,
  eq,
  inCollection,
  isNotNull,
  sql,
  queryVectorParameter,
  type Placeholder,
  type SQL,
} from '@quarry/db';
import {
  runTemplate,
  setLocal,
  statementTemplate,
  templatesByShape,
  underSettings,
  type Transaction,
} from '../transaction';
import {
  candidateColumns,
  explainAnalyze,
  preparedName,
  runPrepared,
  vectorScope,
} from './columns';
import {
  approximationOf,
  countUpTo,
  exactRerunSettings,
  hnswSettings,
  type VectorPlan,
} from './plan';
import type { NearerRowCheck } from './nearer-rows';
import type { Candidate, PreparedQuery, Retrieval, VectorStrategy } from './types';

export interface VectorRetrievalRequest {
  tx: Transaction;
  prepared: PreparedQuery;
  vector: number[];
  /** Candidates to return. */
  wanted: number;
  plan: VectorPlan;
  /** Also return EXPLAIN ANALYZE of the query. */
  explain: boolean;
  /** The transaction already runs under `hnswSettings(plan)` (set with the statement timeout). */
  settingsApplied: boolean;
  /** Checks a full index answer for a nearer row it missed (see nearerRowCheck). */
  checkNearer?: NearerRowCheck | null;
  /**
   * The head of the answer that check covers: the rows a page can show (k + offset). A hybrid
   * search's further candidates only feed the fusion, approximate as any index answer.
   */
  checkedRows: number;
}

export interface VectorRetrieval extends Retrieval {
  strategy: VectorStrategy;
  reason: string;
  efSearch: number | null;
  maxScanTuples: number | null;
  selectivity: number | null;
  matchedRows: number | null;
  matchedRowsCappedAt: number | null;
  /** Why the rows may miss some of the true nearest (see approximationOf); null when exact. */
  approximateReason: string | null;
  /** Re-run exactly: the index returned fewer than wanted while more match, or missed a nearer row. */
  exactFallback: boolean;
  /** Why it was re-run: a short answer (the restriction matches few rows), or a missed nearer row. */
  fallbackCause: 'short-answer' | 'missed-nearer-row' | null;
}

/**
 * The exact scan: the nearest `wanted` rows by id and distance first, then their columns. Every
 * row in scope is read for its distance, and PostgreSQL computes a select list below the sort, so
 * selecting the columns there would cut and measure the content of every row in scope (detoasting
 * each long one), not only of the rows returned. At 50,000 x 1,536 with a 1 % filter (525 rows) the
 * scan took 1.9-2.0 ms this way against 2.2-3.7 ms (EXPLAIN ANALYZE, 10 queries twice, load 6-10).
 */
function exactQuery(request: VectorRetrievalRequest) {
  const { tx, prepared, vector, wanted } = request;
  const { collection } = prepared;
  const nearest = tx
    .select({
      id: documents.id,
      tenant: sql<string>`${documents.tenantId}`.as('nearest_tenant'),
      distance: sql<number>`${distanceTo(collection, vector, { exact: true })}`.as('distance'),
    })
    .from(documents)
    .where(vectorScope(prepared))
    .orderBy(sql`${sql.identifier('distance')}`)
    .limit(wanted)
    .as('nearest');
  return (
    tx
      .select({
        ...candidateColumns(collection, undefined, prepared.contentChars, true),
        distance: sql<number>`${nearest.distance}`.mapWith(Number),
      })
      .from(nearest)
      // The tenant too: on Citus, the join stays on the distribution column.
      .innerJoin(
        documents,
        and(
          inCollection(collection.id),
          eq(documents.tenantId, nearest.tenant),
          eq(documents.id, nearest.id),
        ),
      )
      .orderBy(nearest.distance, documents.id)
  );
}

/**
 * The index scan: ordered by the projected distance, so the query vector is bound once, and the
 * expression is the indexed one, so the HNSW index still serves the ORDER BY ... LIMIT.
 */
function indexQuery(
  tx: Transaction,
  prepared: PreparedQuery,
  vector: number[] | Placeholder,
  scope: SQL | undefined,
  wanted: number | Placeholder,
  contentChars: number | Placeholder,
) {
  return tx
    .select(candidateColumns(prepared.collection, vector, contentChars, false))
    .from(documents)
    .where(scope)
    .orderBy(sql`${sql.identifier('distance')}`)
    .limit(wanted as number);
}

/** The index scan of each collection, with and without a tenant, built once (see runTemplate). */
const indexQueryTemplate = templatesByShape(200);

/**
 * The index scan of a search restricted to nothing but the collection (and the key's tenant, the
 * common shapes) from a statement built once per collection: the same text and parameters as
 * indexQuery, the query vector, tenant, content length and limit given as values. Null for
 * other shapes, which indexQuery builds.
 */
function indexQueryFromTemplate(request: VectorRetrievalRequest): Promise<Candidate[]> | null {
  const { tx, prepared, vector, wanted } = request;
  const { collection, tenant } = prepared;
  if (prepared.restrictions.length !== (tenant === undefined ? 0 : 1)) return null;
  const key = `${collection.id}:${collection.dimensions}:${collection.metric}:${tenant === undefined ? '' : 't'}`;
  const template = indexQueryTemplate(key, () => {
    const scope = and(
      inCollection(collection.id),
      isNotNull(documents.embedding),
      tenant === undefined ? undefined : eq(documents.tenantId, sql.placeholder('tenant')),
    );
    const query = indexQuery(
      tx,
      prepared,
      sql.placeholder('vector'),
      scope,
      sql.placeholder('limit'),
      sql.placeholder('contentChars'),
    );
    return statementTemplate(query, preparedName(query, 'quarry_vector_search'));
  });
  return runTemplate<Candidate[]>(tx, template, {
    vector: queryVectorParameter(collection, vector),
    tenant,
    limit: wanted,
    contentChars: prepared.contentChars,
  });
}

/**
 * The vector retrieval, by the plan's strategy. Whenever HNSW returns fewer than asked while at
 * least that many rows match, the query is re-run exactly: filtered search returns k results
 * whenever k documents match. So it is when the answer missed a sampled row nearer than its last
 * (`checkNearer`, see nearer-rows.ts).
 */
export async function retrieveByVector(request: VectorRetrievalRequest): Promise<VectorRetrieval> {
  const { tx, prepared, vector, wanted, plan: vectorPlan } = request;
  let { strategy, reason } = vectorPlan;
  let fallbackCause: VectorRetrieval['fallbackCause'] = null;
  const run = async (exact: boolean) => {
    if (!exact && !request.explain) {
      const fromTemplate = indexQueryFromTemplate(request);
      if (fromTemplate) return { rows: await fromTemplate, plan: null };
    }
    const query = exact
      ? exactQuery(request)
      : indexQuery(tx, prepared, vector, vectorScope(prepared), wanted, prepared.contentChars);
    const rows = (await runPrepared(query, 'quarry_vector_search')) as Candidate[];
    const plan = request.explain ? await explainAnalyze(tx, query) : null;
    return { rows, plan };
  };

  // The HNSW settings go out with the query, in one round trip.
  const settings = strategy !== 'exact' && !request.settingsApplied ? hnswSettings(vectorPlan) : {};
  const answer = underSettings(tx, settings, () => run(strategy === 'exact'));
  const checkAnswer = strategy === 'exact' ? undefined : request.checkNearer?.();
  let { rows, plan } = await answer;
  const rerunExactly = async (why: string, cause: NonNullable<typeof fallbackCause>) => {
    await setLocal(tx, exactRerunSettings);
    ({ rows, plan } = await run(true));
    reason = why;
    strategy = 'exact';
    fallbackCause = cause;
  };
  if (strategy !== 'exact' && rows.length < wanted) {
    const available =
      vectorPlan.matchedRows ?? (await countUpTo(tx, vectorScope(prepared), wanted));
    if (available > rows.length) {
      await rerunExactly(
        `the index returned ${rows.length} of ${wanted} while more rows match${vectorPlan.maxScanTuples === null ? '' : ` (an iterative scan of at most ${vectorPlan.maxScanTuples} index tuples)`}: re-ran as exact search`,
        'short-answer',
      );
    }
  }
  // Relaxed-order iterative scans may return neighbours slightly out of order.
  rows.sort((a, b) => (a.distance ?? 0) - (b.distance ?? 0));
  const missed =
    strategy === 'exact'
      ? null
      : ((await checkAnswer?.(rows, Math.min(wanted, request.checkedRows))) ?? null);
  if (missed !== null) await rerunExactly(missed, 'missed-nearer-row');
  return {
    rows,
    strategy,
    reason,
    efSearch: strategy === 'exact' ? null : vectorPlan.efSearch,
    maxScanTuples: strategy === 'exact' ? null : vectorPlan.maxScanTuples,
    selectivity: vectorPlan.selectivity,
    matchedRows: vectorPlan.matchedRows,
    matchedRowsCappedAt: vectorPlan.matchedRowsCappedAt,
    approximateReason: strategy === 'exact' ? null : approximationOf(vectorPlan),
    exactFallback: fallbackCause !== null,
    fallbackCause,
    plan,
  };
}
