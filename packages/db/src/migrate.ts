import { readMigrationFiles } from 'drizzle-orm/migrator';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { distributeOnCitus } from './citus';
import { queryRows, type Database } from './client';
import { QuarryError } from './errors';
import { ensureAllVectorIndexes } from './vector-index';

export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

/**
 * Applies the committed migrations, distributes the tables on a Citus coordinator
 * (distributeOnCitus), then builds any collection index that is missing (for example the one for a
 * database adopted from the guide's schema).
 *
 * It does what drizzle-orm's `migrate()` does (same `drizzle.__drizzle_migrations` table, same
 * rule: apply what is newer than the last applied migration), but in one transaction that first
 * takes a transaction-level advisory lock. Server replicas that start together each call
 * `migrate()`: the first applies, the others wait and then find nothing left to do, instead of
 * failing on a duplicate `CREATE`. A transaction-level lock ends with the transaction, so this is
 * safe behind PgBouncer in transaction mode, and a failed migrate leaves nothing applied.
 */
export async function migrate(database: Database): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder });
  try {
    await database.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext('quarry.migrate'))`);
      await tx.execute(sql`create schema if not exists drizzle`);
      await tx.execute(
        sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
      );
      const [last] = await queryRows<{ created_at: string | number | null }>(
        tx,
        sql`select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`,
      );
      const lastApplied = last === undefined ? undefined : Number(last.created_at);
      for (const migration of migrations) {
        if (lastApplied !== undefined && lastApplied >= migration.folderMillis) continue;
        for (const statement of migration.sql) await tx.execute(sql.raw(statement));
        await tx.execute(
          sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
        );
      }
    });
  } catch (error) {
    throw explainMigrationError(error);
  }
  // On a Citus coordinator: distribute documents by tenant (idempotent; see citus.ts). Before the
  // vector indexes, so that each collection's HNSW index is built on every shard.
  await distributeOnCitus(database);
  await ensureAllVectorIndexes(database);
}

/** Messages raised by migrations/0000 when pgvector is missing or not visible from the search_path. */
const extensionProblems = [
  'needs the pgvector extension',
  'the vector extension is installed in schema',
];

function explainMigrationError(error: unknown): unknown {
  const chain: Error[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(e);
  // The server's own error is innermost; the wrappers around it quote the migration's SQL, which
  // contains the same words, so the search starts from the inside.
  for (const e of chain.reverse()) {
    const message = e.message;
    const { code, hint } = e as { code?: unknown; hint?: unknown };
    // pgvector is not a trusted extension: only a superuser (or, on managed services, a role the
    // provider allows) may create it. PostgreSQL's reason is kept, with what to do about it.
    if (code === '42501' && message.includes('extension "vector"')) {
      return new QuarryError(
        'EXTENSION_MISSING',
        `${message}${typeof hint === 'string' ? ` (${hint.replace(/\.$/, '')})` : ''}: Quarry needs the pgvector extension, and this role may not create it. ` +
          'Ask a superuser to run CREATE EXTENSION vector; once in this database, then migrate again ' +
          '(on a managed service, turn the "vector" extension on in its settings instead).',
        { cause: error },
      );
    }
    if (extensionProblems.some((problem) => message.includes(problem))) {
      return new QuarryError(
        'EXTENSION_MISSING',
        typeof hint === 'string' ? `${message}. ${hint}` : message,
        { cause: error },
      );
    }
  }
  return error;
}

/** The number of committed migrations and how many of them the database has applied. */
export async function migrationState(
  database: Database,
): Promise<{ committed: number; applied: number }> {
  const committed = readMigrationFiles({ migrationsFolder }).length;
  const applied = await queryRows<{ applied: number | string }>(
    database.db,
    sql`select count(*) as applied from drizzle.__drizzle_migrations`,
  )
    .then((rows) => Number(rows[0]?.applied ?? 0))
    .catch(() => 0);
  return { committed, applied };
}
