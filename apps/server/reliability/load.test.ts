import type { RouterOutputs } from '@quarry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeysEnv, keys, scratchPostgres, startServer, type ServerProcess } from '../test/harness';
import { recordTrial } from './report';
import { callApi, mib, ms, percentile, pick, randomUnitVector, realDatabases, reliabilitySetting, residentBytes, runClients } from './workload';

/**
 * A bounded mixed load on loopback against the real server on the real PostgreSQL: a fixed number
 * of clients, each sending its next request when the last one is answered, for a sustained run.
 * What must hold: no request fails, and the server's resident memory stays flat once warmed up.
 */

const databases = realDatabases();
const SECONDS = reliabilitySetting('LOAD_SECONDS', 60);
const CONCURRENCY = reliabilitySetting('LOAD_CONCURRENCY', 16);
const SEED_DOCUMENTS = reliabilitySetting('LOAD_SEED_DOCUMENTS', 5_000);
/** Share of requests that are ingests of INGEST_BATCH new documents; the rest are searches. */
const INGEST_SHARE = reliabilitySetting('LOAD_INGEST_SHARE', 0.2);
const INGEST_BATCH = reliabilitySetting('LOAD_INGEST_BATCH', 20);
/** Allowed growth of the server's RSS from the end of the warm-up to the end of the run. */
const RSS_GROWTH_BOUND_MIB = reliabilitySetting('LOAD_RSS_GROWTH_MIB', 48);
const WARMUP_SECONDS = Math.min(SECONDS / 2, Math.max(10, SECONDS / 4));
const DIMENSIONS = 128;
const K = 10;
const WORDS = ['harbor', 'lantern', 'granite', 'meadow', 'copper', 'violet', 'thunder', 'saffron', 'glacier', 'orchard', 'falcon', 'ember'];

type Search = RouterOutputs['search']['query'];
type Ingest = RouterOutputs['documents']['ingest'];

let sequence = 0;
function newDocuments(count: number) {
  return Array.from({ length: count }, () => {
    const n = sequence++;
    return {
      content: `document ${n}: ${Array.from({ length: 12 }, () => pick(WORDS)).join(' ')}`,
      metadata: { bucket: n % 10, source: 'load' },
      embedding: randomUnitVector(DIMENSIONS),
    };
  });
}

/** Least-squares slope of RSS over time, in bytes per minute (garbage collection makes single samples jumpy). */
function slopePerMinute(points: Array<{ second: number; bytes: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const meanX = points.reduce((sum, p) => sum + p.second, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.bytes, 0) / n;
  const covariance = points.reduce((sum, p) => sum + (p.second - meanX) * (p.bytes - meanY), 0);
  const variance = points.reduce((sum, p) => sum + (p.second - meanX) ** 2, 0);
  return (covariance / variance) * 60;
}

describe.skipIf(!databases)('load: mixed ingest and search on loopback', () => {
  let scratch: Awaited<ReturnType<typeof scratchPostgres>>;
  let server: ServerProcess;

  beforeAll(async () => {
    scratch = await scratchPostgres(databases?.postgresUrl ?? '');
    server = await startServer({ DATABASE_URL: scratch.url, QUARRY_API_KEYS: apiKeysEnv });
    await server.waitForReady();
    const created = await callApi(server.url, 'collections.create', { name: 'load', dimensions: DIMENSIONS, embeddingModel: 'external/load-128d' }, keys.admin);
    expect(created.error).toBeUndefined();
    for (let loaded = 0; loaded < SEED_DOCUMENTS; loaded += 500) {
      const seeded = await callApi(server.url, 'documents.ingest', { collection: 'load', documents: newDocuments(Math.min(500, SEED_DOCUMENTS - loaded)) }, keys.writer);
      expect(seeded.error).toBeUndefined();
    }
  });

  afterAll(async () => {
    await server?.stop();
    await scratch?.drop();
  });

  it(`${CONCURRENCY} clients for ${SECONDS} s: no errors, p50/p99 per kind, flat memory after ${WARMUP_SECONDS} s of warm-up`, async () => {
    const pid = server.child.pid;
    if (pid === undefined) throw new Error('the server has no pid');
    const latencies = { search: [] as number[], ingest: [] as number[] };
    const failures: string[] = [];
    let failed = 0;
    let ingested = 0;
    const fail = (message: string) => {
      failed += 1;
      if (failures.length < 20) failures.push(message);
    };

    const started = Date.now();
    const samples: Array<{ second: number; bytes: number }> = [];
    const sample = () => samples.push({ second: (Date.now() - started) / 1000, bytes: residentBytes(pid) });
    sample();
    const sampler = setInterval(sample, 500);

    const searches: Array<() => object> = [
      () => ({ collection: 'load', vector: randomUnitVector(DIMENSIONS), k: K }),
      () => ({ collection: 'load', vector: randomUnitVector(DIMENSIONS), k: K, filter: { key: 'bucket', op: 'eq', value: Math.floor(Math.random() * 10) } }),
      () => ({ collection: 'load', mode: 'hybrid', text: `${pick(WORDS)} ${pick(WORDS)}`, vector: randomUnitVector(DIMENSIONS), k: K }),
    ];
    try {
      await runClients(CONCURRENCY, SECONDS * 1000, async () => {
        if (Math.random() < INGEST_SHARE) {
          const call = await callApi<Ingest>(server.url, 'documents.ingest', { collection: 'load', documents: newDocuments(INGEST_BATCH) }, keys.writer);
          latencies.ingest.push(call.ms);
          if (call.error !== undefined) fail(`ingest: ${call.error}`);
          else if (call.data?.inserted !== INGEST_BATCH) fail(`ingest: ${call.data?.inserted} inserted of ${INGEST_BATCH}`);
          else ingested += INGEST_BATCH;
        } else {
          const call = await callApi<Search>(server.url, 'search.query', pick(searches)(), keys.reader);
          latencies.search.push(call.ms);
          if (call.error !== undefined) fail(`search: ${call.error}`);
          else if (call.data?.results.length !== K) fail(`search: ${call.data?.results.length} results, expected ${K}`);
        }
      });
    } finally {
      clearInterval(sampler);
    }
    sample();

    // Baseline: the median of the samples in the second after warm-up; end: the median of the last five.
    const median = (values: number[]) => percentile(values, 50);
    const baseline = median(samples.filter((s) => s.second >= WARMUP_SECONDS && s.second < WARMUP_SECONDS + 2).map((s) => s.bytes));
    const end = median(samples.slice(-5).map((s) => s.bytes));
    const peakAfterWarmup = Math.max(...samples.filter((s) => s.second >= WARMUP_SECONDS).map((s) => s.bytes));
    const growth = end - baseline;
    const trend = slopePerMinute(samples.filter((s) => s.second >= WARMUP_SECONDS));
    const requests = latencies.search.length + latencies.ingest.length;

    recordTrial({
      suite: 'Load',
      scenario: `${CONCURRENCY} clients × ${SECONDS} s of mixed ingest (${Math.round(INGEST_SHARE * 100)} %, ${INGEST_BATCH} new documents each) and search on loopback, real server on PostgreSQL`,
      attempts: requests,
      survived: requests - failed,
      metrics: {
        requests,
        'requests/s': (requests / SECONDS).toFixed(0),
        searches: latencies.search.length,
        'search p50': ms(percentile(latencies.search, 50)),
        'search p99': ms(percentile(latencies.search, 99)),
        ingests: latencies.ingest.length,
        'ingest p50': ms(percentile(latencies.ingest, 50)),
        'ingest p99': ms(percentile(latencies.ingest, 99)),
        'documents at end': SEED_DOCUMENTS + ingested,
      },
      notes: [
        `${DIMENSIONS}-dimension cosine collection seeded with ${SEED_DOCUMENTS} documents; searches: unrestricted vector (HNSW), vector with a metadata filter matching 10 %, hybrid`,
        ...failures.slice(0, 5),
      ],
    });
    recordTrial({
      suite: 'Load',
      scenario: `Server memory stays flat under load: RSS growth after ${WARMUP_SECONDS} s of warm-up ≤ ${RSS_GROWTH_BOUND_MIB} MiB`,
      attempts: 1,
      survived: growth <= RSS_GROWTH_BOUND_MIB * 2 ** 20 ? 1 : 0,
      metrics: {
        'RSS at start': mib(samples[0]?.bytes ?? Number.NaN),
        'RSS after warm-up': mib(baseline),
        'RSS at end': mib(end),
        growth: mib(growth),
        'peak after warm-up': mib(peakAfterWarmup),
        'trend after warm-up': `${mib(trend)}/min`,
        samples: samples.length,
      },
      notes: [`RSS from /proc/<pid>/status every 0.5 s (garbage collection moves it by some 30 MiB either way); after warm-up = median of the samples ${WARMUP_SECONDS}–${WARMUP_SECONDS + 2} s, end = median of the last five`],
    });

    expect(failures).toEqual([]);
    expect(latencies.search.length).toBeGreaterThan(0);
    expect(latencies.ingest.length).toBeGreaterThan(0);
    expect(growth, `RSS grew by ${mib(growth)} after warm-up`).toBeLessThanOrEqual(RSS_GROWTH_BOUND_MIB * 2 ** 20);
  });
});
