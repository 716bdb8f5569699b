import { sql } from 'drizzle-orm';
import { queryRows, type Database } from './client';

/**
 * Runs `work` as the only collection-level change (a collection created with its index, an index
 * rebuilt with new parameters, a collection deleted with its index, the reconcile at start) in
 * flight on this database, across every process that shares it. Without it, a delete racing an
 * index build left the new index behind for a collection that no longer existed, and two rebuilds
 * left the recorded parameters different from the live index.
 *
 * One lock for all collections, not one per collection: every index build and drop on `documents`
 * takes a SHARE UPDATE EXCLUSIVE lock on the table, which conflicts with itself, so PostgreSQL runs
 * them one at a time anyway, and two that meet deadlock instead of queueing.
 *
 * The lock must outlive statements that cannot run in a transaction (`CREATE INDEX CONCURRENTLY`)
 * and work behind PgBouncer in transaction mode, where a session-level advisory lock is not held
 * by any one client. So it is a transaction-level advisory lock held by a transaction of its own
 * that does nothing else while `work` runs on other connections. That transaction must never be
 * one a concurrent index build waits for: a build waits for every transaction that held a
 * snapshot when it looked, until the transaction ends. Between statements a READ COMMITTED
 * transaction holds no snapshot, so the holder takes the lock with `pg_try_advisory_xact_lock` and,
 * when it is taken, ends its transaction and tries again shortly, instead of waiting inside a
 * statement. In one process, callers queue in memory first (on PGlite that is the whole lock).
 */
export async function withCollectionChangeLock<T>(
  database: Database,
  work: () => Promise<T>,
): Promise<T> {
  const previous = queues.get(database.db) ?? Promise.resolve();
  let release = () => {};
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  queues.set(
    database.db,
    previous.then(() => mine),
  );
  await previous;
  try {
    return database.driver === 'postgres'
      ? await holdingAdvisoryLock(database, work)
      : await work();
  } finally {
    release();
  }
}

/** The tail of each database's in-process queue of collection changes. */
const queues = new WeakMap<object, Promise<void>>();

/** How long a waiting process pauses between attempts, at most. */
const MAX_PAUSE_MS = 250;

async function holdingAdvisoryLock<T>(database: Database, work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const outcome = await database.db.transaction(async (tx) => {
      const [row] = await queryRows<{ locked: boolean }>(
        tx,
        sql`select pg_try_advisory_xact_lock(hashtext('quarry.collection-changes')) as locked`,
      );
      if (!row?.locked) return { locked: false as const };
      return { locked: true as const, value: await work() };
    });
    if (outcome.locked) return outcome.value;
    const pause = Math.min(10 * 2 ** attempt, MAX_PAUSE_MS) * (0.5 + Math.random() / 2);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}
