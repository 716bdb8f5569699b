import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createDb, migrate } from '@quarry/db';
import { clusterLayout } from '@quarry/db/cluster';
import { joinCitusCluster } from '@quarry/db/testing';
import { startApiServer, type ApiClient } from './api-client';
import type { MetadataFilter } from '@quarry/api/filter';
import { ingestItems, rowsByExternalId, type Corpus } from './corpus';
import { cosineDistances, exactTopK, recallAtK } from './exact';
import { progress } from './log';
import type { FilterCase } from './recall-bench';
import { INDEX_BUILD_MEMORY, type ScratchServer } from './scratch';
import { round, summarize } from './stats';

/**
 * Quarry on a Citus cluster (a coordinator and two workers, tooling/scripts/start-citus.sh) beside
 * the single server, in the same run and through the same path (the API over HTTP): ingest rate,
 * time until searchable, and filtered search p50 and recall@10 against exact search. On one machine
 * the workers share its cores with the coordinator, so the speed ratio is not the point: that the
 * answers are as good, and what the fan-out to every shard costs a query, are.
 */
export interface CitusSystemReport {
  system: 'single server' | 'Citus, 2 workers';
  docs: number;
  ingestDocsPerSecond: number;
  /** From the first ingest call to the end of the last, with the HNSW index valid. */
  searchableSeconds: number;
  shards: number | null;
  searches: Array<{
    filter: string;
    recall: number;
    minRecall: number;
    p50Ms: number;
    p95Ms: number;
  }>;
}

export interface CitusReport {
  docs: number;
  queries: number;
  systems: CitusSystemReport[];
}

const K = 10;
const BATCH = 250;

export interface CitusBenchInput {
  citusUrl: string;
  data: Corpus;
  queryVectors: readonly Float32Array[];
  filters: readonly FilterCase[];
  /** Rows of `data` to load (the first ones). */
  docs: number;
}

/** The Citus part, or why it was skipped: no coordinator answering at `citusUrl`. */
export async function benchCitusIfReachable(
  server: ScratchServer,
  input: CitusBenchInput,
): Promise<CitusReport | { skipped: string }> {
  const { citusUrl } = input;
  const probe = postgres(citusUrl, { max: 1, connect_timeout: 3, onnotice: () => {} });
  const where = (() => {
    const url = new URL(citusUrl);
    return `${url.hostname}:${url.port || 5432}`;
  })();
  try {
    const [row] = await probe<Array<{ version: string | null }>>`
      select (select extversion from pg_extension where extname = 'citus') as version`;
    if (!row?.version) return { skipped: `${where} answers, but has no citus extension` };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      skipped: `no Citus coordinator at ${where} (${reason}): start one with tooling/scripts/start-citus.sh, or pass --citus-url`,
    };
  } finally {
    await probe.end({ timeout: 1 });
  }
  return benchCitus(server, input);
}

async function benchCitus(
  server: ScratchServer,
  { citusUrl, data, queryVectors, filters, docs }: CitusBenchInput,
): Promise<CitusReport> {
  const count = Math.min(docs, data.vectors.count);
  progress(`citus: exact neighbours of ${queryVectors.length} queries over ${count} rows`);
  const distances = queryVectors.map((vector) => cosineDistances(data.vectors, data.norms, vector));
  const systems: CitusSystemReport[] = [];
  for (const system of ['single server', 'Citus, 2 workers'] as const) {
    const database =
      system === 'single server'
        ? await server.create('citus_baseline')
        : await citusScratch(citusUrl);
    try {
      systems.push(
        await measure(system, database.url, data, count, queryVectors, distances, filters),
      );
    } finally {
      await database.drop();
    }
  }
  return { docs: count, queries: queryVectors.length, systems };
}

async function measure(
  system: CitusSystemReport['system'],
  url: string,
  data: Corpus,
  count: number,
  queryVectors: readonly Float32Array[],
  distances: readonly Float64Array[],
  filters: readonly FilterCase[],
): Promise<CitusSystemReport> {
  const database = await createDb({ driver: 'postgres', url, applicationName: 'quarry-bench' });
  await migrate(database); // on Citus this distributes documents by tenant
  const rowByExternalId = rowsByExternalId(data);
  const api = await startApiServer(url);
  const direct = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const client = api.client;
    await client.collections.create.mutate({
      name: 'spread',
      dimensions: data.vectors.dimensions,
      embeddingModel: 'bench/synthetic',
    });
    progress(`citus: ${system}: ${count} documents through documents.ingest over HTTP`);
    const started = performance.now();
    // Tenants spread the rows over the shards (documents is distributed by tenant).
    for (let start = 0; start < count; start += BATCH) {
      const items = ingestItems(data, start, Math.min(start + BATCH, count));
      await client.documents.ingest.mutate({
        collection: 'spread',
        tenant: `tenant-${(start / BATCH) % 16}`,
        documents: items,
      });
    }
    const loaded = performance.now();
    const searchableSeconds = (loaded - started) / 1000;
    await direct`analyze documents`;
    const layout = await clusterLayout(database.db);
    const searches: CitusSystemReport['searches'] = [];
    for (const filterCase of filters) {
      const latencies: number[] = [];
      const recalls: number[] = [];
      for (const [query, vector] of queryVectors.entries()) {
        const filter = filterCase.forQuery(query);
        const passes = (row: number) => row < count && (filter?.passes(row) ?? true);
        const exact = exactTopK(distances[query] ?? new Float64Array(), K, passes);
        const begin = performance.now();
        const response = await search(client, Array.from(vector), filter?.quarry);
        latencies.push(performance.now() - begin);
        const rows = response
          .map((id) => rowByExternalId.get(id) ?? -1)
          .filter((row) => row >= 0 && row < count);
        recalls.push(recallAtK(distances[query] ?? new Float64Array(), exact, rows, K));
      }
      const latency = summarize(latencies.slice(1)); // the first query warms the connection
      searches.push({
        filter: filterCase.name,
        recall: round(recalls.reduce((sum, value) => sum + value, 0) / recalls.length, 4),
        minRecall: round(Math.min(...recalls), 2),
        p50Ms: round(latency.p50),
        p95Ms: round(latency.p95),
      });
    }
    return {
      system,
      docs: count,
      ingestDocsPerSecond: Math.round(count / searchableSeconds),
      searchableSeconds: round(searchableSeconds, 1),
      shards: layout.distributed ? layout.shardCount : null,
      searches,
    };
  } finally {
    await direct.end({ timeout: 5 });
    await api.stop();
    await database.close();
  }
}

async function search(
  client: ApiClient,
  vector: number[],
  filter: MetadataFilter | undefined,
): Promise<string[]> {
  const response = await client.search.query.query({
    collection: 'spread',
    mode: 'vector',
    vector,
    k: K,
    ...(filter ? { filter } : {}),
  });
  return response.results.map((result) => result.externalId ?? '');
}

/** A scratch database on the Citus coordinator, joined to its workers; dropped everywhere after. */
async function citusScratch(
  coordinatorUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `quarry_bench_citus_${process.pid}_${randomBytes(3).toString('hex')}`;
  const admin = postgres(coordinatorUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.unsafe(`alter database "${name}" set maintenance_work_mem = '${INDEX_BUILD_MEMORY}'`);
  const dropWorkers = await joinCitusCluster(coordinatorUrl, name);
  const url = new URL(coordinatorUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end({ timeout: 5 });
      await dropWorkers();
    },
  };
}

export function renderCitus(report: CitusReport | { skipped: string }): string[] {
  const title = `## Citus: a coordinator and two workers beside the single server`;
  if ('skipped' in report) return [title, '', `Not run: ${report.skipped}.`, ''];
  const [single, citus] = report.systems;
  const lines = [
    title,
    '',
    `${report.docs.toLocaleString('en')} documents of 1,536 dimensions loaded through \`documents.ingest\` over HTTP (250 per call, each call a tenant of 16: \`documents\` is distributed by tenant), then ${report.queries} vector searches per filter through the API, recall@10 against exact search over the same rows. All three Citus nodes share this machine's cores, so read recall and the fan-out overhead, not the speed ratio.`,
    '',
    '| system | shards | ingest docs/s | until searchable (s) |',
    '|---|---|---|---|',
    ...report.systems.map(
      (system) =>
        `| ${system.system} | ${system.shards ?? '–'} | ${system.ingestDocsPerSecond.toLocaleString('en')} | ${system.searchableSeconds} |`,
    ),
    '',
    '| filter | single: recall (min) | single: p50 ms | Citus: recall (min) | Citus: p50 ms | Citus / single p50 |',
    '|---|---|---|---|---|---|',
  ];
  for (const row of single?.searches ?? []) {
    const other = citus?.searches.find((entry) => entry.filter === row.filter);
    lines.push(
      `| ${row.filter} | ${row.recall} (${row.minRecall}) | ${row.p50Ms} | ${other ? `${other.recall} (${other.minRecall})` : '–'} | ${other?.p50Ms ?? '–'} | ${other && row.p50Ms > 0 ? `${round(other.p50Ms / row.p50Ms)}x` : '–'} |`,
    );
  }
  lines.push('');
  return lines;
}
