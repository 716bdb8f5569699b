import type { RouterOutputs } from '@quarry/api';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchPostgres, startServer, type ServerProcess } from '../test/harness';
import { recordTrial } from './report';
import {
  callApi,
  onDatabase,
  percentile,
  pick,
  randomUnitVector,
  realDatabases,
  reliabilitySetting,
  runClients,
  ms,
  type ApiCall,
} from './workload';

/**
 * 50 clients through PgBouncer in transaction mode against the real server (DATABASE_POOLED=true)
 * for a sustained run. What must hold: no request fails (no prepared-statement error in
 * particular), every response holds only its tenant's documents, and request settings made with
 * SET LOCAL never outlive their transaction: raw connections to the same database through the
 * same PgBouncer, interleaved with Quarry's traffic, always see the server's defaults.
 */

const databases = realDatabases();
const SECONDS = reliabilitySetting('POOLER_SECONDS', 60);
const CLIENTS = reliabilitySetting('POOLER_CLIENTS', 50);
const PROBES = 4;
const CONTENTION_SECONDS = reliabilitySetting('POOLER_CONTENTION_SECONDS', 10);
const CONTENTION_CLIENTS = 8;
const CONTENDED_KEYS = 20;
const DOCUMENTS_PER_TENANT = reliabilitySetting('POOLER_DOCUMENTS_PER_TENANT', 1_000);
const DIMENSIONS = 16;
const K = 10;
/** A value no default has, so a leaked statement_timeout is told apart from the server's own. */
const STATEMENT_TIMEOUT_MS = 23_456;
/** Each tenant's documents contain its word and no other tenant's, so a foreign document is visible in the content too. */
const TENANTS = ['amber', 'birch', 'cedar', 'delta', 'ember', 'fjord'] as const;
type Tenant = (typeof TENANTS)[number];
/** The settings Quarry sets per request, each read back by the probes. */
const PROBED_SETTINGS = [
  'hnsw.ef_search',
  'hnsw.iterative_scan',
  'statement_timeout',
  'enable_seqscan',
  'enable_bitmapscan',
] as const;

const adminKey = 'pooler-admin-key-0123456789';
const tenantKey = (tenant: Tenant) => `pooler-${tenant}-key-0123456789`;
const apiKeys = JSON.stringify([
  { key: adminKey, name: 'admin', scopes: ['read', 'write', 'admin'] },
  ...TENANTS.map((tenant) => ({
    key: tenantKey(tenant),
    name: tenant,
    scopes: ['read', 'write'],
    tenant,
  })),
]);

type Search = RouterOutputs['search']['query'];
type Settings = Record<(typeof PROBED_SETTINGS)[number], string | null>;

/** Reads the probed settings in one transaction after loading pgvector, so `hnsw.*` are defined. */
async function readSettings(client: postgres.Sql): Promise<{ pid: number; settings: Settings }> {
  return client.begin(async (tx) => {
    await tx`select '[1]'::vector`;
    const [row] = await tx<Array<Settings & { pid: number }>>`
      select pg_backend_pid() as pid, ${tx.unsafe(PROBED_SETTINGS.map((name) => `current_setting('${name}', true) as "${name}"`).join(', '))}`;
    if (!row) throw new Error('no settings row');
    const { pid, ...settings } = row;
    return { pid, settings };
  });
}

const differences = (seen: Settings, defaults: Settings) =>
  PROBED_SETTINGS.filter((name) => seen[name] !== defaults[name]).map(
    (name) => `${name}=${seen[name]} (default ${defaults[name]})`,
  );

describe.skipIf(!databases)('pooler: 50 clients through PgBouncer in transaction mode', () => {
  let scratch: Awaited<ReturnType<typeof scratchPostgres>>;
  let server: ServerProcess;
  let pooledUrl: string;
  let defaults: Settings;

  beforeAll(async () => {
    scratch = await scratchPostgres(databases?.postgresUrl ?? '');
    const name = new URL(scratch.url).pathname.slice(1);
    pooledUrl = onDatabase(databases?.pgbouncerUrl ?? '', name);
    server = await startServer({
      DATABASE_URL: pooledUrl,
      DATABASE_POOLED: 'true',
      DATABASE_MAX_CONNECTIONS: String(CLIENTS),
      STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      QUARRY_API_KEYS: apiKeys,
    });
    await server.waitForReady();
    const created = await callApi(
      server.url,
      'collections.create',
      { name: 'pool', dimensions: DIMENSIONS, embeddingModel: 'external/pool-16d' },
      adminKey,
    );
    expect(created.error).toBeUndefined();
    for (const tenant of TENANTS) {
      for (let start = 0; start < DOCUMENTS_PER_TENANT; start += 500) {
        const documents = Array.from(
          { length: Math.min(500, DOCUMENTS_PER_TENANT - start) },
          (_, offset) => document(tenant, start + offset, 0),
        );
        const ingested = await callApi(
          server.url,
          'documents.ingest',
          { collection: 'pool', documents },
          tenantKey(tenant),
        );
        expect(ingested.error).toBeUndefined();
      }
    }
    // The defaults, read straight from PostgreSQL, not through the pooler.
    const direct = postgres(scratch.url, { max: 1, onnotice: () => {} });
    defaults = (await readSettings(direct)).settings;
    await direct.end();
  });

  afterAll(async () => {
    await server?.stop();
    await scratch?.drop();
  });

  function document(tenant: Tenant, index: number, revision: number) {
    return {
      externalId: `${tenant}-${index}`,
      content: `${tenant} passage ${index} revision ${revision}: written for ${tenant} only`,
      metadata: { kind: 'passage', n: index },
      embedding: randomUnitVector(DIMENSIONS),
    };
  }

  it(`for ${SECONDS} s: every request answered, tenants isolated, no setting leaks to other connections`, async () => {
    const counts = {
      requests: 0,
      failed: 0,
      tenantScoped: 0,
      tenantLeaks: 0,
      probes: 0,
      settingLeaks: 0,
    };
    const byKind = new Map<string, number[]>();
    const failures: string[] = [];
    const leaks: string[] = [];
    const strategies = new Map<string, number>();
    const probedBackends = new Set<number>();
    let revision = 1;

    const note = (kind: string, call: ApiCall<unknown>) => {
      counts.requests += 1;
      const latencies = byKind.get(kind) ?? [];
      latencies.push(call.ms);
      byKind.set(kind, latencies);
      if (call.error !== undefined) {
        counts.failed += 1;
        if (failures.length < 20) failures.push(`${kind}: ${call.error}`);
      }
    };
    /** Every result must be the tenant's: by its tenant field and by its content. */
    const checkTenant = (kind: string, tenant: Tenant, search: Search | undefined) => {
      if (!search) return;
      counts.tenantScoped += 1;
      if (search.results.length !== K) {
        counts.failed += 1;
        if (failures.length < 20)
          failures.push(
            `${kind}: ${search.results.length} results for tenant ${tenant}, expected ${K}`,
          );
      }
      const foreign = search.results.filter(
        (result) => result.tenant !== tenant || !result.content.startsWith(`${tenant} passage`),
      );
      if (foreign.length > 0) {
        counts.tenantLeaks += 1;
        if (leaks.length < 20)
          leaks.push(
            `${kind} for ${tenant} returned ${foreign.map((result) => `${result.tenant}: "${result.content.slice(0, 40)}"`).join(', ')}`,
          );
      }
    };
    const countStrategy = (search: Search | undefined) => {
      const strategy = /re-ran as exact/.test(search?.stats.strategyReason ?? '')
        ? 'exact after a short HNSW answer'
        : (search?.stats.strategy ?? 'none');
      strategies.set(strategy, (strategies.get(strategy) ?? 0) + 1);
    };

    const kinds: Array<() => Promise<void>> = [
      // A tenant-bound key: the tenant comes from the key; efSearch varies per request.
      async () => {
        const tenant = pick(TENANTS);
        const call = await callApi<Search>(
          server.url,
          'search.query',
          {
            collection: 'pool',
            vector: randomUnitVector(DIMENSIONS),
            k: K,
            efSearch: 10 + Math.floor(Math.random() * 300),
          },
          tenantKey(tenant),
        );
        note('search (tenant key)', call);
        checkTenant('search (tenant key)', tenant, call.data);
        countStrategy(call.data);
      },
      // An unbound key naming a tenant, hybrid with another tenant's word as the keyword query.
      async () => {
        const tenant = pick(TENANTS);
        const call = await callApi<Search>(
          server.url,
          'search.query',
          {
            collection: 'pool',
            mode: 'hybrid',
            tenant,
            text: pick(TENANTS),
            vector: randomUnitVector(DIMENSIONS),
            k: K,
          },
          adminKey,
        );
        note('hybrid (tenant named)', call);
        checkTenant('hybrid (tenant named)', tenant, call.data);
        countStrategy(call.data);
      },
      // Unrestricted: HNSW with this request's ef_search, seqscans off inside the transaction.
      async () => {
        const efSearch = 10 + Math.floor(Math.random() * 300);
        const call = await callApi<Search>(
          server.url,
          'search.query',
          { collection: 'pool', vector: randomUnitVector(DIMENSIONS), k: K, efSearch },
          adminKey,
        );
        note('search (all tenants)', call);
        countStrategy(call.data);
        const stats = call.data?.stats;
        if (!stats) return;
        // HNSW may return fewer than k while upserts leave dead index entries; Quarry then re-runs the query exactly.
        const answered =
          stats.strategy === 'hnsw'
            ? stats.efSearch === Math.max(efSearch, K)
            : /re-ran as exact/.test(stats.strategyReason ?? '');
        if (call.data?.results.length !== K || !answered) {
          counts.failed += 1;
          if (failures.length < 20)
            failures.push(
              `search (all tenants): ${call.data?.results.length} results, ${stats.strategy} (${stats.strategyReason}), efSearch ${stats.efSearch} for ${efSearch}`,
            );
        }
      },
      // A filter matching every document (more than exactSearchMaxRows): HNSW with iterative scan.
      async () => {
        const call = await callApi<Search>(
          server.url,
          'search.query',
          {
            collection: 'pool',
            vector: randomUnitVector(DIMENSIONS),
            k: K,
            filter: { key: 'kind', op: 'eq', value: 'passage' },
          },
          adminKey,
        );
        note('search (filtered)', call);
        countStrategy(call.data);
      },
      // Writes: upserts by external id under a tenant key, so each tenant keeps its document count.
      async () => {
        const tenant = pick(TENANTS);
        const documents = Array.from({ length: 5 }, () =>
          document(tenant, Math.floor(Math.random() * DOCUMENTS_PER_TENANT), revision++),
        );
        const unique = [...new Map(documents.map((doc) => [doc.externalId, doc])).values()];
        note(
          'ingest (tenant key)',
          await callApi(
            server.url,
            'documents.ingest',
            { collection: 'pool', documents: unique },
            tenantKey(tenant),
          ),
        );
      },
      // The tenant's count never includes another tenant's documents.
      async () => {
        const tenant = pick(TENANTS);
        const call = await callApi<RouterOutputs['documents']['count']>(
          server.url,
          'documents.count',
          { collection: 'pool' },
          tenantKey(tenant),
        );
        note('count (tenant key)', call);
        if (call.data !== undefined) {
          counts.tenantScoped += 1;
          if (call.data.count !== DOCUMENTS_PER_TENANT) {
            counts.tenantLeaks += 1;
            if (leaks.length < 20)
              leaks.push(
                `count for ${tenant}: ${call.data.count}, expected ${DOCUMENTS_PER_TENANT}`,
              );
          }
        }
      },
    ];

    const probe = postgres(pooledUrl, { max: PROBES, prepare: false, onnotice: () => {} });
    const runProbe = async () => {
      try {
        const seen = await readSettings(probe);
        counts.probes += 1;
        probedBackends.add(seen.pid);
        return differences(seen.settings, defaults);
      } catch (error) {
        counts.probes += 1;
        return [`probe failed: ${(error as Error).message}`];
      }
    };
    let detectedAfter = 0;
    try {
      await Promise.all([
        runClients(CLIENTS, SECONDS * 1000, () => pick(kinds)()),
        runClients(PROBES, SECONDS * 1000, async () => {
          const differing = await runProbe();
          if (differing.length > 0) {
            counts.settingLeaks += 1;
            if (leaks.length < 20) leaks.push(`probe saw ${differing.join(', ')}`);
          }
        }),
      ]);
      // The detector itself: a session-level SET through PgBouncer (what a pooled client must never
      // do) stays on its server connection, and the probes must notice it.
      const careless = postgres(pooledUrl, { max: 1, prepare: false, onnotice: () => {} });
      await careless`set hnsw.ef_search = 997`;
      await careless.end();
      for (let attempt = 1; attempt <= 2_000 && detectedAfter === 0; attempt += 1) {
        if ((await runProbe()).some((difference) => difference.startsWith('hnsw.ef_search=997')))
          detectedAfter = attempt;
      }
    } finally {
      await probe.end();
    }

    const preparedErrors =
      server.logs.filter((record) => /prepared statement/i.test(JSON.stringify(record))).length +
      failures.filter((failure) => /prepared statement/i.test(failure)).length;
    const latencies = [...byKind.entries()].map(
      ([kind, values]) =>
        `${kind}: ${values.length}, p50 ${ms(percentile(values, 50))}, p99 ${ms(percentile(values, 99))}`,
    );
    recordTrial({
      suite: 'Pooler',
      scenario: `${CLIENTS} clients × ${SECONDS} s through PgBouncer (transaction mode), server with DATABASE_POOLED=true`,
      attempts: counts.requests,
      survived: counts.requests - counts.failed,
      metrics: {
        requests: counts.requests,
        'requests/s': (counts.requests / SECONDS).toFixed(0),
        failed: counts.failed,
        'prepared-statement errors': preparedErrors,
        strategies: [...strategies.entries()].map(([strategy, n]) => `${strategy} ${n}`).join(', '),
      },
      notes: [
        'mix: searches by tenant key, hybrid naming a tenant, unrestricted HNSW, filtered (iterative HNSW); upserts; counts',
        ...latencies,
        ...failures.slice(0, 5),
      ],
    });
    recordTrial({
      suite: 'Pooler',
      scenario: 'Tenant isolation under pooling',
      attempts: counts.tenantScoped,
      survived: counts.tenantScoped - counts.tenantLeaks,
      metrics: { 'tenant-scoped requests': counts.tenantScoped, leaks: counts.tenantLeaks },
      notes: [
        'each search holds only its tenant’s documents (by tenant field and by content), each tenant-key count is exactly its own',
        ...leaks.filter((leak) => !leak.startsWith('probe')).slice(0, 5),
      ],
    });
    recordTrial({
      suite: 'Pooler',
      scenario: 'No request setting leaks to other connections of the pool',
      attempts: counts.probes,
      survived: counts.probes - counts.settingLeaks,
      metrics: {
        probes: counts.probes,
        leaks: counts.settingLeaks,
        'server connections probed': probedBackends.size,
        defaults: PROBED_SETTINGS.map((name) => `${name}=${defaults[name]}`).join(', '),
      },
      notes: [
        `raw postgres.js connections to the same database through the same PgBouncer, interleaved with Quarry’s traffic, read ${PROBED_SETTINGS.join(', ')}; Quarry runs with STATEMENT_TIMEOUT_MS=${STATEMENT_TIMEOUT_MS}, efSearch 10–310 per request, relaxed_order iterative scans and seqscans off for HNSW queries, all by SET LOCAL`,
        ...leaks.filter((leak) => leak.startsWith('probe')).slice(0, 5),
      ],
    });

    recordTrial({
      suite: 'Pooler',
      scenario:
        'Detector check: a session-level SET hnsw.ef_search made through PgBouncer afterwards is seen by the probes',
      attempts: 1,
      survived: detectedAfter > 0 ? 1 : 0,
      metrics: { 'probes until seen': detectedAfter || 'never (2,000 probes)' },
      notes: [
        'the probes reach the server connections Quarry uses, so "no leak" above is an observation, not a blind spot',
      ],
    });

    expect(failures).toEqual([]);
    expect(counts.failed).toBe(0);
    expect(preparedErrors).toBe(0);
    expect(leaks).toEqual([]);
    expect(counts.tenantScoped).toBeGreaterThan(0);
    expect(counts.probes).toBeGreaterThan(0);
    // Every strategy, and so every SET LOCAL, was exercised.
    expect([...strategies.keys()]).toEqual(
      expect.arrayContaining(['exact', 'hnsw', 'hnsw_iterative']),
    );
    expect(
      detectedAfter,
      'a deliberately leaked session setting must be visible to the probes',
    ).toBeGreaterThan(0);
  });

  it(`for ${CONTENTION_SECONDS} s: ${CONTENTION_CLIENTS} writers upserting the same ${CONTENDED_KEYS} keys in random orders all succeed`, async () => {
    let requests = 0;
    let revision = 0;
    const failures: string[] = [];
    const latencies: number[] = [];
    await runClients(CONTENTION_CLIENTS, CONTENTION_SECONDS * 1000, async () => {
      const keys = Array.from({ length: CONTENDED_KEYS }, (_, key) => key)
        .sort(() => Math.random() - 0.5)
        .slice(0, 10);
      const documents = keys.map((key) => ({
        externalId: `contended-${key}`,
        content: `contended ${key} revision ${revision++}`,
        embedding: randomUnitVector(DIMENSIONS),
      }));
      const call = await callApi(
        server.url,
        'documents.ingest',
        { collection: 'pool', tenant: 'contended', documents },
        adminKey,
      );
      requests += 1;
      latencies.push(call.ms);
      if (call.error !== undefined) failures.push(call.error);
    });
    const counted = await callApi<RouterOutputs['documents']['count']>(
      server.url,
      'documents.count',
      { collection: 'pool', tenant: 'contended' },
      adminKey,
    );
    recordTrial({
      suite: 'Pooler',
      scenario: `${CONTENTION_CLIENTS} writers × ${CONTENTION_SECONDS} s upserting batches of 10 of the same ${CONTENDED_KEYS} external ids in random orders`,
      attempts: requests,
      survived: requests - failures.length,
      metrics: {
        requests,
        failed: failures.length,
        p50: ms(percentile(latencies, 50)),
        p99: ms(percentile(latencies, 99)),
        'documents at end': counted.data?.count ?? String(counted.error),
      },
      notes: [
        'before rows were written in key order, two such batches deadlocked and one got a 500 (fixed in packages/api ingest; regression test in packages/api/test/bulk-ingest.test.ts)',
        ...[...new Set(failures)].slice(0, 3),
      ],
    });
    expect(failures).toEqual([]);
    expect(counted.data?.count).toBe(CONTENDED_KEYS);
  });
});
