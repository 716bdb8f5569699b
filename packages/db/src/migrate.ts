import { readMigrationFiles } from 'drizzle-orm/migrator';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { PgliteDatabase } from 'drizzle-orm/pglite';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { queryRows, type Database, type Schema } from './client';
import { QuarryError } from './errors';
import { ensureAllVectorIndexes } from './vector-index';

export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * Applies the committed migrations, then builds any collection index that is missing (for example
 * the one for a database adopted from the guide's schema).
 */
export async function migrate(database: Database): Promise<void> {
  const config = { migrationsFolder };
  try {
    if (database.driver === 'embedded') {
      await migratePglite(database.db as PgliteDatabase<Schema>, config);
    } else {
      await migratePostgres(database.db as PostgresJsDatabase<Schema>, config);
    }
  } catch (error) {
    throw explainMigrationError(error);
  }
  await ensureAllVectorIndexes(database);
}

function explainMigrationError(error: unknown): unknown {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (e.message.includes('needs the pgvector extension')) {
      const hint = (e as { hint?: unknown }).hint;
      return new QuarryError('EXTENSION_MISSING', typeof hint === 'string' ? `${e.message}. ${hint}` : e.message, { cause: error });
    }
  }
  return error;
}

/** The number of committed migrations and how many of them the database has applied. */
export async function migrationState(database: Database): Promise<{ committed: number; applied: number }> {
  const committed = readMigrationFiles({ migrationsFolder }).length;
  const applied = await queryRows<{ applied: number | string }>(
    database.db,
    sql`select count(*) as applied from drizzle.__drizzle_migrations`,
  ).then((rows) => Number(rows[0]?.applied ?? 0)).catch(() => 0);
  return { committed, applied };
}
