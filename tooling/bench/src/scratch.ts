import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { createDb, migrate, type Database } from '@quarry/db';

/**
 * Scratch databases on the benchmark's server, each dropped at the end. Index builds get room:
 * `maintenance_work_mem` is raised on the scratch database itself (never server-wide), so the HNSW
 * graph is built in memory rather than spilling.
 */
export const INDEX_BUILD_MEMORY = '2GB';

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export interface ScratchServer {
  admin: postgres.Sql;
  create(label: string): Promise<ScratchDatabase>;
  /** Drops every scratch database still open. */
  dropAll(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export function scratchServer(adminUrl: string): ScratchServer {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  const open = new Set<string>();
  const prefix = `quarry_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
  return {
    admin,
    async create(label) {
      const name = `${prefix}_${label}`;
      if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad scratch database name ${name}`);
      await admin.unsafe(`create database "${name}"`);
      open.add(name);
      await admin.unsafe(
        `alter database "${name}" set maintenance_work_mem = '${INDEX_BUILD_MEMORY}'`,
      );
      return {
        name,
        url: withDatabase(adminUrl, name),
        async drop() {
          await admin.unsafe(`drop database if exists "${name}" with (force)`);
          open.delete(name);
        },
      };
    },
    async dropAll() {
      for (const name of [...open]) {
        await admin.unsafe(`drop database if exists "${name}" with (force)`).catch(() => undefined);
        open.delete(name);
      }
      await admin.end({ timeout: 5 });
    },
  };
}

/** A migrated Quarry database on a scratch database. */
export async function quarryDatabase(scratch: ScratchDatabase): Promise<Database> {
  const database = await createDb({
    driver: 'postgres',
    url: scratch.url,
    applicationName: 'quarry-bench',
  });
  await migrate(database);
  return database;
}
