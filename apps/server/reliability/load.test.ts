import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RouterOutputs } from '@quarry/api';
import { LOAD_TEST_WORDS } from '@quarry/api/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiKeysEnv,
  keys,
  scratchDir,
  scratchPostgres,
  startServer,
  type ServerProcess,
} from '../test/harness';
import { recordTrial } from './report';
import {
  callApi,
  mib,
  ms,
  percentile,
  pick,
  randomUnitVector,
  realDatabases,
  reliabilitySetting,
  residentBytes,
  runClients,
} from './workload';

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
/** Load before the memory baseline. */
const WARMUP_SECONDS = reliabilitySetting('LOAD_WARMUP_SECONDS', 15);
/** Allowed growth from the end of the warm-up to the end of the run, both after a full garbage collection. */
const RSS_GROWTH_BOUND_MIB = reliabilitySetting('LOAD_RSS_GROWTH_MIB', 24);
const HEAP_GROWTH_BOUND_MIB = reliabilitySetting('LOAD_HEAP_GROWTH_MIB', 8);
const DIMENSIONS = 128;
const K = 10;

type Search = RouterOutputs['search']['query'];
type Ingest = RouterOutputs['documents']['ingest'];

let sequence = 0;
function newDocuments(count: number) {
  return Array.from({ length: count }, () => {
    const n = sequence++;
    return {
      content: `document ${n}: ${Array.from({ length: 12 }, () => pick(LOAD_TEST_WORDS)).join(' ')}`,
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

/**
 * Loaded into the server under test through NODE_OPTIONS (the server's code is unchanged): on
 * SIGUSR2 it runs a full garbage collection and prints the process's memory as one JSON log line.
 * RSS under load is a sawtooth of some 50 MiB that V8 lowers only when it gets round to collecting;
 * after a forced collection, what remains is what the process holds.
 */
const MEMORY_PROBE = `
import { isMainThread } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
if (isMainThread) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  let probe = 0;
  process.on('SIGUSR2', () => {
    gc();
    probe += 1;
    process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'memory probe', probe, ...process.memoryUsage() }) + '\\n');
  });
}
`;

interface Memory {
  rss: number;
  heapUsed: number;
}

describe.skipIf(!databases)('load: mixed ingest and search on loopback', () => {
  let scratch: Awaited<ReturnType<typeof scratchPostgres>>;
  let server: ServerProcess;
  let probeDir: ReturnType<typeof scratchDir>;
  let probes = 0;

  /** A full garbage collection in the server, then its memory. */
  async function collectedMemory(): Promise<Memory> {
    probes += 1;
    const expected = probes;
    server.child.kill('SIGUSR2');
    const record = await server.waitForLog(
      (candidate) => candidate.msg === 'memory probe' && candidate.probe === expected,
      30_000,
    );
    return { rss: Number(record.rss), heapUsed: Number(record.heapUsed) };
  }

  /**
   * Memory once it has settled: V8 hands freed pages back to the system over the second after a
   * collection, so collect again each second until RSS holds within 1 MiB (at most 8 times).
   */
  async function settledMemory(): Promise<Memory> {
    let previous = await collectedMemory();
    for (let round = 0; round < 8; round += 1) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const current = await collectedMemory();
      if (Math.abs(current.rss - previous.rss) < 2 ** 20) return current;
      previous = current;
    }
    return previous;
  }

  beforeAll(async () => {
    scratch = await scratchPostgres(databases?.postgresUrl ?? '');
    probeDir = scratchDir('quarry-memory-probe');
    const probeFile = join(probeDir.path, 'memory-probe.mjs');
    writeFileSync(probeFile, MEMORY_PROBE);
    server = await startServer({
      DATABASE_URL: scratch.url,
      QUARRY_API_KEYS: apiKeysEnv,
      NODE_OPTIONS: `--import ${probeFile}`,
    });
    await server.waitForReady();
    const created = await callApi(
      server.url,
      'collections.create',
      { name: 'load', dimensions: DIMENSIONS, embeddingModel: 'external/load-128d' },
      keys.admin,
    );
    expect(created.error).toBeUndefined();
    for (let loaded = 0; loaded < SEED_DOCUMENTS; loaded += 500) {
      const seeded = await callApi(
        server.url,
        'documents.ingest',
        { collection: 'load', documents: newDocuments(Math.min(500, SEED_DOCUMENTS - loaded)) },
        keys.writer,
      );
      expect(seeded.error).toBeUndefined();
    }
  });

  afterAll(async () => {
    await server?.stop();
    await scratch?.drop();
    probeDir?.remove();
  });

  it(`${CONCURRENCY} clients for ${SECONDS} s: no errors, p50/p99 per kind, flat memory after a ${WARMUP_SECONDS} s warm-up`, async () => {
    const pid = server.child.pid;
    if (pid === undefined) throw new Error('the server has no pid');
    const latencies = { search: [] as number[], ingest: [] as number[] };
    const failures: string[] = [];
    let failed = 0;
    let attempts = 0;
    let ingested = 0;
    const fail = (message: string) => {
      failed += 1;
      if (failures.length < 20) failures.push(message);
    };

    const started = Date.now();
    const samples: Array<{ second: number; bytes: number }> = [];
    const sample = () =>
      samples.push({ second: (Date.now() - started) / 1000, bytes: residentBytes(pid) });
    const now = () => (Date.now() - started) / 1000;
    sample();
    const sampler = setInterval(sample, 500);

    const searches: Array<() => object> = [
      () => ({ collection: 'load', vector: randomUnitVector(DIMENSIONS), k: K }),
      () => ({
        collection: 'load',
        vector: randomUnitVector(DIMENSIONS),
        k: K,
        filter: { key: 'bucket', op: 'eq', value: Math.floor(Math.random() * 10) },
      }),
      () => ({
        collection: 'load',
        mode: 'hybrid',
        text: `${pick(LOAD_TEST_WORDS)} ${pick(LOAD_TEST_WORDS)}`,
        vector: randomUnitVector(DIMENSIONS),
        k: K,
      }),
    ];
    let measuring = false;
    const iteration = async () => {
      if (Math.random() < INGEST_SHARE) {
        const call = await callApi<Ingest>(
          server.url,
          'documents.ingest',
          { collection: 'load', documents: newDocuments(INGEST_BATCH) },
          keys.writer,
        );
        if (measuring) latencies.ingest.push(call.ms);
        if (call.error !== undefined) fail(`ingest: ${call.error}`);
        else if (call.data?.inserted !== INGEST_BATCH)
          fail(`ingest: ${call.data?.inserted} inserted of ${INGEST_BATCH}`);
        else ingested += INGEST_BATCH;
      } else {
        const call = await callApi<Search>(
          server.url,
          'search.query',
          pick(searches)(),
          keys.reader,
        );
        if (measuring) latencies.search.push(call.ms);
        if (call.error !== undefined) fail(`search: ${call.error}`);
        else if (call.data?.results.length !== K)
          fail(`search: ${call.data?.results.length} results, expected ${K}`);
      }
      attempts += 1;
    };
    let baseline: Memory;
    let end: Memory;
    let runStarted: number;
    let runEnded: number;
    try {
      await runClients(CONCURRENCY, WARMUP_SECONDS * 1000, iteration);
      baseline = await settledMemory();
      measuring = true;
      runStarted = now();
      await runClients(CONCURRENCY, SECONDS * 1000, iteration);
      runEnded = now();
      measuring = false;
      end = await settledMemory();
    } finally {
      clearInterval(sampler);
    }
    const during = samples.filter((s) => s.second >= runStarted && s.second <= runEnded);
    const peak = Math.max(...during.map((s) => s.bytes));
    const growth = { rss: end.rss - baseline.rss, heapUsed: end.heapUsed - baseline.heapUsed };
    const withinBounds =
      growth.rss <= RSS_GROWTH_BOUND_MIB * 2 ** 20 &&
      growth.heapUsed <= HEAP_GROWTH_BOUND_MIB * 2 ** 20;
    const trend = slopePerMinute(during);
    const requests = latencies.search.length + latencies.ingest.length;

    recordTrial({
      suite: 'Load',
      scenario: `${CONCURRENCY} clients × ${SECONDS} s of mixed ingest and search on loopback, real server on PostgreSQL`,
      attempts,
      survived: attempts - failed,
      metrics: {
        requests: attempts,
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
        `${DIMENSIONS}-dimension cosine collection seeded with ${SEED_DOCUMENTS} documents; ${Math.round(INGEST_SHARE * 100)} % of requests ingest ${INGEST_BATCH} new documents, the rest search: unrestricted vector (HNSW), vector with a metadata filter matching 10 %, hybrid`,
        `requests counts the ${WARMUP_SECONDS} s warm-up too (every answer checked); rate and latencies are of the ${SECONDS} s run only`,
        ...failures.slice(0, 5),
      ],
    });
    recordTrial({
      suite: 'Load',
      scenario: `Server memory stays flat under load: growth over the ${SECONDS} s run ≤ ${RSS_GROWTH_BOUND_MIB} MiB RSS and ≤ ${HEAP_GROWTH_BOUND_MIB} MiB heap, each after a full GC`,
      attempts: 1,
      survived: withinBounds ? 1 : 0,
      metrics: {
        'RSS after warm-up': mib(baseline.rss),
        'RSS after the run': mib(end.rss),
        'RSS growth': mib(growth.rss),
        'heap after warm-up': mib(baseline.heapUsed),
        'heap after the run': mib(end.heapUsed),
        'heap growth': mib(growth.heapUsed),
        'RSS during the run': `${mib(Math.min(...during.map((s) => s.bytes)))} – ${mib(peak)}, trend ${mib(trend)}/min`,
      },
      notes: [
        `RSS sampled from /proc/<pid>/status every 0.5 s during the run (${during.length} samples; a garbage-collection sawtooth). The bounds are checked on memory after full garbage collections in the server (SIGUSR2 to a probe loaded with NODE_OPTIONS, repeated each second until RSS holds within 1 MiB) after the ${WARMUP_SECONDS} s warm-up and after the run`,
      ],
    });

    expect(failures).toEqual([]);
    expect(latencies.search.length).toBeGreaterThan(0);
    expect(latencies.ingest.length).toBeGreaterThan(0);
    expect(growth.rss, `RSS grew by ${mib(growth.rss)} over the run`).toBeLessThanOrEqual(
      RSS_GROWTH_BOUND_MIB * 2 ** 20,
    );
    expect(
      growth.heapUsed,
      `the heap grew by ${mib(growth.heapUsed)} over the run`,
    ).toBeLessThanOrEqual(HEAP_GROWTH_BOUND_MIB * 2 ** 20);
  });
});
