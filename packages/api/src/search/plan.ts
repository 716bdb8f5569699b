import { and, count, documents, eq, inCollection, isNotNull, sql, type SQL } from '@quarry/db';
import type { Transaction } from '../transaction';
import { runPrepared, vectorScope } from './columns';
import { CALIBRATION_K, CALIBRATION_MARGIN, type EfCalibration } from './ef-calibration';
import type { SearchInput } from './input';
import type { PreparedQuery, VectorStrategy } from './types';

/**
 * ef_search when the request names none, for an unrestricted query asking for few rows in a
 * collection of up to 25,000 rows. pgvector's own default, 40, left queries at recall 0 and a mean
 * of 0.87 at 50,000 x 1,536 (issue 12); 100 costs about 0.6 ms more and reaches 0.95.
 */
export const DEFAULT_EF_SEARCH = 100;
/**
 * Collection rows per unit of ef_search past DEFAULT_EF_SEARCH: 200 at 50,000 rows, 400 at
 * 100,000. At 50,000 x 1,536, ef_search 100 left one query of 100 at recall 0 in half of the index
 * builds, 200 none; at 20,000, 100 left none (packages/api/README.md, "Recall 0").
 */
export const ROWS_PER_EF_SEARCH = 250;
const MAX_EF_SEARCH = 1000;
/**
 * The most the collection's size or a restriction's selectivity raises ef_search (unless the
 * candidates asked for need more): past it a wider list costs more than it finds.
 */
export const MAX_SCALED_EF_SEARCH = 400;
/**
 * Vector components an exact scan may read in place of the index (rows × dimensions): about 650
 * rows at 1,536 dimensions, 7,800 at 128. At 1,536 dimensions an exact scan of 4,500 rows took
 * 43 ms where a relaxed iterative index scan took 6 ms at recall 0.99 (issue 12).
 */
export const EXACT_SCAN_COMPONENTS = 1_000_000;
/**
 * hnsw.max_scan_tuples, the index tuples an iterative scan may visit before it gives up: at least
 * pgvector's default, 20,000, and at most this; fewer results than asked for then re-run exactly
 * (retrieveByVector).
 */
export const MIN_MAX_SCAN_TUPLES = 20_000;
export const MAX_MAX_SCAN_TUPLES = 1_000_000;
/** Rows of the collection (the first in scan order) whose share that passes the restrictions estimates their selectivity. */
export const SELECTIVITY_SAMPLE_ROWS = 1000;

export interface VectorPlan {
  strategy: VectorStrategy;
  reason: string;
  matchedRows: number | null;
  matchedRowsCappedAt: number | null;
  /** Share of the collection's rows estimated to pass the restrictions (1 when unrestricted; null when not estimated). */
  selectivity: number | null;
  /** hnsw.ef_search: at least the number of candidates asked for. */
  efSearch: number;
  /** hnsw.max_scan_tuples of an iterative scan; null otherwise. */
  maxScanTuples: number | null;
  /** The planned ef_search for this query had the request named none (`efSearch` may be the request's). */
  plannedEfSearch: number;
}

/**
 * hnsw.ef_search by the rule, for `wanted` candidates among rows of which a share `selectivity`
 * passes the restrictions, in a collection of about `collectionRows` rows (null: not known):
 * - at least DEFAULT_EF_SEARCH, and the collection's calibrated ef_search times
 *   CALIBRATION_MARGIN when it has one (ef-calibration.ts), else one per ROWS_PER_EF_SEARCH rows
 *   of the collection;
 * - a candidate list with about twice the wanted rows that pass: 2 × wanted / selectivity;
 * - what size and selectivity add stops at MAX_SCALED_EF_SEARCH (or 2 × wanted, if more), and
 *   everything at pgvector's 1,000.
 */
export function plannedEfSearch(
  wanted: number,
  selectivity: number,
  collectionRows: number | null = null,
  calibration: EfCalibration | null = null,
): number {
  const twice = 2 * wanted;
  const ceiling = Math.max(twice, MAX_SCALED_EF_SEARCH);
  const bySize = Math.max(
    DEFAULT_EF_SEARCH,
    calibration
      ? Math.ceil(calibration.efSearch * CALIBRATION_MARGIN)
      : Math.ceil((collectionRows ?? 0) / ROWS_PER_EF_SEARCH),
  );
  const bySelectivity = Math.ceil(twice / Math.max(selectivity, 1e-6));
  const scaled = Math.min(Math.max(bySize, bySelectivity), ceiling);
  return Math.min(MAX_EF_SEARCH, Math.max(wanted, scaled));
}

/** hnsw.ef_search as the request asks (at least the candidates wanted), else by the rule (plannedEfSearch). */
export function efSearchFor(
  input: Pick<SearchInput, 'efSearch'>,
  planned: number,
  wanted: number,
): number {
  if (input.efSearch === undefined) return planned;
  return Math.min(MAX_EF_SEARCH, Math.max(input.efSearch, wanted));
}

/**
 * hnsw.max_scan_tuples of an iterative scan: room to visit four candidate lists' worth of rows
 * that pass (4 × ef_search / selectivity), between MIN_MAX_SCAN_TUPLES and MAX_MAX_SCAN_TUPLES.
 */
export function maxScanTuplesFor(efSearch: number, selectivity: number): number {
  const needed = Math.ceil((4 * efSearch) / Math.max(selectivity, 1e-6));
  return Math.min(MAX_MAX_SCAN_TUPLES, Math.max(MIN_MAX_SCAN_TUPLES, needed));
}

/** The first rows of the collection (in scan order) and how many of them pass the restrictions. */
export interface RestrictionSample {
  sampledRows: number;
  sampledPassing: number;
}

/**
 * The share of the collection's rows that passes the restrictions, from a sample of its first
 * rows: a sample smaller than SELECTIVITY_SAMPLE_ROWS is the whole collection, so its share is
 * exact; in a full sample where none passes, half a row counts, so the estimate stays above zero.
 */
export function estimatedSelectivity(sample: RestrictionSample): number {
  if (sample.sampledRows === 0) return 1;
  const whole = sample.sampledRows < SELECTIVITY_SAMPLE_ROWS;
  const passing = whole ? sample.sampledPassing : Math.max(sample.sampledPassing, 0.5);
  return Math.min(1, passing / sample.sampledRows);
}

/**
 * The most matching rows an exact scan answers: `exactSearchMaxRows`, and no more than
 * EXACT_SCAN_COMPONENTS allow at the collection's dimensions.
 */
export function exactScanMaxRows(dimensions: number, exactSearchMaxRows: number): number {
  return Math.min(exactSearchMaxRows, Math.floor(EXACT_SCAN_COMPONENTS / dimensions));
}

/** Rows matching the scope, counted up to `cap` (the LIMIT keeps the count cheap on big sets). */
export async function countUpTo(
  tx: Transaction,
  scope: SQL | undefined,
  cap: number,
): Promise<number> {
  const matching = tx
    .select({ one: sql`1` })
    .from(documents)
    .where(scope)
    .limit(cap)
    .as('matching');
  const [row] = await runPrepared(tx.select({ n: count() }).from(matching), 'quarry_count');
  return row?.n ?? 0;
}

/**
 * How far past the exact-scan cutoff the rows a full sample's share promises must lie before they
 * go uncounted: the share of 1,000 rows is within 20 % of the truth there (about 26 passing rows
 * at the smallest share that skips), so a restriction near the cutoff is always counted.
 */
export const UNCOUNTED_PAST_CUTOFF = 2;

/** What the planning statement learned of the restrictions (probeRestrictions). */
export interface RestrictionProbe extends RestrictionSample {
  /** Rows passing the restrictions, counted up to the cutoff + 1; null when not counted. */
  matchedRows: number | null;
}

/**
 * The planning statement of a restricted vector search, one round trip. It reads the first
 * SELECTIVITY_SAMPLE_ROWS rows of the collection that have an embedding (of the bound tenant's
 * rows, for a tenant-bound key) and how many pass the restrictions, and counts the rows that pass
 * up to `cutoff + 1` only when the answer can be an exact scan:
 * - a sample of fewer rows is the whole collection (or tenant): its passing rows are the count;
 * - a full sample whose share, over the collection's `collectionRows` (when known), promises more
 *   than UNCOUNTED_PAST_CUTOFF × cutoff rows is not counted (null): the index answers it;
 * - otherwise the rows are counted (a read of at most cutoff + 1 passing rows).
 * The count is a scalar subquery under CASE, so PostgreSQL runs it only on that branch.
 */
export async function probeRestrictions(
  tx: Transaction,
  prepared: PreparedQuery,
  options: { boundTenant: string | undefined; cutoff: number; collectionRows: number | null },
): Promise<RestrictionProbe> {
  const { boundTenant, cutoff, collectionRows } = options;
  const sample = tx
    .select({
      passes: sql<boolean>`coalesce(${and(...prepared.restrictions)}, false)`.as('passes'),
    })
    .from(documents)
    .where(
      and(
        inCollection(prepared.collection.id),
        isNotNull(documents.embedding),
        // A tenant-bound key's plan is made from its own tenant's rows only: a sample of the whole
        // collection would let other tenants' rows move its selectivity, ef_search and stats.
        boundTenant === undefined ? undefined : eq(documents.tenantId, boundTenant),
      ),
    )
    .limit(SELECTIVITY_SAMPLE_ROWS)
    .as('sample');
  const counted = tx.select({ n: count() }).from(
    tx
      .select({ one: sql`1` })
      .from(documents)
      .where(vectorScope(prepared))
      .limit(cutoff + 1)
      .as('matching'),
  );
  const sampled = tx
    .select({
      sampledRows: count().as('sampled_rows'),
      sampledPassing: count(sql`case when ${sample.passes} then 1 end`).as('sampled_passing'),
    })
    .from(sample)
    .as('sampled');
  const promised = sql`${sampled.sampledPassing}::float8 / ${sampled.sampledRows} * ${collectionRows}::float8`;
  const [row] = await runPrepared(
    tx
      .select({
        sampledRows: sampled.sampledRows,
        sampledPassing: sampled.sampledPassing,
        matchedRows: sql<number | null>`case
          when ${sampled.sampledRows} < ${SELECTIVITY_SAMPLE_ROWS} then least(${sampled.sampledPassing}, ${cutoff + 1})
          when ${promised} > ${UNCOUNTED_PAST_CUTOFF * cutoff} then null
          else (${counted}) end`.mapWith((value: unknown) =>
          value === null ? null : Number(value),
        ),
      })
      .from(sampled),
    'quarry_probe',
  );
  return {
    sampledRows: row?.sampledRows ?? 0,
    sampledPassing: row?.sampledPassing ?? 0,
    matchedRows: row ? row.matchedRows : 0,
  };
}

/** How long a broad restriction's probe (a sample, not counted) is reused before it is probed again. */
export const BROAD_PROBE_FRESH_MS = 60_000;
/** How long a counted restriction's probe is reused: its count may go stale by this much. */
export const COUNTED_PROBE_FRESH_MS = 10_000;
/** Restrictions remembered per database (the oldest is forgotten past it). */
const PROBES_KEPT = 1000;

type RememberedProbes = Map<string, { probe: RestrictionProbe; at: number }>;
const rememberedProbes = new WeakMap<object, RememberedProbes>();

/**
 * The probe of a restriction seen on this database within BROAD_PROBE_FRESH_MS when it was too
 * broad to count (probeRestrictions gave matchedRows null), or within COUNTED_PROBE_FRESH_MS when
 * it was counted: a repeat of the search plans without probing again, and its retrieval goes out
 * in the transaction's first turn, one round trip instead of two. `key` names the restrictions'
 * SQL and parameters and the bound tenant (probeKey). A plan from a stale probe still answers
 * right: an exact scan reads every matching row however many there are now, and an index answer
 * that comes back short of k while more rows match is re-run exactly (then forgetProbe).
 */
export function rememberedProbe(reader: object, key: string): RestrictionProbe | undefined {
  const entry = rememberedProbes.get(reader)?.get(key);
  if (!entry) return undefined;
  const freshMs = entry.probe.matchedRows === null ? BROAD_PROBE_FRESH_MS : COUNTED_PROBE_FRESH_MS;
  if (performance.now() - entry.at > freshMs) {
    rememberedProbes.get(reader)?.delete(key);
    return undefined;
  }
  return entry.probe;
}

/** Remembers a restriction's probe (see rememberedProbe). */
export function rememberProbe(reader: object, key: string, probe: RestrictionProbe): void {
  let kept = rememberedProbes.get(reader);
  if (!kept) rememberedProbes.set(reader, (kept = new Map() as RememberedProbes));
  kept.delete(key);
  if (kept.size >= PROBES_KEPT) kept.delete(kept.keys().next().value ?? '');
  kept.set(key, { probe, at: performance.now() });
}

export function forgetProbe(reader: object, key: string): void {
  rememberedProbes.get(reader)?.delete(key);
}

/** A plan made from a remembered probe (rememberedProbe), saying so. */
export function rememberedPlan(plan: VectorPlan, probe: RestrictionProbe): VectorPlan {
  const by =
    probe.matchedRows === null
      ? 'sampled by a search of the last minute'
      : `counted by a search of the last ${COUNTED_PROBE_FRESH_MS / 1000} s`;
  return { ...plan, reason: `${plan.reason} (${by})` };
}

/** The key of a search's restrictions for rememberedProbe: their SQL, parameters and the bound tenant. */
export function probeKey(prepared: PreparedQuery, boundTenant: string | undefined): string {
  const { sql: text, params } = prepared.reader
    .select({ one: sql`1` })
    .from(documents)
    .where(vectorScope(prepared))
    .toSQL();
  return JSON.stringify([boundTenant ?? null, text, params]);
}

/**
 * The strategy of the vector retrieval. The rule (documented in packages/api/README.md):
 * - `exact: true` → exact scan;
 * - unrestricted → HNSW, ef_search by the collection's size and the candidates (plannedEfSearch);
 * - restricted (tenant, dates or metadata filter) and at most `exactScanMaxRows` rows match
 *   (`exactSearchMaxRows`, fewer at high dimensions) → exact scan, then both faster and exact;
 * - restricted and more match, or a sample promises many more (probeRestrictions) → HNSW with
 *   pgvector's iterative scan (relaxed order, re-sorted here), so the index keeps walking until
 *   enough rows pass the restrictions; ef_search and max_scan_tuples grow as the estimated
 *   selectivity falls (plannedEfSearch, maxScanTuplesFor).
 * The first two need no database; `undefined` means the restrictions must be probed (`planByProbe`).
 */
export function planWithoutCounting(
  input: SearchInput,
  restricted: boolean,
  wanted: number,
  collectionRows: number | null,
  calibration: EfCalibration | null = null,
): VectorPlan | undefined {
  const planned = plannedEfSearch(wanted, 1, collectionRows, calibration);
  const unCounted = {
    matchedRows: null,
    matchedRowsCappedAt: null,
    selectivity: restricted ? null : 1,
    efSearch: efSearchFor(input, planned, wanted),
    maxScanTuples: null,
    plannedEfSearch: planned,
  };
  if (input.exact) return { strategy: 'exact', reason: 'exact search was requested', ...unCounted };
  if (!restricted) {
    return {
      strategy: 'hnsw',
      reason: `no restrictions: HNSW index, ef_search ${unCounted.efSearch} for ${wanted} candidates${collectionRows === null ? '' : ` among about ${Math.round(collectionRows)} rows`}${calibrationNote(input, calibration)}`,
      ...unCounted,
    };
  }
  return undefined;
}

/**
 * See `planWithoutCounting`; `probe.matchedRows` is counted up to `exactSearchMaxRows + 1` (the
 * cutoff of `exactScanMaxRows`), or null when the sample promised far more (probeRestrictions);
 * the sample estimates the share of the collection that passes, and `collectionRows` is the
 * collection's size when known (knownCollectionRows).
 */
export function planByProbe(
  input: SearchInput,
  wanted: number,
  probe: RestrictionProbe,
  collectionRows: number | null,
  exactSearchMaxRows: number,
  calibration: EfCalibration | null = null,
): VectorPlan {
  const { matchedRows } = probe;
  const selectivity = estimatedSelectivity(probe);
  const planned = plannedEfSearch(wanted, selectivity, collectionRows, calibration);
  const efSearch = efSearchFor(input, planned, wanted);
  const known = {
    matchedRows,
    matchedRowsCappedAt: matchedRows === null ? null : exactSearchMaxRows,
    selectivity,
    plannedEfSearch: planned,
  };
  if (matchedRows !== null && matchedRows <= exactSearchMaxRows) {
    return {
      strategy: 'exact',
      reason: `the restrictions match ${matchedRows} rows (≤ ${exactSearchMaxRows}): scanning them is faster than walking the index, and exact`,
      efSearch,
      maxScanTuples: null,
      ...known,
    };
  }
  const maxScanTuples = maxScanTuplesFor(efSearch, selectivity);
  const matching =
    matchedRows === null
      ? `about ${formatShare(selectivity)} of the ${Math.round(collectionRows ?? 0)} rows, not counted`
      : `more than ${exactSearchMaxRows} rows, about ${formatShare(selectivity)} of the collection`;
  return {
    strategy: 'hnsw_iterative',
    reason: `the restrictions match ${matching}: HNSW with iterative scan until ${wanted} pass them, ef_search ${efSearch}, at most ${maxScanTuples} index tuples${calibrationNote(input, calibration)}`,
    efSearch,
    maxScanTuples,
    ...known,
  };
}

/**
 * Why an answer from the index may miss some of the true nearest rows: HNSW is approximate. Says
 * too when the request's ef_search is below the one the rule plans, so recall may fall below what
 * the defaults reach (mean recall@10 ≥ 0.95, no query below 0.5, see packages/api/README.md).
 */
export function approximationOf(plan: VectorPlan): string | null {
  if (plan.strategy === 'exact') return null;
  const index = plan.strategy === 'hnsw' ? 'the HNSW index' : 'an iterative scan of the HNSW index';
  const below =
    plan.efSearch < plan.plannedEfSearch
      ? `; ef_search ${plan.efSearch} was asked, below the planned ${plan.plannedEfSearch}, so recall may fall below the default target`
      : '';
  return `answered by ${index} at ef_search ${plan.efSearch}: approximate, some true neighbours may be missing${below}`;
}

/** Where the planned ef_search started from, when it was the collection's calibration. */
function calibrationNote(
  input: Pick<SearchInput, 'efSearch'>,
  calibration: EfCalibration | null,
): string {
  if (!calibration || input.efSearch !== undefined) return '';
  const { efSearch, recall, minRecall, queries, met } = calibration;
  return ` (calibrated: this index reached recall@${CALIBRATION_K} ${recall.toFixed(3)}, lowest ${minRecall.toFixed(2)}, at ef_search ${efSearch} over ${queries} calibration queries${met ? '' : ', below the calibration target'}; planned at ${CALIBRATION_MARGIN}x)`;
}

function formatShare(share: number): string {
  const percent = share * 100;
  return `${percent >= 10 ? Math.round(percent) : percent.toPrecision(2)} %`;
}

/**
 * Settings that keep an HNSW retrieval on the index: the index must serve the ORDER BY ... LIMIT.
 * The planner's estimate for jsonb filters is often far too low, and pgvector prices the scan by
 * ef_search, so it would otherwise choose a sequential, bitmap or B-tree scan of "few" rows and
 * sort them all: at 50,000 x 1,536 and ef_search 100 a 1 % filter went from the index (2 ms) to the
 * collection's B-tree and a sort (40 ms). A generic plan of the prepared statement, whose filter
 * and vector are parameters, did the same at 50 % (350 ms), so each execution is planned with its
 * values. JIT is off: a plan priced past its threshold (a disabled node the planner could not
 * avoid) spent 300 ms compiling. Nothing that needs a sort, sequential or bitmap scan runs after
 * this in the transaction, except the exact re-run, which turns them back on (exactRerunSettings).
 */
const HNSW_ONLY: Record<string, string> = {
  enable_seqscan: 'off',
  enable_bitmapscan: 'off',
  enable_sort: 'off',
  plan_cache_mode: 'force_custom_plan',
  jit: 'off',
};

/** What an exact re-run after an HNSW retrieval turns back on (see hnswSettings). */
export const exactRerunSettings: Record<string, string> = {
  enable_seqscan: 'on',
  enable_bitmapscan: 'on',
  enable_sort: 'on',
};

/** The settings an HNSW retrieval runs under; `SET LOCAL`, so they end with the request's transaction. */
export function hnswSettings(
  plan: Pick<VectorPlan, 'strategy' | 'efSearch' | 'maxScanTuples'>,
): Record<string, string> {
  return {
    'hnsw.ef_search': String(plan.efSearch),
    // Relaxed order (results re-sorted here): strict order stops early on filtered scans.
    ...(plan.strategy === 'hnsw_iterative'
      ? {
          'hnsw.iterative_scan': 'relaxed_order',
          'hnsw.max_scan_tuples': String(plan.maxScanTuples ?? MIN_MAX_SCAN_TUPLES),
        }
      : {}),
    ...HNSW_ONLY,
  };
}
