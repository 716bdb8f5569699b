import {
  and,
  asc,
  documents,
  inCollection,
  eq,
  isNotNull,
  indexedVectorType,
  type Collection,
  type Metadata,
  type QuarryDatabase,
} from '@quarry/db';
import { matchesFilter, type MetadataFilter } from '../filter';
import type { Limits } from '../limits';
import { inReadTransaction } from '../transaction';
import { backgroundCache } from './background-cache';
import type { Candidate } from './types';

/**
 * An HNSW graph can leave a region of the data out of reach: a query whose neighbours lie there
 * gets none of them, at any ef_search (issue 12 measured recall 0 for one query at 40, 100 and 200,
 * on some builds of the same data and not others). Nothing in the index's answer says so. A
 * random sample of the collection's rows, kept in memory, can: when a sampled row that passes the
 * query's restrictions is nearer than the answer's last row and is not in it, the answer missed
 * at least that row, and the search is run again exactly.
 *
 * The sample is SAMPLE_ROWS rows by random id (ids are random UUIDs), read in the background by
 * the first search of a collection and again once it is REFRESH_MS old; until it is there, and
 * for restrictions it cannot evaluate in memory (a created-at range), there is no check. A stale
 * sample costs at most a needless exact run (a sampled row since changed), never a wrong answer.
 * The check costs SAMPLE_ROWS distances per vector search (0.6 ms of CPU at 1,536 dimensions here),
 * computed while the database answers.
 */
export const SAMPLE_ROWS = 256;
// At most 32 samples per database: 48 MiB at 1,536 dimensions.
const samples = backgroundCache<CollectionSample>({
  freshMs: 5 * 60_000,
  retryMs: 30_000,
  maxKeys: 32,
});

export interface CollectionSample {
  ids: string[];
  tenants: string[];
  metadata: Metadata[];
  /** Row-major, `dimensions` components per row. */
  vectors: Float32Array;
  norms: Float64Array;
}

async function loadSample(
  reader: QuarryDatabase,
  collection: Collection,
  tenant: string | undefined,
  limits: Pick<Limits, 'statementTimeoutMs'>,
): Promise<CollectionSample> {
  const rows = await inReadTransaction(reader, limits, (tx) =>
    tx
      .select({
        id: documents.id,
        tenant: documents.tenantId,
        metadata: documents.metadata,
        embedding: documents.embedding,
      })
      .from(documents)
      .where(
        and(
          inCollection(collection.id),
          isNotNull(documents.embedding),
          tenant === undefined ? undefined : eq(documents.tenantId, tenant),
        ),
      )
      .orderBy(asc(documents.id))
      .limit(SAMPLE_ROWS),
  );
  const { dimensions } = collection;
  const usable = rows.filter((row) => row.embedding?.length === dimensions);
  const vectors = new Float32Array(usable.length * dimensions);
  const norms = new Float64Array(usable.length);
  usable.forEach((row, index) => {
    vectors.set(row.embedding!, index * dimensions);
    norms[index] = Math.hypot(...row.embedding!);
  });
  return {
    ids: usable.map((row) => row.id),
    tenants: usable.map((row) => row.tenant),
    metadata: usable.map((row) => row.metadata),
    vectors,
    norms,
  };
}

/** What a vector search is restricted to, when every restriction can be checked in memory. */
export interface InMemoryRestrictions {
  tenant: string | undefined;
  filter: MetadataFilter | undefined;
}

/**
 * Checks an approximate answer against the collection's sample: a reason to run the search again
 * exactly, or null. `rows` are the answer, nearest first; its first `checked` rows are checked
 * (none when it has fewer: a short answer is re-run anyway).
 */
export type AnswerCheck = (rows: readonly Candidate[], checked: number) => Promise<string | null>;

/**
 * Starts the check of an index answer, as its statement goes out: the sampled rows' distances
 * from the query are computed while the database answers (after the turn in which the statement
 * is written; postgres.js writes at setImmediate), and only for a search that uses the index.
 */
export type NearerRowCheck = () => AnswerCheck;

/** The check of one search's index answer, or null when there is no sample (yet) to check it with. */
export function nearerRowCheck(
  reader: QuarryDatabase,
  collection: Collection,
  limits: Pick<Limits, 'statementTimeoutMs'>,
  query: readonly number[],
  restrictions: InMemoryRestrictions,
  /** A tenant-bound key's tenant: its sample is of its own rows, so nothing of others' shapes it. */
  boundTenant: string | undefined,
): NearerRowCheck | null {
  const key = `${collection.id}:${collection.dimensions}:${boundTenant === undefined ? '' : `t:${boundTenant}`}`;
  const sample = samples.current(reader, key, () =>
    loadSample(reader, collection, boundTenant, limits),
  );
  if (!sample) return null;
  return () => {
    const distances = new Promise<Float64Array>((resolve) =>
      setImmediate(() => setImmediate(() => resolve(sampledDistances(sample, collection, query)))),
    );
    return async (rows, checked) => {
      const last = rows[checked - 1]?.distance;
      if (rows.length < checked || last === null || last === undefined) return null;
      const nearer = nearestMissed(sample, await distances, collection, restrictions, rows, last);
      const head =
        checked < rows.length
          ? `the first ${checked} of the index's ${rows.length} rows`
          : `the index's ${checked} rows`;
      return nearer === null
        ? null
        : `${head} missed a nearer one (distance ${nearer.toPrecision(4)} against ${last.toPrecision(4)}; checked against ${sample.ids.length} sampled rows): re-ran as exact search`;
    };
  };
}

/** Each sampled row's distance from the query, by the collection's metric (exported for tests). */
export function sampledDistances(
  sample: CollectionSample,
  { dimensions, metric }: Pick<Collection, 'dimensions' | 'metric'>,
  query: readonly number[],
): Float64Array {
  const queryNorm = Math.hypot(...query);
  const distances = new Float64Array(sample.ids.length);
  for (let index = 0; index < distances.length; index++) {
    const offset = index * dimensions;
    const product = dot(sample.vectors, offset, query, dimensions);
    const rowNorm = sample.norms[index]!;
    // |r - q|^2 = |r|^2 + |q|^2 - 2 r.q, in doubles: off by far less than the check's tolerance.
    distances[index] =
      metric === 'l2'
        ? Math.sqrt(Math.max(0, rowNorm * rowNorm + queryNorm * queryNorm - 2 * product))
        : metric === 'cosine'
          ? 1 - product / (rowNorm * queryNorm)
          : -product;
  }
  return distances;
}

/**
 * The dot product of a sampled row and the query, four sums at a time: V8 then keeps them in
 * registers apart, and a pass over 256 rows of 1,536 dimensions took 0.29 ms here against 0.50 ms
 * with one sum.
 */
function dot(rows: Float32Array, offset: number, query: readonly number[], dimensions: number) {
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  let component = 0;
  for (; component + 4 <= dimensions; component += 4) {
    const at = offset + component;
    a += rows[at]! * query[component]!;
    b += rows[at + 1]! * query[component + 1]!;
    c += rows[at + 2]! * query[component + 2]!;
    d += rows[at + 3]! * query[component + 3]!;
  }
  for (; component < dimensions; component++) a += rows[offset + component]! * query[component]!;
  return a + b + c + d;
}

/**
 * The distance of the nearest sampled row that passes the restrictions, is not in `rows`, and is
 * nearer than `last` by more than rounding (halfvec indexes round each component to 16 bits);
 * null when there is none.
 */
function nearestMissed(
  sample: CollectionSample,
  distances: Float64Array,
  { dimensions }: Pick<Collection, 'dimensions'>,
  restrictions: InMemoryRestrictions,
  rows: readonly Candidate[],
  last: number,
): number | null {
  const tolerance =
    (indexedVectorType(dimensions) === 'vector' ? 1e-4 : 1e-2) * Math.max(1, Math.abs(last));
  const returned = new Set(rows.map((row) => row.id));
  let nearest: number | null = null;
  for (let index = 0; index < distances.length; index++) {
    const distance = distances[index]!;
    if (!(distance < last - tolerance) || (nearest !== null && distance >= nearest)) continue;
    if (returned.has(sample.ids[index]!)) continue;
    if (restrictions.tenant !== undefined && sample.tenants[index] !== restrictions.tenant)
      continue;
    if (restrictions.filter && !matchesFilter(sample.metadata[index]!, restrictions.filter)) {
      continue;
    }
    nearest = distance;
  }
  return nearest;
}

/** Resolves once every sample load started on `reader` has ended (for tests). */
export function sampleLoads(reader: QuarryDatabase): Promise<void> {
  return samples.settled(reader);
}
