import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { LOAD_TEST_WORDS } from '@quarry/api/testing';
import { sql, type Collection, type Database } from '@quarry/db';
import { startApiServer, type ApiClient } from './api-client';
import { vectorText } from './guide';
import { progress } from './log';
import { round, runConcurrently, summarize, type LatencySummary } from './stats';
import { gaussian, seededRandom } from './synthetic';
import { createBenchCollection, quarryBulkIngest, quarryCaller, untilPlanSettled } from './systems';

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
  /**
   * The same SQL sent directly on connections at the ef_search Quarry searched with (its recall
   * rule at this collection's size; `direct` runs at pgvector's default, 40): the database's share
   * of the gap. Absent for keyword search, which has no HNSW scan.
   */
  directAtQuarryEf?: PathLatency;
  /** hnsw.ef_search of Quarry's answer after the warm-up (its response's stats). */
  quarryEfSearch?: number | null;
  /** API p50 / direct p50. */
  overheadP50: number;
}

export interface LatencyReport {
  measurements: LatencyMeasurement[];
  /** The direct SQL, as sent. */
  directSql: Record<SearchMode, string>;
  /** Whether the API and the direct SQL returned the same documents for the first query of each mode. */
  sameResults: Record<SearchMode, boolean>;
  /** The load test's shape: mixed searches from 16 clients, API against direct SQL. */
  throughput?: ThroughputReport;
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
  /** Requests of the 16-client throughput run (0: skip it; default 8 × `requests`). */
  throughputRequests?: number;
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
    const viaSql = (mode: SearchMode, index: number, client?: postgres.Sql) => {
      const position = index % queries.length;
      const params =
        mode === 'vector'
          ? [vectorTexts[position]!]
          : mode === 'keyword'
            ? [queries[position]!.text]
            : [vectorTexts[position]!, queries[position]!.text];
      return (client ?? direct).unsafe<Array<{ id: string }>>(sqlByMode[mode], params);
    };
    for (const mode of options.modes ?? (['vector', 'keyword', 'hybrid'] as const)) {
      const fromApi = await viaApi(api.client, mode, 0);
      const fromSql = await viaSql(mode, 0);
      sameResults[mode] =
        JSON.stringify(fromApi.results.map((result) => result.id)) ===
        JSON.stringify(fromSql.map((row) => row.id));
      // Quarry's ef_search once its plan has settled (the collection's size and calibration,
      // read in the background after its first searches), in the server and in this process.
      await untilPlanSettled(() => api.client.collections.get.query({ name: collection.name }));
      await untilPlanSettled(() => caller.collections.get({ name: collection.name }));
      await runConcurrently(Math.min(20, queries.length), 1, (i) => viaApi(api.client, mode, i));
      const quarryEfSearch = (await viaApi(api.client, mode, 0)).stats.efSearch;
      // Connections whose sessions search at Quarry's ef_search (a startup parameter, so the
      // statement is the same one as `direct` sends).
      const atQuarryEf =
        quarryEfSearch === null
          ? undefined
          : postgres(url, {
              max: 10,
              onnotice: () => {},
              connection: { 'hnsw.ef_search': String(quarryEfSearch) },
            });
      try {
        for (const concurrency of options.concurrencies ?? [1, 8]) {
          const total = options.requests * (concurrency > 1 ? 2 : 1);
          const half = Math.ceil(total / 2);
          const paths = [
            'direct',
            ...(atQuarryEf ? (['directAtQuarryEf'] as const) : []),
            'inProcess',
            'api',
          ] as const;
          type Path = (typeof paths)[number];
          const send = (path: Path, index: number) =>
            path === 'api'
              ? viaApi(api.client, mode, index)
              : path === 'inProcess'
                ? inProcess(mode, index)
                : viaSql(mode, index, path === 'directAtQuarryEf' ? atQuarryEf : undefined);
          // Warm every path: connections, plans, the pages the queries touch.
          for (const path of paths) {
            await runConcurrently(Math.min(20, queries.length), concurrency, (i) => send(path, i));
          }
          const latencies: Record<Path, number[]> = {
            api: [],
            inProcess: [],
            direct: [],
            directAtQuarryEf: [],
          };
          const wall: Record<Path, number> = {
            api: 0,
            inProcess: 0,
            direct: 0,
            directAtQuarryEf: 0,
          };
          for (const [path, offset] of [
            ...paths.map((path) => [path, 0] as const),
            ...[...paths].reverse().map((path) => [path, half] as const),
          ]) {
            const run = await runConcurrently(half, concurrency, (i) => send(path, offset + i));
            latencies[path].push(...run.latenciesMs);
            wall[path] += run.wallMs;
          }
          const summary = (path: Path) =>
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
            ...(atQuarryEf
              ? { directAtQuarryEf: summary('directAtQuarryEf'), quarryEfSearch }
              : {}),
            overheadP50: round(summarize(latencies.api).p50 / summarize(latencies.direct).p50, 2),
          };
          progress(
            `  ${mode} c=${concurrency}: API p50 ${result.api.p50} ms, in-process ${result.inProcess.p50} ms, direct p50 ${result.direct.p50} ms (×${result.overheadP50})${result.directAtQuarryEf ? `, direct at ef_search ${String(quarryEfSearch)} p50 ${result.directAtQuarryEf.p50} ms` : ''}; ${result.api.throughput} vs ${result.direct.throughput} req/s`,
          );
          measurements.push(result);
        }
      } finally {
        await atQuarryEf?.end({ timeout: 5 });
      }
    }
  } finally {
    await direct.end({ timeout: 5 });
    await api.stop();
  }
  const throughputRequests = options.throughputRequests ?? options.requests * 8;
  const throughput =
    throughputRequests > 0
      ? await benchThroughput(database, url, { requests: throughputRequests, seed: 7 })
      : undefined;
  return { measurements, directSql: sqlByMode, sameResults, ...(throughput ? { throughput } : {}) };
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

/** The reliability load test's shape (apps/server/reliability/load.test.ts), searches only. */
const LOAD_SHAPE = { documents: 5_000, dimensions: 128, clients: 16 } as const;

export interface ThroughputReport {
  documents: number;
  dimensions: number;
  clients: number;
  requests: number;
  /** Requests per second and latency through the HTTP API (the real server, as users run it). */
  api: PathLatency;
  /** The same procedure through an in-process caller: Quarry's work without HTTP. */
  inProcess: PathLatency;
  /** The same queries as SQL through postgres.js at the same concurrency. */
  direct: PathLatency;
  /** API throughput / direct throughput (target ≥ 0.7). */
  ratio: number;
  /** The server process's CPU time per request (user + system), from /proc. */
  serverCpuMsPerRequest: number | null;
}

function processCpuMs(pid: number): number | null {
  try {
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / 100) * 1000;
  } catch {
    return null;
  }
}

/**
 * Throughput of mixed searches (unrestricted vector, vector with a 10 % metadata filter, hybrid of
 * two words) from 16 clients on a 5,000 × 128 collection, through the API and as the same SQL sent
 * directly with postgres.js at the same concurrency; the runs alternate (API, direct, direct, API).
 */
export async function benchThroughput(
  database: Database,
  url: string,
  options: { requests: number; seed: number; serverNodeOptions?: readonly string[] },
): Promise<ThroughputReport> {
  const random = seededRandom(options.seed);
  const unitVector = () => {
    const values = Array.from({ length: LOAD_SHAPE.dimensions }, () => gaussian(random));
    const norm = Math.hypot(...values);
    return values.map((value) => value / norm);
  };
  const word = () => LOAD_TEST_WORDS[Math.floor(random() * LOAD_TEST_WORDS.length)]!;
  const name = `load-${options.seed}`;
  const collection = await createBenchCollection(database, name, LOAD_SHAPE.dimensions, {
    withIndex: true,
  });
  progress(`  throughput: seeding ${LOAD_SHAPE.documents} × ${LOAD_SHAPE.dimensions} documents`);
  for (let start = 0; start < LOAD_SHAPE.documents; start += 1_000) {
    await quarryBulkIngest(
      database,
      collection,
      Array.from({ length: Math.min(1_000, LOAD_SHAPE.documents - start) }, (_, i) => ({
        content: `document ${start + i}: ${Array.from({ length: 12 }, word).join(' ')}`,
        metadata: { bucket: (start + i) % 10, source: 'load' },
        embedding: unitVector(),
      })),
    );
  }
  await database.db.execute(sql`analyze documents`);
  const queries = Array.from({ length: 200 }, (_, i) => ({
    kind: (['vector', 'filtered', 'hybrid'] as const)[i % 3]!,
    vector: unitVector(),
    bucket: Math.floor(random() * 10),
    text: `${word()} ${word()}`,
  }));
  const sqlByMode = directSql(collection);
  const filteredSql = sqlByMode.vector.replace(
    'AND embedding IS NOT NULL',
    'AND embedding IS NOT NULL AND metadata @> $2::jsonb',
  );
  const api = await startApiServer(url, options.serverNodeOptions);
  const caller = quarryCaller(database);
  const direct = postgres(url, { max: LOAD_SHAPE.clients, onnotice: () => {} });
  try {
    const input = (i: number) => {
      const query = queries[i % queries.length]!;
      return {
        collection: name,
        k: K,
        vector: query.vector,
        ...(query.kind === 'filtered'
          ? { filter: { key: 'bucket', op: 'eq' as const, value: query.bucket } }
          : {}),
        ...(query.kind === 'hybrid' ? { mode: 'hybrid' as const, text: query.text } : {}),
      };
    };
    const viaApi = (i: number) => api.client.search.query.query(input(i));
    const inProcess = (i: number) => caller.search.query(input(i));
    const viaSql = (i: number) => {
      const query = queries[i % queries.length]!;
      const vector = vectorText(query.vector);
      return query.kind === 'vector'
        ? direct.unsafe(sqlByMode.vector, [vector])
        : query.kind === 'filtered'
          ? direct.unsafe(filteredSql, [vector, JSON.stringify({ bucket: query.bucket })])
          : direct.unsafe(sqlByMode.hybrid, [vector, query.text]);
    };
    await runConcurrently(100, LOAD_SHAPE.clients, viaApi);
    await runConcurrently(100, LOAD_SHAPE.clients, viaSql);
    await runConcurrently(100, LOAD_SHAPE.clients, inProcess);
    const half = Math.ceil(options.requests / 2);
    const latencies = { api: [] as number[], inProcess: [] as number[], direct: [] as number[] };
    const wall = { api: 0, inProcess: 0, direct: 0 };
    const task = { api: viaApi, inProcess, direct: viaSql };
    let cpuMs = 0;
    for (const path of ['api', 'inProcess', 'direct', 'direct', 'inProcess', 'api'] as const) {
      const cpuBefore = path === 'api' ? processCpuMs(api.pid) : null;
      const run = await runConcurrently(half, LOAD_SHAPE.clients, task[path]);
      const cpuAfter = path === 'api' ? processCpuMs(api.pid) : null;
      if (cpuBefore !== null && cpuAfter !== null) cpuMs += cpuAfter - cpuBefore;
      latencies[path].push(...run.latenciesMs);
      wall[path] += run.wallMs;
    }
    const summary = (path: keyof typeof latencies) =>
      roundSummary({
        ...summarize(latencies[path]),
        throughput: round((latencies[path].length / wall[path]) * 1000, 1),
      });
    const report: ThroughputReport = {
      ...LOAD_SHAPE,
      requests: half * 2,
      api: summary('api'),
      inProcess: summary('inProcess'),
      direct: summary('direct'),
      ratio: round(latencies.api.length / wall.api / (latencies.direct.length / wall.direct), 2),
      serverCpuMsPerRequest: processCpuMs(api.pid) === null ? null : round(cpuMs / (half * 2), 3),
    };
    progress(
      `  throughput (${LOAD_SHAPE.clients} clients, mixed searches): API ${report.api.throughput} req/s (p50 ${report.api.p50} ms), in-process ${report.inProcess.throughput} req/s (p50 ${report.inProcess.p50} ms), direct ${report.direct.throughput} req/s (p50 ${report.direct.p50} ms), ×${report.ratio}; server CPU ${report.serverCpuMsPerRequest} ms/request`,
    );
    return report;
  } finally {
    await direct.end({ timeout: 5 });
    await api.stop();
  }
}
