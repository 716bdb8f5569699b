import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import type { SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { createAcquireGate, gatePool } from './pool';
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
    };

export interface Database {
  db: QuarryDatabase;
  driver: DbConfig['driver'];
  pooled: boolean;
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
    return { db, driver: 'embedded', pooled: false, close: () => client.close() };
  }
  const pooled = config.pooled ?? false;
  const max = config.maxConnections ?? 10;
  const client = postgres(config.url, {
    prepare: !pooled,
    max,
    idle_timeout: config.idleTimeoutSeconds ?? 30,
    connect_timeout: config.connectTimeoutSeconds ?? 10,
    backoff: reconnectBackoffSeconds,
    onnotice: () => {},
    connection: { application_name: config.applicationName ?? 'quarry' },
  });
  const gated = gatePool(client, createAcquireGate(max, config.acquireTimeoutMs ?? 10_000));
  const db: QuarryDatabase = drizzlePostgres(gated, { schema });
  return { db, driver: 'postgres', pooled, close: () => client.end({ timeout: 5 }) };
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
