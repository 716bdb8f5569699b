import { randomBytes } from 'node:crypto';
import {
  collections,
  createDb,
  DEFAULT_INDEX_BUILD_MEMORY,
  migrationState,
  queryRows,
  sql,
  vectorIndexDrift,
  vectorIndexStatus,
  type Database,
} from '@quarry/db';
import {
  documentsTableHealth,
  serverVersion as serverVersionOf,
  vectorExtension,
} from '@quarry/db/health';
import { clusterLayout } from '@quarry/db/cluster';
import { partitioningInProgress } from '@quarry/db/partition';
import type { DatabaseSettings } from '../env';
import { replicaHealthFindings } from './replica-health';
import { formatBytes } from './table';

export type Verdict = 'ok' | 'warn' | 'fail';
export interface Finding {
  verdict: Verdict;
  check: string;
  detail: string;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const difference = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

async function serverVersion(database: Database, settings: DatabaseSettings): Promise<Finding> {
  const { num } = await serverVersionOf(database.db);
  const release = `${Math.floor(num / 10_000)}.${num % 10_000}`;
  const engine =
    settings.driver === 'embedded'
      ? `embedded PGlite (PostgreSQL ${release}) in ${settings.dataDir}`
      : `PostgreSQL ${release}`;
  if (num < 130_000)
    return {
      verdict: 'fail',
      check: 'server',
      detail: `${engine}: pgvector 0.8 needs PostgreSQL 13 or later; upgrade the server`,
    };
  return { verdict: 'ok', check: 'server', detail: engine };
}

async function extension(database: Database): Promise<Finding> {
  const { installed: version, available } = await vectorExtension(database.db);
  if (!version) {
    return available !== null
      ? {
          verdict: 'fail',
          check: 'pgvector',
          detail: `not installed in this database (${available} is available); run \`quarry migrate\``,
        }
      : {
          verdict: 'fail',
          check: 'pgvector',
          detail:
            'not available on this server; install pgvector (e.g. the postgresql-NN-pgvector package) and run `quarry migrate`',
        };
  }
  if (compareVersions(version, '0.8.0') < 0) {
    return {
      verdict: 'warn',
      check: 'pgvector',
      detail: `${version}: iterative index scans need 0.8.0, so filtered searches fall back to exact scans more often; ALTER EXTENSION vector UPDATE after upgrading the package`,
    };
  }
  if (available && compareVersions(available, version) > 0) {
    return {
      verdict: 'warn',
      check: 'pgvector',
      detail: `${version} installed, ${available} available: run ALTER EXTENSION vector UPDATE`,
    };
  }
  return { verdict: 'ok', check: 'pgvector', detail: version };
}

async function migrations(database: Database): Promise<Finding> {
  const state = await migrationState(database);
  return state.applied >= state.committed
    ? {
        verdict: 'ok',
        check: 'migrations',
        detail: `${state.applied} of ${state.committed} applied`,
      }
    : {
        verdict: 'fail',
        check: 'migrations',
        detail: `${state.applied} of ${state.committed} applied; run \`quarry migrate\``,
      };
}

async function indexes(database: Database, settings: DatabaseSettings): Promise<Finding[]> {
  const findings: Finding[] = [];
  const all = await database.db.select().from(collections).orderBy(collections.name);
  if (all.length === 0) return [{ verdict: 'ok', check: 'indexes', detail: 'no collections yet' }];
  let totalBytes = 0;
  let largestBytes = 0;
  for (const collection of all) {
    const check = `index ${collection.name}`;
    const statuses = await vectorIndexStatus(database.db, collection.id);
    const valid = statuses.find((status) => status.valid);
    const building = statuses.find((status) => status.building);
    totalBytes += statuses.reduce((sum, status) => sum + status.sizeBytes, 0);
    largestBytes = Math.max(largestBytes, ...statuses.map((status) => status.sizeBytes));
    if (valid) {
      findings.push({
        verdict: 'ok',
        check,
        detail: `${valid.name} valid, ${formatBytes(valid.sizeBytes)} (HNSW m=${collection.hnswM}, ef_construction=${collection.hnswEfConstruction})`,
      });
    } else if (building) {
      findings.push({
        verdict: 'warn',
        check,
        detail: `${building.name} is still being built; searches scan the table until it is done`,
      });
    } else if (statuses.length > 0) {
      findings.push({
        verdict: 'fail',
        check,
        detail: `${statuses.map((s) => s.name).join(', ')} invalid (an interrupted CREATE INDEX CONCURRENTLY?); run \`quarry migrate\`, which rebuilds it`,
      });
    } else {
      findings.push({
        verdict: 'fail',
        check,
        detail:
          'no HNSW index: every search is a sequential scan; run `quarry migrate`, which builds missing indexes',
      });
    }
  }
  const [buffers] = await queryRows<{ bytes: string | number }>(
    database.db,
    sql`select pg_size_bytes(current_setting('shared_buffers')) as bytes`,
  ).catch(() => []);
  const sharedBuffers = Number(buffers?.bytes ?? 0);
  if (sharedBuffers > 0 && totalBytes > sharedBuffers) {
    findings.push({
      verdict: 'warn',
      check: 'index memory',
      detail: `HNSW indexes total ${formatBytes(totalBytes)}, more than shared_buffers (${formatBytes(sharedBuffers)}): searches will read from disk; raise shared_buffers or use halfvec/fewer dimensions`,
    });
  } else if (sharedBuffers > 0) {
    findings.push({
      verdict: 'ok',
      check: 'index memory',
      detail: `HNSW indexes total ${formatBytes(totalBytes)}, within shared_buffers (${formatBytes(sharedBuffers)})`,
    });
  }
  findings.push(await indexBuildMemory(database, settings, largestBytes));
  return findings;
}

/**
 * An HNSW build is many times faster while its graph fits in maintenance_work_mem (pgvector says
 * "hnsw graph no longer fits into maintenance_work_mem" when it stops fitting). Quarry raises it for
 * its own builds on a direct connection (DATABASE_INDEX_BUILD_MEMORY); through a pooler the
 * server's setting applies.
 */
async function indexBuildMemory(
  database: Database,
  settings: DatabaseSettings,
  largestIndexBytes: number,
): Promise<Finding> {
  const raised =
    settings.driver === 'postgres' && !settings.pooled && settings.indexBuildMemory !== false
      ? (settings.indexBuildMemory ?? DEFAULT_INDEX_BUILD_MEMORY)
      : '0';
  const [row] = await queryRows<{ server: string | number; raised: string | number }>(
    database.db,
    sql`select pg_size_bytes(current_setting('maintenance_work_mem')) as server, pg_size_bytes(${raised}) as raised`,
  );
  const buildBytes = Math.max(Number(row?.server ?? 0), Number(row?.raised ?? 0));
  const detail = `largest HNSW index ${formatBytes(largestIndexBytes)}, builds get ${formatBytes(buildBytes)} of maintenance_work_mem`;
  if (largestIndexBytes <= buildBytes)
    return { verdict: 'ok', check: 'index build memory', detail };
  const advice =
    settings.driver === 'postgres' && settings.pooled
      ? 'ALTER ROLE <the role> SET maintenance_work_mem'
      : 'DATABASE_INDEX_BUILD_MEMORY';
  return {
    verdict: 'warn',
    check: 'index build memory',
    detail: `${detail}: a rebuild (updateIndex, migrate after an interrupted build) will spill and run far slower; raise it with ${advice} if the database server has the RAM`,
  };
}

/**
 * HNSW indexes that do not match the collections (vectorIndexDrift): left by a delete or an
 * updateIndex that raced another change before those were serialised, or made by hand. The
 * reconcile in `quarry migrate` (which the server runs at start) fixes both.
 */
async function indexDrift(database: Database): Promise<Finding[]> {
  const drift = await vectorIndexDrift(database.db);
  const findings: Finding[] = drift.orphaned.map((orphan) => ({
    verdict: 'warn',
    check: 'orphaned index',
    detail: `${orphan.name} belongs to collection ${orphan.collectionId}, which no longer exists: it takes space and slows every write to documents; run \`quarry migrate\`, which drops it`,
  }));
  for (const mismatch of drift.mismatched) {
    const live = mismatch.live
      .map((index) => `${index.name} (m=${index.m}, ef_construction=${index.efConstruction})`)
      .join(', ');
    findings.push({
      verdict: 'warn',
      check: `index ${mismatch.collection}`,
      detail: `records m=${mismatch.recorded.m}, ef_construction=${mismatch.recorded.efConstruction}, but its indexes are ${live}; unless an updateIndex is running, run \`quarry migrate\`, which rebuilds it`,
    });
  }
  if (findings.length === 0)
    findings.push({
      verdict: 'ok',
      check: 'index drift',
      detail: 'every HNSW index belongs to a collection and has its recorded parameters',
    });
  return findings;
}

async function deadTuples(database: Database): Promise<Finding> {
  const {
    liveTuples: live,
    deadTuples: dead,
    lastVacuum,
  } = await documentsTableHealth(database.db);
  const ratio = live + dead > 0 ? dead / (live + dead) : 0;
  const vacuumed = lastVacuum ? `last vacuum ${lastVacuum}` : 'never vacuumed';
  const detail = `documents: ${live.toLocaleString('en-US')} live, ${dead.toLocaleString('en-US')} dead (${(ratio * 100).toFixed(1)}%), ${vacuumed}`;
  if (dead > 1_000 && ratio > 0.2) {
    return {
      verdict: 'warn',
      check: 'dead tuples',
      detail: `${detail}; dead rows slow HNSW scans: run VACUUM (ANALYZE) documents or tune autovacuum`,
    };
  }
  return { verdict: 'ok', check: 'dead tuples', detail };
}

/**
 * Whether a transaction-mode pooler (PgBouncer, a serverless pooler) sits in front: a session
 * setting made on one client connection either vanishes from it or shows up on another client's
 * connection while the first is busy, because the pooler hands server connections around.
 */
async function detectTransactionPooler(url: string): Promise<boolean> {
  const first = await createDb({
    driver: 'postgres',
    url,
    pooled: true,
    maxConnections: 1,
    applicationName: 'quarry-doctor',
  });
  const second = await createDb({
    driver: 'postgres',
    url,
    pooled: true,
    maxConnections: 1,
    applicationName: 'quarry-doctor',
  });
  try {
    const token = randomBytes(8).toString('hex');
    await first.db.execute(sql`select set_config('quarry.doctor_probe', ${token}, false)`);
    let sawForeign = false;
    let keptOwn = true;
    await second.db.transaction(async (tx) => {
      const [other] = await queryRows<{ probe: string | null }>(
        tx,
        sql`select current_setting('quarry.doctor_probe', true) as probe`,
      );
      sawForeign = other?.probe === token;
      const [own] = await queryRows<{ probe: string | null }>(
        first.db,
        sql`select current_setting('quarry.doctor_probe', true) as probe`,
      );
      keptOwn = own?.probe === token;
    });
    return sawForeign || !keptOwn;
  } finally {
    await Promise.allSettled([first.close(), second.close()]);
  }
}

async function pooler(
  settings: Extract<DatabaseSettings, { driver: 'postgres' }>,
): Promise<Finding> {
  const detected = await detectTransactionPooler(settings.url);
  if (detected && !settings.pooled) {
    return {
      verdict: 'fail',
      check: 'pooler',
      detail:
        'a transaction-mode pooler is in front, but DATABASE_POOLED is not set: prepared statements will fail ("prepared statement already exists"); set DATABASE_POOLED=true',
    };
  }
  if (detected)
    return {
      verdict: 'ok',
      check: 'pooler',
      detail:
        'transaction-mode pooler detected; DATABASE_POOLED=true (prepared statements off, settings per transaction)',
    };
  if (settings.pooled) {
    return {
      verdict: 'warn',
      check: 'pooler',
      detail:
        'DATABASE_POOLED=true but connections keep their session: no transaction pooler detected; prepared statements are off needlessly',
    };
  }
  return {
    verdict: 'ok',
    check: 'pooler',
    detail: 'direct connections (or a session-mode pooler)',
  };
}

async function replicaLag(
  primary: Database,
  replicas: readonly Database[],
  urls: readonly string[],
): Promise<Finding[]> {
  if (replicas.length === 0)
    return [
      { verdict: 'ok', check: 'replicas', detail: 'none configured: the primary serves searches' },
    ];
  const [primaryRow] = await queryRows<{ lsn: string }>(
    primary.db,
    sql`select pg_current_wal_lsn()::text as lsn`,
  );
  const findings: Finding[] = [];
  for (const [index, replica] of replicas.entries()) {
    const check = `replica ${new URL(urls[index] ?? '').host}`;
    try {
      const [row] = await queryRows<{
        recovering: boolean;
        behind_bytes: string | number | null;
        replay_age: string | number | null;
      }>(
        replica.db,
        sql`select pg_is_in_recovery() as recovering,
                   pg_wal_lsn_diff(${primaryRow?.lsn ?? '0/0'}::pg_lsn, pg_last_wal_replay_lsn()) as behind_bytes,
                   extract(epoch from now() - pg_last_xact_replay_timestamp()) as replay_age`,
      );
      if (!row?.recovering) {
        findings.push({
          verdict: 'fail',
          check,
          detail:
            'is not a replica (not in recovery): it would serve searches from a diverging database; check DATABASE_REPLICA_URLS',
        });
        continue;
      }
      const behind = Math.max(0, Number(row.behind_bytes ?? 0));
      const age = row.replay_age === null ? null : Number(row.replay_age);
      if (behind === 0) {
        findings.push({
          verdict: 'ok',
          check,
          detail: 'caught up with the primary (0 bytes behind)',
        });
      } else {
        const seconds =
          age === null ? 'unknown' : `${age.toFixed(1)} s since the last replayed transaction`;
        findings.push({
          verdict: behind > 64 * 1024 * 1024 || (age !== null && age > 60) ? 'warn' : 'ok',
          check,
          detail: `${formatBytes(behind)} behind the primary, ${seconds}; searches right after an ingest may miss it (use the client's readYourWrites)`,
        });
      }
    } catch (error) {
      findings.push({ verdict: 'fail', check, detail: `unreachable: ${message(error)}` });
    }
  }
  return findings;
}

/** On Citus: the nodes and how the shards of documents are spread over them. */
async function cluster(database: Database): Promise<Finding[]> {
  const layout = await clusterLayout(database.db);
  if (!layout.distributed) return [];
  const workers = layout.nodes.filter((node) => node.role === 'worker');
  const nodes = workers.map(
    (node) =>
      `${node.name}:${node.port} ${node.active ? '' : '(inactive) '}${node.shards} shards, ${formatBytes(node.bytes)}`,
  );
  const detail = `Citus ${layout.citusVersion}: documents in ${layout.shardCount} shards by ${layout.distributionColumn ?? '(not distributed)'} over ${workers.length} workers (${nodes.join('; ')})`;
  const idle = workers.filter((node) => !node.active || node.shards === 0);
  if (layout.distributionColumn === null)
    return [
      {
        verdict: 'warn',
        check: 'cluster',
        detail: `${detail}; documents is not distributed: run \`quarry migrate\``,
      },
    ];
  if (idle.length > 0)
    return [
      {
        verdict: 'warn',
        check: 'cluster',
        detail: `${detail}; ${idle.map((node) => `${node.name}:${node.port}`).join(', ')} ${idle.length === 1 ? 'holds' : 'hold'} no shards or ${idle.length === 1 ? 'is' : 'are'} inactive: see citus_rebalance_start()`,
      },
    ];
  return [{ verdict: 'ok', check: 'cluster', detail }];
}

/** A `quarry partition` run that stopped before its end keeps a mirror trigger on documents. */
async function unfinishedPartitioning(database: Database): Promise<Finding[]> {
  const progress = await partitioningInProgress(database.db);
  if (!progress) return [];
  return [
    {
      verdict: 'warn',
      check: 'partitioning',
      detail: `a \`quarry partition --by ${progress.key}\` run stopped at step ${progress.step} (${progress.copied.toLocaleString('en-US')} rows copied), and every write to documents is still mirrored: run the same command again to finish it, or \`quarry partition --abort\``,
    },
  ];
}

/** Every check of the database, each turned into a finding even when it throws. */
export async function diagnoseDatabase(
  settings: DatabaseSettings,
  database: Database,
  replicas: readonly Database[],
): Promise<Finding[]> {
  const guarded = async (
    check: string,
    run: () => Promise<Finding | Finding[]>,
  ): Promise<Finding[]> => {
    try {
      const result = await run();
      return Array.isArray(result) ? result : [result];
    } catch (error) {
      return [{ verdict: 'fail', check, detail: message(error) }];
    }
  };
  const connected = await guarded('connection', () => serverVersion(database, settings));
  if (connected.some((finding) => finding.verdict === 'fail' && finding.check === 'connection'))
    return connected;
  const findings = [
    ...connected,
    ...(await guarded('pgvector', () => extension(database))),
    ...(await guarded('migrations', () => migrations(database))),
  ];
  if (findings.some((finding) => finding.check === 'migrations' && finding.verdict === 'ok')) {
    findings.push(
      ...(await guarded('indexes', () => indexes(database, settings))),
      ...(await guarded('index drift', () => indexDrift(database))),
      ...(await guarded('dead tuples', () => deadTuples(database))),
    );
  }
  if (settings.driver === 'postgres') {
    findings.push(
      ...(await guarded('cluster', () => cluster(database))),
      ...(await guarded('partitioning', () => unfinishedPartitioning(database))),
      ...(await guarded('pooler', () => pooler(settings))),
      ...(await guarded('replicas', () => replicaLag(database, replicas, settings.replicaUrls))),
    );
  }
  return findings;
}

/** A running server's view of itself: /healthz, /readyz, and whether the key is accepted. */
export async function diagnoseServer(
  url: string,
  apiKey: string | undefined,
  fetchImpl: typeof fetch = fetch,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  try {
    const health = await fetchImpl(new URL('/healthz', url));
    findings.push(
      health.ok
        ? { verdict: 'ok', check: 'server', detail: `${url} is up` }
        : { verdict: 'fail', check: 'server', detail: `/healthz answered ${health.status}` },
    );
  } catch (error) {
    return [
      { verdict: 'fail', check: 'server', detail: `${url} is unreachable: ${message(error)}` },
    ];
  }
  const ready = await fetchImpl(new URL('/readyz', url));
  const body = (await ready.json().catch(() => ({}))) as {
    checks?: Record<string, { ok: boolean; detail: string }>;
  } & Parameters<typeof replicaHealthFindings>[0];
  for (const [name, check] of Object.entries(body.checks ?? {})) {
    findings.push({ verdict: check.ok ? 'ok' : 'fail', check: name, detail: check.detail });
  }
  findings.push(...replicaHealthFindings(body));
  const headers: Record<string, string> = apiKey ? { authorization: `Bearer ${apiKey}` } : {};
  const probe = await fetchImpl(new URL('/trpc/collections.list', url), { headers });
  if (probe.status === 401)
    findings.push({
      verdict: 'fail',
      check: 'api key',
      detail: apiKey
        ? 'the server rejected the key (401)'
        : 'the server needs an API key: pass --api-key or set QUARRY_API_KEY',
    });
  else if (probe.status === 403)
    findings.push({
      verdict: 'warn',
      check: 'api key',
      detail: 'accepted, but without the read scope',
    });
  else if (probe.ok)
    findings.push({
      verdict: 'ok',
      check: 'api key',
      detail: apiKey ? 'accepted' : 'none needed (the server has open access)',
    });
  else
    findings.push({
      verdict: 'fail',
      check: 'api',
      detail: `collections.list answered ${probe.status}`,
    });
  return findings;
}

export function formatFindings(findings: readonly Finding[]): string {
  const width = Math.max(...findings.map((finding) => finding.check.length));
  return findings
    .map(
      (finding) =>
        `${finding.verdict.toUpperCase().padEnd(4)}  ${finding.check.padEnd(width)}  ${finding.detail}`,
    )
    .join('\n');
}
