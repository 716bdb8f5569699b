import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type { SQL } from 'drizzle-orm';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { pgliteWriteSession, postgresWriteSession } from './bulk-write';
import type { WriteSession } from './write-session';
import { createAcquireGate, gatePool, pipelineBegin } from './pool';
import * as schema from './schema';

export type Schema = typeof schema;
/** The typed Drizzle database, whichever driver is underneath. */
export type QuarryDatabase = PgDatabase<PgQueryResultHKT, Schema>;
/** Anything that runs SQL: the database or a transaction of it. */
export type SqlExecutor = Pick<QuarryDatabase, 'execute'>;

export type DbConfig =
  | {
      driver: 'embedded';
      /** Directory for the data; omitted, the database lives in memory. */
      dataDir?: string;
      /** Load pgvector into PGlite (default true). Off only to exercise the missing-extension path. */
      withVectorExtension?: boolean;
    }
  | {
      driver: 'postgres';
      url: string;
      /**
       * Behind PgBouncer in transaction mode or a serverless pooler: prepared statements are
       * connection-bound there and fail with "prepared statement already exists", so they are off.
       */
      pooled?: boolean;
      /** Connections in this process's pool (default 10). */
      maxConnections?: number;
      idleTimeoutSeconds?: number;
      connectTimeoutSeconds?: number;
      /**
       * How long a caller waits for a free connection before DATABASE_BUSY (default 10,000 ms;
       * 0: no limit). postgres.js alone would queue it forever.
       */
      acquireTimeoutMs?: number;
      applicationName?: string;
      /**
       * `maintenance_work_mem` for HNSW index builds (default `'512MB'`; `false`: the server's own).
       * pgvector builds far faster while the graph fits in it. It is raised, never lowered, on one
       * reserved connection for the build and reset afterwards. Not when `pooled`: behind a
       * transaction pooler a session setting may land on another server connection than the build.
       */
      indexBuildMemory?: string | false;
      /** Each NOTICE the server sends, e.g. pgvector's "hnsw graph no longer fits into maintenance_work_mem". */
      onNotice?: (notice: { severity?: string; message?: string }) => void;
    };

const dialect = new PgDialect();

/** See `indexBuildMemory`: eight times PostgreSQL's default, about 80,000 vectors of 1,536 dimensions. */
export const DEFAULT_INDEX_BUILD_MEMORY = '512MB';

export interface Database {
  db: QuarryDatabase;
  driver: DbConfig['driver'];
  pooled: boolean;
  /** Runs an index build on its own connection (see `indexBuildMemory`); absent, builds use `db`. */
  forIndexBuild?<T>(work: (db: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Runs `work` as one transaction on one connection of the driver itself, with binary COPY and
   * savepoints (see WriteSession): the bulk write path, which drizzle's transactions cannot offer.
   */
  writeSession<T>(work: (session: WriteSession) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function createDb(config: DbConfig = { driver: 'embedded' }): Promise<Database> {
  if (config.driver === 'embedded') {
    const withVector = config.withVectorExtension ?? true;
    const client = await PGlite.create({
      ...(config.dataDir ? { dataDir: config.dataDir } : {}),
      ...(withVector ? { extensions: { vector } } : {}),
    });
    const db: QuarryDatabase = drizzlePglite(client, { schema });
    return {
      db,
      driver: 'embedded',
      pooled: false,
      writeSession: pgliteWriteSession(client),
      close: () => client.close(),
    };
  }
  const pooled = config.pooled ?? false;
  const max = config.maxConnections ?? 10;
  const client = postgres(config.url, {
    prepare: !pooled,
    max,
    idle_timeout: config.idleTimeoutSeconds ?? 30,
    connect_timeout: config.connectTimeoutSeconds ?? 10,
    backoff: reconnectBackoffSeconds,
    onnotice: config.onNotice ?? (() => {}),
    connection: { application_name: config.applicationName ?? 'quarry' },
  });
  const gated = gatePool(client, createAcquireGate(max, config.acquireTimeoutMs ?? 10_000));
  // Drizzle's transactions send BEGIN with their first statements (see pipelineBegin).
  const db: QuarryDatabase = drizzlePostgres(pipelineBegin(gated), { schema });
  readOnlyDatabases.set(db, drizzlePostgres(pipelineBegin(gated, { readOnly: true }), { schema }));
  const memory = pooled ? false : (config.indexBuildMemory ?? DEFAULT_INDEX_BUILD_MEMORY);
  const forIndexBuild = async <T>(work: (db: SqlExecutor) => Promise<T>): Promise<T> => {
    if (memory === false) return work(db);
    const reserved = await gated.reserve();
    try {
      await reserved`select set_config('maintenance_work_mem', ${memory}, false)
        where pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes(${memory})`;
      // Drizzle cannot wrap a reserved connection (it has no `options`), so statements go to it as its own dialect writes them.
      const execute = (query: SQL) => {
        const { sql: text, params } = dialect.sqlToQuery(query);
        return reserved.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
      };
      return await work({ execute } as unknown as SqlExecutor);
    } finally {
      // A connection that cannot even RESET is broken, and postgres.js replaces it.
      await reserved`reset maintenance_work_mem`.catch(() => undefined);
      reserved.release();
    }
  };
  return {
    db,
    driver: 'postgres',
    pooled,
    forIndexBuild,
    writeSession: postgresWriteSession(gated),
    close: () => client.end({ timeout: 5 }),
  };
}

/** For each PostgreSQL database, the same pool whose transactions are read-only (see readTransaction). */
const readOnlyDatabases = new WeakMap<QuarryDatabase, QuarryDatabase>();

/**
 * `db.transaction(work)`, read-only: on PostgreSQL BEGIN READ ONLY, sent with the work's first
 * statements (see @quarry/db's pipelineBegin); on PGlite an ordinary transaction.
 */
export function readTransaction<T>(
  db: QuarryDatabase,
  work: (tx: Parameters<Parameters<QuarryDatabase['transaction']>[0]>[0]) => Promise<T>,
): Promise<T> {
  return (readOnlyDatabases.get(db) ?? db).transaction(work);
}

/**
 * Seconds before a connection retries after a failed attempt. postgres.js's default grows to 20 s
 * while the database is down, and requests queued behind the attempt wait that long before they
 * fail; capped at half a second, they fail fast (DATABASE_UNAVAILABLE) and service resumes within
 * a moment of the database coming back.
 */
function reconnectBackoffSeconds(retries: number): number {
  return Math.min(0.05 * 2 ** retries, 0.5);
}

/** Rows of a raw statement: postgres.js returns an array, PGlite an object with `rows`. */
export async function queryRows<Row>(executor: SqlExecutor, query: SQL): Promise<Row[]> {
  const result: unknown = await executor.execute(query);
  if (Array.isArray(result)) return result as Row[];
  return (result as { rows: Row[] }).rows;
}
