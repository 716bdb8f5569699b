import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { createServer, Socket, type Server } from 'node:net';
import { sql } from 'drizzle-orm';
import { describe } from 'vitest';
import { createDb, queryRows, type Database, type DbConfig } from './client';
import { migrate } from './migrate';

/**
 * The four places every database test runs: embedded PGlite always; the real PostgreSQL with
 * pgvector when QUARRY_TEST_DATABASE_URL is set; PgBouncer in transaction mode when
 * QUARRY_TEST_PGBOUNCER_URL is set; a Citus coordinator with two workers when QUARRY_TEST_CITUS_URL
 * is set (tooling/scripts/start-citus.sh). With QUARRY_TEST_REQUIRE_ALL=1 (CI) a missing URL is an
 * error, not a skip.
 */
export type TestTargetName = 'pglite' | 'postgres' | 'pgbouncer' | 'citus';

export interface TestTarget {
  name: TestTargetName;
  /** A fresh, empty database for this run; `migrated` applies Quarry's migrations first. */
  createDatabase(options?: { migrated?: boolean }): Promise<TestDatabase>;
}

export interface TestDatabase extends Database {
  config: DbConfig;
  /** Connection URL of the scratch database (servers only), for tools that connect on their own. */
  url?: string;
}

function requiredEnv(name: string): string | undefined {
  const value = process.env[name];
  if (!value && process.env.QUARRY_TEST_REQUIRE_ALL === '1') {
    throw new Error(
      `${name} is not set, and QUARRY_TEST_REQUIRE_ALL=1 forbids skipping that target`,
    );
  }
  return value || undefined;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates a uniquely named database on the server behind `adminUrl` and drops it on close. */
async function scratchDatabase(
  adminUrl: string,
  connectUrl: string,
  pooled: boolean,
  migrated: boolean,
  prepare: (name: string) => Promise<() => Promise<void>> = () =>
    Promise.resolve(() => Promise.resolve()),
): Promise<TestDatabase> {
  const name = `quarry_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const cleanUp = await prepare(name);
  const url = withDatabase(connectUrl, name);
  const config: DbConfig = { driver: 'postgres', url, pooled };
  const database = await createDb(config);
  if (migrated) await migrate(database);
  return {
    ...database,
    config,
    url,
    async close() {
      await database.close();
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
      await cleanUp();
    },
  };
}

export function testTargets(): TestTarget[] {
  const targets: TestTarget[] = [
    {
      name: 'pglite',
      async createDatabase({ migrated = true } = {}) {
        const config: DbConfig = { driver: 'embedded' };
        const database = await createDb(config);
        if (migrated) await migrate(database);
        return { ...database, config };
      },
    },
  ];
  const serverUrl = requiredEnv('QUARRY_TEST_DATABASE_URL');
  if (serverUrl) {
    targets.push({
      name: 'postgres',
      createDatabase: ({ migrated = true } = {}) =>
        scratchDatabase(serverUrl, serverUrl, false, migrated),
    });
  }
  const poolerUrl = requiredEnv('QUARRY_TEST_PGBOUNCER_URL');
  if (serverUrl && poolerUrl) {
    targets.push({
      name: 'pgbouncer',
      createDatabase: ({ migrated = true } = {}) =>
        scratchDatabase(serverUrl, poolerUrl, true, migrated),
    });
  }
  const citusUrl = requiredEnv('QUARRY_TEST_CITUS_URL');
  if (citusUrl) {
    targets.push({
      name: 'citus',
      createDatabase: ({ migrated = true } = {}) =>
        scratchDatabase(citusUrl, citusUrl, false, migrated, (name) =>
          joinCitusCluster(citusUrl, name),
        ),
    });
  }
  return targets;
}

/**
 * Citus keeps its cluster metadata per database: a scratch database on the coordinator gets the
 * same database on every worker (with citus and vector), and the workers registered in it, as the
 * coordinator's `postgres` database has them (start-citus.sh). Returns what drops the workers' copies.
 */
export async function joinCitusCluster(
  coordinatorUrl: string,
  name: string,
): Promise<() => Promise<void>> {
  const admin = postgres(coordinatorUrl, { max: 1, onnotice: () => {} });
  const workers = await admin<Array<{ host: string; port: number }>>`
    select node_name as host, node_port as port from citus_get_active_worker_nodes() order by node_port`;
  const coordinator = new URL(coordinatorUrl);
  await admin.end();
  const workerUrls = workers.map(({ host, port }) => {
    const url = new URL(coordinatorUrl);
    url.hostname = host;
    url.port = String(port);
    return url.toString();
  });
  for (const workerUrl of workerUrls) {
    const worker = postgres(workerUrl, { max: 1, onnotice: () => {} });
    await worker.unsafe(`create database "${name}"`);
    await worker.end();
    const scratch = postgres(withDatabase(workerUrl, name), { max: 1, onnotice: () => {} });
    await scratch.unsafe('create extension citus; create extension vector');
    await scratch.end();
  }
  const scratch = postgres(withDatabase(coordinatorUrl, name), { max: 1, onnotice: () => {} });
  await scratch.unsafe('create extension citus');
  // Tests read plans: every shard's task, not only the slowest one (which may be an empty shard).
  await scratch.unsafe(`alter database "${name}" set citus.explain_all_tasks = on`);
  await scratch`select citus_set_coordinator_host(${coordinator.hostname}, ${Number(coordinator.port || 5432)})`;
  for (const { host, port } of workers) await scratch`select citus_add_node(${host}, ${port})`;
  await scratch.end();
  return async () => {
    for (const workerUrl of workerUrls) {
      const worker = postgres(workerUrl, { max: 1, onnotice: () => {} });
      await worker.unsafe(`drop database if exists "${name}" with (force)`);
      await worker.end();
    }
  };
}

/** Only the real-server targets, for tests of server behaviour (EXPLAIN plans, concurrency). */
export function serverTestTargets(): TestTarget[] {
  return testTargets().filter((target) => target.name !== 'pglite');
}

const allTargetNames: readonly TestTargetName[] = ['pglite', 'postgres', 'pgbouncer', 'citus'];

/** What turns a target on, for the name of the suite that is skipped without it. */
const targetVariables: Record<TestTargetName, string> = {
  pglite: '',
  postgres: 'QUARRY_TEST_DATABASE_URL',
  pgbouncer: 'QUARRY_TEST_DATABASE_URL and QUARRY_TEST_PGBOUNCER_URL',
  citus: 'QUARRY_TEST_CITUS_URL',
};

/**
 * `describe.each` over the named targets (all four by default), with `$name` in the title. A
 * target that is not configured still gets its suite, skipped and titled with the variable that
 * would turn it on: the run reports it by name, and a file whose every target is absent is a
 * skipped suite, never "No test suite found".
 */
export function describeEachTarget(names: readonly TestTargetName[] = allTargetNames) {
  const available = new Map(testTargets().map((target) => [target.name, target]));
  return (title: string, body: (target: TestTarget) => void): void => {
    for (const name of names) {
      const named = title.replaceAll('$name', name);
      const target = available.get(name);
      if (target) {
        describe(named, () => body(target));
        continue;
      }
      const missing: TestTarget = {
        name,
        createDatabase: () => Promise.reject(new Error(`the ${name} target is not configured`)),
      };
      describe.skip(`${named} (skipped: set ${targetVariables[name]})`, () => body(missing));
    }
  };
}

/**
 * One row that changes whenever a collection, a document or an index on `documents` does: counts
 * and md5 digests over every row's identity, content, metadata and vector. Tests of refused
 * requests compare it before and after. Plain SQL, for drizzle (`sql.raw`) and postgres.js alike.
 */
export const fingerprintSql = `select
  (select count(*)::int from collections) as collections,
  (select md5(coalesce(string_agg(concat_ws('|', id, name, dimensions, metric, embedding_model, hnsw_m, hnsw_ef_construction), ',' order by id), '')) from collections) as collections_md5,
  (select count(*)::int from documents) as documents,
  (select md5(coalesce(string_agg(concat_ws('|', id, collection_id, tenant_id, external_id, content_hash, md5(content), metadata::text, embedding::text, updated_at), ',' order by id), '')) from documents) as documents_md5,
  (select coalesce(string_agg(indexname, ',' order by indexname), '') from pg_indexes where tablename = 'documents') as indexes`;

export interface Fingerprint {
  collections: number;
  collections_md5: string;
  documents: number;
  documents_md5: string;
  indexes: string;
}

export async function fingerprint(database: Pick<Database, 'db'>): Promise<Fingerprint> {
  const [row] = await queryRows<Fingerprint>(database.db, sql.raw(fingerprintSql));
  if (!row) throw new Error('the fingerprint query returned no row');
  return { ...row, collections: Number(row.collections), documents: Number(row.documents) };
}

/** A small deterministic generator (mulberry32): data sets and race schedules are the same on every run and target. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A TCP proxy to `upstream` that counts round trips: each time the client sends after the server
 * has answered, a new exchange begins. Messages the client sends together (a pipeline) count once.
 * `url` is `upstream` through the proxy.
 */
export async function roundTripCounter(upstream: string) {
  const target = new URL(upstream);
  let trips = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const socket = new Socket();
    socket.connect(Number(target.port || 5432), target.hostname);
    let serverSpoke = true;
    sockets.add(client).add(socket);
    client.on('data', (chunk) => {
      if (serverSpoke) trips++;
      serverSpoke = false;
      socket.write(chunk);
    });
    socket.on('data', (chunk) => {
      serverSpoke = true;
      client.write(chunk);
    });
    client.on('close', () => socket.destroy());
    socket.on('close', () => client.destroy());
    client.on('error', () => socket.destroy());
    socket.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = new URL(upstream);
  url.hostname = '127.0.0.1';
  url.port = String(typeof address === 'object' && address ? address.port : 0);
  return {
    url: url.toString(),
    /** Round trips since the last call. */
    take: () => {
      const counted = trips;
      trips = 0;
      return counted;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
