import {
  and,
  desc,
  distanceTo,
  documents,
  inArray,
  inCollection,
  isNotNull,
  queryRows,
  sql,
  vectorIndexName,
  type Collection,
  type QuarryDatabase,
} from '@quarry/db';
import type { Limits } from '../limits';
import { inReadTransaction, setLocal } from '../transaction';
import { backgroundCache } from './background-cache';
import { hnswSettings } from './plan';

/**
 * How wide an HNSW search must be (hnsw.ef_search) for the recall the defaults promise depends on
 * the data and on the index build, not only on the collection's size: on the benchmark's synthetic
 * 50,000 x 1,536 pgvector's 40 already finds 0.998 of the true neighbours, where issue 12's data
 * needed 200 for none to fall to 0. So a collection of at least `efCalibrationMinRows` rows is
 * measured: CALIBRATION_QUERIES points among its rows (each halfway between a random row and its
 * CALIBRATION_K-th nearest: no stored row, as real queries are not) are answered exactly and by
 * the index at each of CALIBRATION_EF_SEARCH. The smallest that meets the calibration's targets
 * (or the largest tried, when none does), times CALIBRATION_MARGIN, is where the collection's
 * searches start from (plannedEfSearch); until it is measured, the size rule applies. A query
 * whose neighbours the graph left out of reach is still caught by the sample check (nearer-rows.ts).
 *
 * It runs in the background, started by a search: two sequential scans that compute the exact
 * neighbours of all the queries at once (about 4 s of database time at 50,000 x 1,536 here), and
 * the queries' index scans; again after CALIBRATION_FRESH_MS, once the collection's size has moved
 * by about a fifth (the key holds its size class), or for new HNSW parameters. Past CALIBRATION_MAX_ROWS the exact scans
 * cost too much for a background task, and the size rule applies.
 */
export const CALIBRATION_EF_SEARCH = [40, 64, 100, 160] as const;
export const CALIBRATION_QUERIES = 16;
export const CALIBRATION_K = 10;
/** Mean recall@10 over the calibration queries that an ef_search must reach. */
export const CALIBRATION_MEAN_RECALL = 0.98;
/** The lowest recall@10 of any calibration query that an ef_search may leave. */
export const CALIBRATION_MIN_RECALL = 0.7;
/**
 * What searches multiply the calibrated ef_search by. The calibration queries are easier than
 * real ones: on 50,000 x 1,536 of a harder mixture (512 latent dimensions) they reached recall@10
 * 0.994 at ef_search 40 where 50 fresh draws from the data's distribution reached 0.928 at 40,
 * 0.962 at 64 and 1.0 at 100; on the benchmark's data 1.0 at 40 against 0.992 (another build 0.952).
 */
export const CALIBRATION_MARGIN = 2.5;
export const CALIBRATION_MAX_ROWS = 200_000;
const CALIBRATION_FRESH_MS = 30 * 60_000;

export interface EfCalibration {
  /** The smallest tried ef_search that met the targets (or the largest tried), for CALIBRATION_K results. */
  efSearch: number;
  /** Whether `efSearch` met the targets. */
  met: boolean;
  /** Its mean and lowest recall@10 over the calibration queries. */
  recall: number;
  minRecall: number;
  queries: number;
}

const calibrations = backgroundCache<EfCalibration>({
  freshMs: CALIBRATION_FRESH_MS,
  retryMs: 60_000,
  maxKeys: 64,
});

/**
 * The collection's calibrated ef_search (see above), or null: not measured yet (a measurement is
 * started), or the collection's size is unknown or outside the calibrated range. Only for a
 * search that may see the whole collection: the measurement is of every tenant's rows.
 */
export function calibratedEfSearch(
  reader: QuarryDatabase,
  collection: Collection,
  limits: Pick<Limits, 'statementTimeoutMs' | 'efCalibrationMinRows'>,
  collectionRows: number | null,
): EfCalibration | null {
  if (
    collectionRows === null ||
    collectionRows < limits.efCalibrationMinRows ||
    collectionRows > CALIBRATION_MAX_ROWS
  ) {
    return null;
  }
  return calibrations.current(reader, calibrationKey(collection, collectionRows), () =>
    calibrateEfSearch(reader, collection, limits),
  );
}

/**
 * What a calibration is kept under: the index (its name holds its HNSW parameters), the vectors'
 * shape, and a size class per ~19 % of growth, so that a collection that grew or shrank that much,
 * or an index rebuilt with new parameters, is measured again.
 */
export function calibrationKey(collection: Collection, collectionRows: number): string {
  const sizeClass = Math.round(Math.log2(collectionRows) * 4);
  return `${vectorIndexName(collection)}:${collection.dimensions}:${collection.metric}:${sizeClass}`;
}

/** Resolves once every calibration started on `reader` has ended (for tests). */
export function calibrationsSettled(reader: QuarryDatabase): Promise<void> {
  return calibrations.settled(reader);
}

/** Measures the collection's ef_search (see above); null when it has too few rows to. */
export async function calibrateEfSearch(
  reader: QuarryDatabase,
  collection: Collection,
  limits: Pick<Limits, 'statementTimeoutMs'>,
): Promise<EfCalibration | null> {
  const inScope = and(inCollection(collection.id), isNotNull(documents.embedding));
  const vectorsOf = (rows: Array<{ id: string; embedding: number[] | null }>) =>
    new Map(
      rows
        .filter((row) => row.embedding?.length === collection.dimensions)
        .map((row) => [row.id, row.embedding!]),
    );
  const drawn = vectorsOf(
    await inReadTransaction(reader, limits, (tx) =>
      tx
        .select({ id: documents.id, embedding: documents.embedding })
        .from(documents)
        .where(inScope)
        // Ids are random UUIDs: the last ones are a random draw (the sample check takes the first).
        .orderBy(desc(documents.id))
        .limit(CALIBRATION_QUERIES),
    ),
  );
  if (drawn.size < 2) return null;
  // Each query lies halfway between a stored row and its CALIBRATION_K-th nearest: a point among
  // the data that is no stored row (a stored row is found through its own graph edges, too easily).
  const around = await exactNeighbours(reader, collection, limits, [...drawn.values()]);
  const partners = [...drawn.keys()].map((id, index) =>
    around[index]!.filter((other) => other !== id).at(CALIBRATION_K - 1),
  );
  const partnerVectors = vectorsOf(
    await inReadTransaction(reader, limits, (tx) =>
      tx
        .select({ id: documents.id, embedding: documents.embedding })
        .from(documents)
        .where(
          and(
            inScope,
            inArray(
              documents.id,
              partners.filter((id) => id !== undefined),
            ),
          ),
        ),
    ),
  );
  const queries = [...drawn.values()].flatMap((vector, index) => {
    const partner = partnerVectors.get(partners[index] ?? '');
    return partner ? [vector.map((value, at) => (value + partner[at]!) / 2)] : [];
  });
  if (queries.length === 0) return null;
  const truths = await exactNeighbours(reader, collection, limits, queries);
  const recalls = CALIBRATION_EF_SEARCH.map(() => [] as number[]);
  for (const [index, query] of queries.entries()) {
    const truth = new Set(truths[index]!.slice(0, CALIBRATION_K));
    const answers = await inReadTransaction(reader, limits, async (tx) => {
      const found: string[][] = [];
      for (const efSearch of CALIBRATION_EF_SEARCH) {
        await setLocal(tx, hnswSettings({ strategy: 'hnsw', efSearch, maxScanTuples: null }));
        const rows = await tx
          .select({ id: documents.id })
          .from(documents)
          .where(inScope)
          .orderBy(distanceTo(collection, query))
          .limit(CALIBRATION_K);
        found.push(rows.map((row) => row.id));
      }
      return found;
    });
    answers.forEach((ids, at) => {
      recalls[at]!.push(ids.filter((id) => truth.has(id)).length / Math.max(1, truth.size));
    });
  }
  const measured = CALIBRATION_EF_SEARCH.map((efSearch, index) => {
    const found = recalls[index]!;
    const recall = found.reduce((sum, value) => sum + value, 0) / found.length;
    const minRecall = Math.min(...found);
    const met = recall >= CALIBRATION_MEAN_RECALL && minRecall >= CALIBRATION_MIN_RECALL;
    return { efSearch, met, recall, minRecall, queries: found.length };
  });
  return measured.find((calibration) => calibration.met) ?? measured.at(-1)!;
}

/**
 * The ids of the CALIBRATION_K + 1 rows nearest to each vector, exactly, in one sequential scan
 * of the collection (each row's vector is read once for all the vectors): the exact expression is
 * not the indexed one, so no index serves it.
 */
async function exactNeighbours(
  reader: QuarryDatabase,
  collection: Collection,
  limits: Pick<Limits, 'statementTimeoutMs'>,
  vectors: readonly number[][],
): Promise<string[][]> {
  const distances = sql.join(
    vectors.map((vector) => distanceTo(collection, vector, { exact: true })),
    sql`, `,
  );
  const rows = await inReadTransaction(reader, limits, (tx) =>
    queryRows<{ ids: string[] }>(
      tx,
      sql`with scan as materialized (
          select ${documents.id} as id, array[${distances}]::float8[] as distances
          from ${documents}
          where ${and(inCollection(collection.id), isNotNull(documents.embedding))})
        select array(select id from scan order by distances[n] limit ${CALIBRATION_K + 1}) as ids
        from generate_series(1, ${vectors.length}::int) n
        order by n`,
    ),
  );
  return rows.map((row) => row.ids.map(String));
}
