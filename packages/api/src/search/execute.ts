import {
  and,
  assertVectorFits,
  count,
  distanceTo,
  documents,
  eq,
  inCollection,
  isNotNull,
  maxDistanceForSimilarity,
  QuarryError,
  queryRows,
  similarityFromDistance,
  sql,
  type Collection,
  type DistanceMetric,
  type SQL,
  type QuarryDatabase,
  type SQLWrapper,
  type Database,
} from '@quarry/db';
import type { Principal } from '../auth';
import { loadCollection } from '../collections';
import type { Context } from '../context';
import { compileFilter } from '../filter';
import { onReplica } from '../replicas';
import { createdRangeConditions } from '../inputs';
import { HARD_LIMITS } from '../limits';
import { chargeResponse, contentPreviewChars } from '../response-budget';
import { resolveTenant } from '../tenancy';
import { inTransaction, setLocal, type Transaction } from '../transaction';
import type { SearchInput, SearchMode } from './input';

/** How the vector part of a query was answered. */
export type VectorStrategy = 'hnsw' | 'hnsw_iterative' | 'exact';

export interface SearchResult {
  id: string;
  externalId: string | null;
  tenant: string;
  /** The first `contentMaxChars` characters (by default the server's preview size); `documents.get` has the whole. */
  content: string;
  contentTruncated: boolean;
  /** Characters in the whole content. */
  contentLength: number;
  metadata: Record<string, unknown>;
  createdAt: string;
  /** Metric-aware, higher is closer: 1 − cosine distance; the inner product; 1 / (1 + L2 distance). */
  similarity: number | null;
  /** The raw pgvector distance (`<=>`, `<->`, or `<#>`, which is the negative inner product). */
  distance: number | null;
  /** 1-based rank in the vector retrieval, if it was retrieved there. */
  vectorRank: number | null;
  /** 1-based rank in the keyword retrieval, if it was retrieved there. */
  keywordRank: number | null;
  /** ts_rank_cd of the keyword match. */
  keywordScore: number | null;
  /** The score results are ordered by: similarity (vector), keyword score (keyword), RRF (hybrid). */
  score: number;
}

export interface SearchStats {
  mode: SearchMode;
  tookMs: number;
  strategy: VectorStrategy | null;
  /** Why that strategy, in words. */
  strategyReason: string | null;
  efSearch: number | null;
  /** Candidates asked of each retriever. */
  candidates: number;
  /** Rows matching the collection, tenant, date and metadata restrictions, counted up to `matchedRowsCappedAt`. */
  matchedRows: number | null;
  matchedRowsCappedAt: number | null;
  fewerThanK: boolean;
  metric: DistanceMetric;
}

export interface SearchResponse {
  results: SearchResult[];
  stats: SearchStats;
  /** EXPLAIN ANALYZE of the vector retrieval, when asked for. */
  plan: string[] | null;
  /** EXPLAIN ANALYZE of the keyword retrieval, when asked for. */
  keywordPlan: string[] | null;
}

const DEFAULT_EF_SEARCH = 40;
const MAX_EF_SEARCH = 1000;

interface Candidate {
  id: string;
  externalId: string | null;
  tenant: string;
  content: string;
  contentLength: number;
  metadata: Record<string, unknown>;
  createdAt: Date | string;
  distance: number | null;
  keywordScore: number | null;
}

export interface PreparedQuery {
  collection: Collection;
  tenant: string | undefined;
  vector: number[] | undefined;
  /** Restrictions other than the collection: tenant, dates, metadata filter. */
  restrictions: SQL[];
  /** The database (a replica, or the primary) that answers this query, its collection lookup included. */
  reader: QuarryDatabase;
  /** Characters of each result's content (see contentPreviewChars). */
  contentChars: number;
}

/**
 * Resolves everything a search needs before touching the documents: collection, tenant, query
 * vector, filter. `database` (a replica from `onReplica`, or the primary) answers all of it.
 */
export async function prepareQuery(
  ctx: Context,
  principal: Principal,
  input: SearchInput,
  database: Database,
): Promise<PreparedQuery> {
  const reader = database.db;
  const collection = await loadCollection(reader, input.collection);
  const tenant = resolveTenant(principal, input.tenant, 'read');
  const needsVector = input.mode !== 'keyword';
  if (input.mode !== 'vector' && !input.text) {
    throw new QuarryError('INVALID_INPUT', `${input.mode} search needs query text ('text')`);
  }
  let vector: number[] | undefined;
  if (input.vector) {
    assertVectorFits(collection, input.vector, 'query vector');
    vector = input.vector;
  } else if (input.likeDocumentId) {
    const [row] = await reader
      .select({ embedding: documents.embedding })
      .from(documents)
      .where(
        and(
          inCollection(collection.id),
          eq(documents.id, input.likeDocumentId),
          tenant === undefined ? undefined : eq(documents.tenantId, tenant),
        ),
      );
    if (!row?.embedding) {
      throw new QuarryError(
        'DOCUMENT_NOT_FOUND',
        `document ${input.likeDocumentId} is not in collection '${collection.name}'${tenant ? ` for tenant '${tenant}'` : ''} or has no embedding`,
      );
    }
    // A zero vector stored before cosine collections refused it has no cosine distance either.
    assertVectorFits(
      collection,
      row.embedding,
      `the stored vector of document ${input.likeDocumentId}`,
    );
    vector = row.embedding;
  } else if (needsVector) {
    if (!input.text)
      throw new QuarryError(
        'INVALID_INPUT',
        'vector search needs a query: text, vector or likeDocumentId',
      );
    const provider = ctx.embeddings.get(collection.embeddingModel);
    if (!provider) {
      throw new QuarryError(
        'EMBEDDING_PROVIDER_MISMATCH',
        `collection '${collection.name}' uses model '${collection.embeddingModel}', which this server cannot run; send a query vector instead of text`,
      );
    }
    if (provider.dimensions !== collection.dimensions) {
      throw new QuarryError(
        'EMBEDDING_PROVIDER_MISMATCH',
        `model '${provider.model}' produces ${provider.dimensions} dimensions, but collection '${collection.name}' expects ${collection.dimensions}`,
      );
    }
    const [embedded = []] = await provider.embed([input.text]);
    assertVectorFits(collection, embedded, 'embedded query text');
    vector = embedded;
  }
  if (input.minSimilarity !== undefined && !vector) {
    throw new QuarryError(
      'INVALID_INPUT',
      'minSimilarity needs a query vector (or text the collection can embed)',
    );
  }
  const restrictions: SQL[] = [];
  if (tenant !== undefined) restrictions.push(eq(documents.tenantId, tenant));
  restrictions.push(...createdRangeConditions(input));
  const filter = compileFilter(input.filter);
  if (filter) restrictions.push(filter);
  const contentChars = contentPreviewChars(ctx.limits, input.contentMaxChars);
  return { collection, tenant, vector, restrictions, reader, contentChars };
}

/** The rows a vector retrieval ranks: the collection's rows with an embedding, within the restrictions. */
function vectorScope(prepared: PreparedQuery): SQL | undefined {
  return and(
    inCollection(prepared.collection.id),
    isNotNull(documents.embedding),
    ...prepared.restrictions,
  );
}

/** Rows matching the scope, counted up to `cap` (the LIMIT keeps the count cheap on big sets). */
async function countUpTo(tx: Transaction, scope: SQL | undefined, cap: number): Promise<number> {
  const matching = tx
    .select({ one: sql`1` })
    .from(documents)
    .where(scope)
    .limit(cap)
    .as('matching');
  const [row] = await tx.select({ n: count() }).from(matching);
  return row?.n ?? 0;
}

function candidateColumns(
  collection: Collection,
  vector: number[] | undefined,
  contentChars: number,
  exact: boolean,
) {
  return {
    id: documents.id,
    externalId: documents.externalId,
    tenant: documents.tenantId,
    // Only the prefix leaves PostgreSQL (substr reads no more of a long value than it returns).
    content: sql<string>`substr(${documents.content}, 1, ${contentChars})`,
    contentLength: sql<number>`char_length(${documents.content})`.mapWith(Number),
    metadata: sql<Record<string, unknown>>`${documents.metadata}`,
    createdAt: documents.createdAt,
    distance: vector
      ? sql<number>`${distanceTo(collection, vector, { exact })}`.mapWith(Number).as('distance')
      : sql<null>`null`,
  };
}

interface VectorRetrieval {
  rows: Candidate[];
  strategy: VectorStrategy;
  reason: string;
  efSearch: number | null;
  matchedRows: number | null;
  matchedRowsCappedAt: number | null;
  plan: string[] | null;
}

/** hnsw.ef_search: as asked (default 40), and at least the number of candidates wanted. */
function efSearchFor(input: SearchInput, wanted: number): number {
  return Math.min(MAX_EF_SEARCH, Math.max(input.efSearch ?? DEFAULT_EF_SEARCH, wanted));
}

interface VectorPlan {
  strategy: VectorStrategy;
  reason: string;
  matchedRows: number | null;
  matchedRowsCappedAt: number | null;
  /** hnsw.ef_search: at least the number of candidates asked for. */
  efSearch: number;
}

/**
 * The strategy of the vector retrieval. The rule (documented in packages/api/README.md):
 * - `exact: true` → exact scan;
 * - unrestricted → HNSW;
 * - restricted (tenant, dates or metadata filter) and at most `exactSearchMaxRows` rows match →
 *   exact scan, which is then both faster and exact;
 * - restricted and more match → HNSW with pgvector's iterative scan (relaxed order, re-sorted
 *   here), so the index keeps walking until enough rows pass the restrictions.
 * The first two need no database; `undefined` means the rows must be counted (`planByCount`).
 */
function planWithoutCounting(
  input: SearchInput,
  restricted: boolean,
  wanted: number,
): VectorPlan | undefined {
  const unCounted = {
    matchedRows: null,
    matchedRowsCappedAt: null,
    efSearch: efSearchFor(input, wanted),
  };
  if (input.exact) return { strategy: 'exact', reason: 'exact search was requested', ...unCounted };
  if (!restricted) return { strategy: 'hnsw', reason: 'no restrictions: HNSW index', ...unCounted };
  return undefined;
}

/** See `planWithoutCounting`; `matchedRows` is counted up to `exactSearchMaxRows + 1`. */
function planByCount(
  input: SearchInput,
  wanted: number,
  matchedRows: number,
  exactSearchMaxRows: number,
): VectorPlan {
  const counted = {
    matchedRows,
    matchedRowsCappedAt: exactSearchMaxRows,
    efSearch: efSearchFor(input, wanted),
  };
  if (matchedRows <= exactSearchMaxRows) {
    return {
      strategy: 'exact',
      reason: `the restrictions match ${matchedRows} rows (≤ ${exactSearchMaxRows}): scanning them is faster than walking the index, and exact`,
      ...counted,
    };
  }
  return {
    strategy: 'hnsw_iterative',
    reason: `the restrictions match more than ${exactSearchMaxRows} rows: HNSW with iterative scan until ${wanted} pass them`,
    ...counted,
  };
}

/** The settings an HNSW retrieval runs under; `SET LOCAL`, so they end with the request's transaction. */
function hnswSettings(plan: VectorPlan): Record<string, string> {
  return {
    'hnsw.ef_search': String(plan.efSearch),
    ...(plan.strategy === 'hnsw_iterative' ? { 'hnsw.iterative_scan': 'relaxed_order' } : {}),
    // The index must serve the ORDER BY ... LIMIT; the planner's estimate for jsonb filters is often
    // far too low, which would otherwise make it sort a bitmap scan of "few" rows. Nothing that
    // needs a sequential or bitmap scan runs after this in the transaction, except the exact re-run,
    // which turns them back on.
    enable_seqscan: 'off',
    enable_bitmapscan: 'off',
  };
}

/**
 * The vector retrieval, by the plan's strategy. `settingsApplied` says whether the transaction
 * already runs under `hnswSettings(plan)` (set together with the statement timeout, to save a round
 * trip). Whenever HNSW returns fewer than asked while at least that many rows match, the query is
 * re-run exactly: filtered search returns k results whenever k documents match.
 */
async function retrieveByVector(
  tx: Transaction,
  prepared: PreparedQuery,
  vector: number[],
  wanted: number,
  input: SearchInput,
  vectorPlan: VectorPlan,
  settingsApplied: boolean,
): Promise<VectorRetrieval> {
  const { collection } = prepared;
  const scope = vectorScope(prepared);
  let { strategy, reason } = vectorPlan;
  const run = async (exact: boolean) => {
    const columns = candidateColumns(collection, vector, prepared.contentChars, exact);
    // Ordered by the projected distance: the query vector is bound once, and the expression is the
    // indexed one, so the HNSW index still serves the ORDER BY ... LIMIT.
    const query = tx
      .select(columns)
      .from(documents)
      .where(scope)
      .orderBy(sql`${sql.identifier('distance')}`)
      .limit(wanted);
    const rows = (await query) as Candidate[];
    const plan = input.explain ? await explainAnalyze(tx, query) : null;
    return { rows, plan };
  };

  if (strategy !== 'exact' && !settingsApplied) await setLocal(tx, hnswSettings(vectorPlan));
  let { rows, plan } = await run(strategy === 'exact');
  if (strategy !== 'exact' && rows.length < wanted) {
    const available = vectorPlan.matchedRows ?? (await countUpTo(tx, scope, wanted));
    if (available > rows.length) {
      await setLocal(tx, { enable_seqscan: 'on', enable_bitmapscan: 'on' });
      ({ rows, plan } = await run(true));
      reason = `the index returned ${rows.length < wanted ? rows.length : 'fewer'} of ${wanted} while more rows match: re-ran as exact search`;
      strategy = 'exact';
    }
  }
  // Relaxed-order iterative scans may return neighbours slightly out of order.
  rows.sort((a, b) => (a.distance ?? 0) - (b.distance ?? 0));
  return {
    rows,
    strategy,
    reason,
    efSearch: strategy === 'exact' ? null : vectorPlan.efSearch,
    matchedRows: vectorPlan.matchedRows,
    matchedRowsCappedAt: vectorPlan.matchedRowsCappedAt,
    plan,
  };
}

async function explainAnalyze(tx: Transaction, query: SQLWrapper): Promise<string[]> {
  const rows = await queryRows<Record<string, string>>(
    tx,
    sql`explain (analyze, costs, buffers off) ${query}`,
  );
  return rows.map((row) => Object.values(row)[0] ?? '');
}

async function retrieveByKeyword(
  tx: Transaction,
  prepared: PreparedQuery,
  text: string,
  wanted: number,
  input: SearchInput,
): Promise<{ rows: Candidate[]; plan: string[] | null }> {
  const { collection, vector } = prepared;
  const query = sql`websearch_to_tsquery('english', ${text})`;
  // The matches are ranked first and only the top ones are joined back for their columns: a query
  // vector's distance in the same SELECT would be computed (and each embedding detoasted) for every
  // matching row, not just the ones kept.
  const hits = tx
    .select({
      id: documents.id,
      keywordScore: sql<number>`ts_rank_cd(${documents.searchText}, ${query})`.as('keyword_score'),
    })
    .from(documents)
    .where(
      and(
        inCollection(collection.id),
        sql`${documents.searchText} @@ ${query}`,
        ...prepared.restrictions,
      ),
    )
    .orderBy(sql`keyword_score desc`, documents.id)
    .limit(wanted)
    .as('hits');
  const select = tx
    .select({
      ...candidateColumns(collection, vector, prepared.contentChars, true),
      keywordScore: sql<number>`${hits.keywordScore}`.mapWith(Number),
    })
    .from(hits)
    .innerJoin(documents, eq(documents.id, hits.id))
    .orderBy(sql`${hits.keywordScore} desc`, documents.id);
  const rows = (await select) as Candidate[];
  return { rows, plan: input.explain ? await explainAnalyze(tx, select) : null };
}

/** A search only reads: a healthy replica answers it, or the next one, or the primary (see onReplica). */
export function runSearch(
  ctx: Context,
  principal: Principal,
  input: SearchInput,
): Promise<SearchResponse> {
  return onReplica(ctx, (reader) => searchOn(reader, ctx, principal, input));
}

async function searchOn(
  reader: Database,
  ctx: Context,
  principal: Principal,
  input: SearchInput,
): Promise<SearchResponse> {
  const started = performance.now();
  if (input.k > ctx.limits.maxK) {
    throw new QuarryError(
      'INVALID_INPUT',
      `k is at most ${ctx.limits.maxK} on this server, got ${input.k}; page with a threshold or a filter instead`,
    );
  }
  if (input.hybrid.candidates !== undefined && input.hybrid.candidates > ctx.limits.maxK) {
    throw new QuarryError(
      'INVALID_INPUT',
      `hybrid.candidates is at most ${ctx.limits.maxK} on this server, got ${input.hybrid.candidates}`,
    );
  }
  if (input.explain && principal.tenant !== undefined) {
    throw new QuarryError(
      'FORBIDDEN',
      `explain needs an API key not bound to a tenant: query plans count the rows of every tenant in the collection, and this key is bound to tenant '${principal.tenant}'`,
    );
  }
  const prepared = await prepareQuery(ctx, principal, input, reader);
  const { collection, vector } = prepared;
  const candidates =
    input.mode === 'hybrid'
      ? (input.hybrid.candidates ?? Math.max(40, Math.min(input.k * 4, HARD_LIMITS.k)))
      : input.k;

  const restricted = prepared.restrictions.length > 0;
  const keywordText = input.mode !== 'vector' ? input.text : undefined;
  const knownPlan =
    vector && input.mode !== 'keyword'
      ? planWithoutCounting(input, restricted, candidates)
      : undefined;
  // A vector-only HNSW search knows its plan before touching the database: its settings go out
  // with the statement timeout, in the transaction's first statement.
  const settingsUpFront = input.mode === 'vector' && knownPlan?.strategy === 'hnsw';
  const outcome = await inTransaction(
    prepared.reader,
    ctx.limits,
    async (tx) => {
      // Keyword first: the vector retrieval leaves sequential and bitmap scans off, which the
      // keyword query's GIN index (a bitmap scan) needs.
      const byKeyword = keywordText
        ? await retrieveByKeyword(tx, prepared, keywordText, candidates, input)
        : null;
      if (input.mode === 'keyword' || !vector) return { byVector: null, byKeyword };
      const { exactSearchMaxRows } = ctx.limits;
      const vectorPlan =
        knownPlan ??
        planByCount(
          input,
          candidates,
          await countUpTo(tx, vectorScope(prepared), exactSearchMaxRows + 1),
          exactSearchMaxRows,
        );
      const byVector = await retrieveByVector(
        tx,
        prepared,
        vector,
        candidates,
        input,
        vectorPlan,
        settingsUpFront,
      );
      return { byVector, byKeyword };
    },
    settingsUpFront ? hnswSettings(knownPlan) : {},
  );

  const merged = new Map<
    string,
    { candidate: Candidate; vectorRank: number | null; keywordRank: number | null }
  >();
  outcome.byVector?.rows.forEach((candidate, index) =>
    merged.set(candidate.id, { candidate, vectorRank: index + 1, keywordRank: null }),
  );
  outcome.byKeyword?.rows.forEach((candidate, index) => {
    const existing = merged.get(candidate.id);
    if (existing) {
      existing.keywordRank = index + 1;
      existing.candidate.keywordScore = candidate.keywordScore;
    } else {
      merged.set(candidate.id, { candidate, vectorRank: null, keywordRank: index + 1 });
    }
  });

  const maxDistance =
    input.minSimilarity === undefined
      ? null
      : maxDistanceForSimilarity(collection.metric, input.minSimilarity);
  const { rrfK, vectorWeight, keywordWeight } = input.hybrid;
  const scored: SearchResult[] = [];
  for (const { candidate, vectorRank, keywordRank } of merged.values()) {
    const distance = candidate.distance === null ? null : Number(candidate.distance);
    // The threshold is applied after the LIMIT, never inside the index scan: a threshold no row
    // reaches would otherwise make an iterative scan walk the whole index (pgvector's max_scan_tuples trap).
    if (maxDistance !== null && (distance === null || distance > maxDistance)) continue;
    const similarity =
      distance === null ? null : similarityFromDistance(collection.metric, distance);
    const score =
      input.mode === 'vector'
        ? (similarity ?? 0)
        : input.mode === 'keyword'
          ? (candidate.keywordScore ?? 0)
          : (vectorRank ? vectorWeight / (rrfK + vectorRank) : 0) +
            (keywordRank ? keywordWeight / (rrfK + keywordRank) : 0);
    scored.push({
      id: candidate.id,
      externalId: candidate.externalId,
      tenant: candidate.tenant,
      content: candidate.content,
      contentTruncated: Number(candidate.contentLength) > prepared.contentChars,
      contentLength: Number(candidate.contentLength),
      metadata: candidate.metadata,
      createdAt: new Date(candidate.createdAt).toISOString(),
      similarity,
      distance,
      vectorRank,
      keywordRank,
      keywordScore: candidate.keywordScore === null ? null : Number(candidate.keywordScore),
      score,
    });
  }
  if (input.mode === 'hybrid')
    scored.sort(
      (a, b) => b.score - a.score || (a.vectorRank ?? Infinity) - (b.vectorRank ?? Infinity),
    );
  const results = scored.slice(0, input.k);
  chargeResponse(
    ctx,
    results,
    'ask for fewer results (a smaller k) or less of each content (contentMaxChars)',
  );
  const byVector = outcome.byVector;
  return {
    results,
    stats: {
      mode: input.mode,
      tookMs: Math.round((performance.now() - started) * 100) / 100,
      strategy: byVector?.strategy ?? null,
      strategyReason: byVector?.reason ?? null,
      efSearch: byVector?.efSearch ?? null,
      candidates,
      matchedRows: byVector?.matchedRows ?? null,
      matchedRowsCappedAt: byVector?.matchedRowsCappedAt ?? null,
      fewerThanK: results.length < input.k,
      metric: collection.metric,
    },
    plan: byVector?.plan ?? null,
    keywordPlan: outcome.byKeyword?.plan ?? null,
  };
}
