import postgres from 'postgres';
import type { Collection, Database } from '@quarry/db';
import { startApiServer, type ApiClient } from './api-client';
import { vectorText } from './guide';
import { progress } from './log';
import { round, runConcurrently, summarize, type LatencySummary } from './stats';
import { quarryCaller } from './systems';

export type SearchMode = 'vector' | 'keyword' | 'hybrid';

export interface SearchQuery {
  vector: number[];
  text: string;
}

export interface PathLatency extends LatencySummary {
  /** Completed requests per second over the runs' wall time. */
  throughput: number;
}

export interface LatencyMeasurement {
  mode: SearchMode;
  concurrency: number;
  api: PathLatency;
  /** The same procedure through an in-process caller: Quarry's work without HTTP. */
  inProcess: PathLatency;
  direct: PathLatency;
  /** API p50 / direct p50. */
  overheadP50: number;
}

export interface LatencyReport {
  measurements: LatencyMeasurement[];
  /** The direct SQL, as sent. */
  directSql: Record<SearchMode, string>;
  /** Whether the API and the direct SQL returned the same documents for the first query of each mode. */
  sameResults: Record<SearchMode, boolean>;
}

const K = 10;
// Quarry's defaults: hybrid asks each retriever for max(40, 4k) candidates and fuses them by RRF with k = 60.
const HYBRID_CANDIDATES = 40;
const RRF_K = 60;

/**
 * The SQL a developer would send for each mode, written to return what Quarry's search returns
 * (the same columns, order and limit). Quarry runs the same SELECT inside a transaction with its
 * settings (statement timeout, ef_search) and, for hybrid, fuses the two result lists in the API.
 */
export function directSql(
  collection: Pick<Collection, 'id' | 'dimensions'>,
): Record<SearchMode, string> {
  const { id, dimensions } = collection;
  if (!Number.isSafeInteger(id) || !Number.isSafeInteger(dimensions))
    throw new Error('bad collection');
  const distance = `(embedding::vector(${dimensions}) <=> $1::vector(${dimensions}))`;
  const columns = 'id, external_id, tenant_id, content, metadata, created_at';
  const rank = `ts_rank_cd(search_text, websearch_to_tsquery('english', $TEXT))`;
  return {
    vector: `SELECT ${columns}, ${distance} AS distance FROM documents WHERE collection_id = ${id} AND embedding IS NOT NULL ORDER BY ${distance} LIMIT ${K}`,
    keyword: `SELECT ${columns}, ${rank.replace('$TEXT', '$1')} AS score FROM documents WHERE collection_id = ${id} AND search_text @@ websearch_to_tsquery('english', $1) ORDER BY score DESC, id LIMIT ${K}`,
    hybrid: `WITH by_vector AS (
        SELECT id, row_number() OVER (ORDER BY distance) AS rank FROM (
          SELECT id, ${distance} AS distance FROM documents WHERE collection_id = ${id} AND embedding IS NOT NULL
          ORDER BY ${distance} LIMIT ${HYBRID_CANDIDATES}) v),
      by_keyword AS (
        SELECT id, row_number() OVER (ORDER BY score DESC, id) AS rank FROM (
          SELECT id, ${rank.replace('$TEXT', '$2')} AS score FROM documents WHERE collection_id = ${id} AND search_text @@ websearch_to_tsquery('english', $2)
          ORDER BY score DESC, id LIMIT ${HYBRID_CANDIDATES}) k)
      SELECT d.id, d.external_id, d.tenant_id, d.content, d.metadata, d.created_at,
        coalesce(1.0 / (${RRF_K} + v.rank), 0) + coalesce(1.0 / (${RRF_K} + k.rank), 0) AS score
      FROM by_vector v FULL JOIN by_keyword k USING (id) JOIN documents d USING (id)
      ORDER BY score DESC, v.rank NULLS LAST LIMIT ${K}`,
  };
}

export interface LatencyOptions {
  /** Requests per run at concurrency 1; concurrency 8 runs twice as many. */
  requests: number;
  concurrencies?: number[];
  modes?: SearchMode[];
}

/**
 * Search latency through the HTTP API (a child process serving the router) against the same SQL
 * sent directly through postgres.js, on the same database, queries and concurrency; and through an
 * in-process caller, which splits the overhead into Quarry's own work and HTTP's. The paths run in
 * mirrored order (A-B-C-C-B-A) so drift on the shared machine falls on all alike.
 */
export async function benchLatency(
  database: Database,
  url: string,
  collection: Collection,
  queries: readonly SearchQuery[],
  options: LatencyOptions,
): Promise<LatencyReport> {
  const sqlByMode = directSql(collection);
  const api = await startApiServer(url);
  const caller = quarryCaller(database);
  const direct = postgres(url, { max: 10, onnotice: () => {} });
  const vectorTexts = queries.map((query) => vectorText(query.vector));
  const measurements: LatencyMeasurement[] = [];
  const sameResults: Record<SearchMode, boolean> = { vector: false, keyword: false, hybrid: false };
  try {
    const input = (mode: SearchMode, index: number) => {
      const query = queries[index % queries.length]!;
      return {
        collection: collection.name,
        mode,
        k: K,
        ...(mode === 'keyword' ? {} : { vector: query.vector }),
        ...(mode === 'vector' ? {} : { text: query.text }),
      };
    };
    const viaApi = (client: ApiClient, mode: SearchMode, index: number) =>
      client.search.query.query(input(mode, index));
    const inProcess = (mode: SearchMode, index: number) => caller.search.query(input(mode, index));
    const viaSql = (mode: SearchMode, index: number) => {
      const position = index % queries.length;
      const params =
        mode === 'vector'
          ? [vectorTexts[position]!]
          : mode === 'keyword'
            ? [queries[position]!.text]
            : [vectorTexts[position]!, queries[position]!.text];
      return direct.unsafe<Array<{ id: string }>>(sqlByMode[mode], params);
    };
    for (const mode of options.modes ?? (['vector', 'keyword', 'hybrid'] as const)) {
      const fromApi = await viaApi(api.client, mode, 0);
      const fromSql = await viaSql(mode, 0);
      sameResults[mode] =
        JSON.stringify(fromApi.results.map((result) => result.id)) ===
        JSON.stringify(fromSql.map((row) => row.id));
      for (const concurrency of options.concurrencies ?? [1, 8]) {
        const total = options.requests * (concurrency > 1 ? 2 : 1);
        const half = Math.ceil(total / 2);
        // Warm both paths: connections, plans, the pages the queries touch.
        await runConcurrently(Math.min(20, queries.length), concurrency, (i) =>
          viaApi(api.client, mode, i),
        );
        await runConcurrently(Math.min(20, queries.length), concurrency, (i) => viaSql(mode, i));
        await runConcurrently(Math.min(20, queries.length), concurrency, (i) => inProcess(mode, i));
        const latencies = {
          api: [] as number[],
          inProcess: [] as number[],
          direct: [] as number[],
        };
        const wall = { api: 0, inProcess: 0, direct: 0 };
        const paths = ['direct', 'inProcess', 'api'] as const;
        for (const [path, offset] of [
          ...paths.map((path) => [path, 0] as const),
          ...[...paths].reverse().map((path) => [path, half] as const),
        ]) {
          const run = await runConcurrently(half, concurrency, (i) =>
            path === 'api'
              ? viaApi(api.client, mode, offset + i)
              : path === 'inProcess'
                ? inProcess(mode, offset + i)
                : viaSql(mode, offset + i),
          );
          latencies[path].push(...run.latenciesMs);
          wall[path] += run.wallMs;
        }
        const summary = (path: (typeof paths)[number]) =>
          roundSummary({
            ...summarize(latencies[path]),
            throughput: round((latencies[path].length / wall[path]) * 1000, 1),
          });
        const result: LatencyMeasurement = {
          mode,
          concurrency,
          api: summary('api'),
          inProcess: summary('inProcess'),
          direct: summary('direct'),
          overheadP50: round(summarize(latencies.api).p50 / summarize(latencies.direct).p50, 2),
        };
        progress(
          `  ${mode} c=${concurrency}: API p50 ${result.api.p50} ms, in-process ${result.inProcess.p50} ms, direct p50 ${result.direct.p50} ms (×${result.overheadP50}); ${result.api.throughput} vs ${result.direct.throughput} req/s`,
        );
        measurements.push(result);
      }
    }
  } finally {
    await direct.end({ timeout: 5 });
    await api.stop();
  }
  return { measurements, directSql: sqlByMode, sameResults };
}

function roundSummary(summary: PathLatency): PathLatency {
  return {
    count: summary.count,
    p50: round(summary.p50),
    p95: round(summary.p95),
    p99: round(summary.p99),
    mean: round(summary.mean),
    throughput: summary.throughput,
  };
}
