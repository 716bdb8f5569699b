import { isTransientConflict, queryRows, sql, type QuarryDatabase } from '@quarry/db';
import type { Limits } from './limits';

export type Transaction = Parameters<Parameters<QuarryDatabase['transaction']>[0]>[0];

/** Attempts of a transaction that PostgreSQL aborted as a deadlock victim or serialization failure. */
export const TRANSACTION_ATTEMPTS = 3;

/**
 * Runs `work` in one transaction with request-local settings. `set_config(..., true)` is
 * `SET LOCAL`: it ends with the transaction, so nothing leaks to the next request that a pooler
 * (PgBouncer in transaction mode) hands the same server connection to.
 *
 * A transaction PostgreSQL chose as a deadlock victim (40P01) or could not serialize (40001) was
 * rolled back whole, so it is run again, up to TRANSACTION_ATTEMPTS times: the caller sees the
 * outcome of one clean run, never the collision. `work` must touch nothing but the transaction.
 */
export async function inTransaction<T>(
  db: QuarryDatabase,
  limits: Pick<Limits, 'statementTimeoutMs'>,
  work: (tx: Transaction) => Promise<T>,
  settings: Record<string, string> = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(async (tx) => {
        await setLocal(tx, { statement_timeout: String(limits.statementTimeoutMs), ...settings });
        return work(tx);
      });
    } catch (error) {
      if (attempt >= TRANSACTION_ATTEMPTS || !isTransientConflict(error)) throw error;
      // Jittered, so the two colliding transactions do not meet again in the same order.
      await new Promise((resolve) =>
        setTimeout(resolve, 5 * attempt + Math.random() * 20 * attempt),
      );
    }
  }
}

/**
 * `SET LOCAL` for each setting, in one round trip. Names and values are bound parameters of
 * `set_config`, never SQL text. On a Citus coordinator (where migrate() created
 * `quarry_set_local`, see @quarry/db's citus.ts) a second round trip makes them `SET LOCAL`
 * statements that Citus forwards to the shards' queries, which `set_config` alone does not reach.
 */
export async function setLocal(tx: Transaction, settings: Record<string, string>): Promise<void> {
  const entries = Object.entries(settings);
  if (entries.length === 0) return;
  const calls = entries.map(([name, value]) => sql`set_config(${name}, ${value}, true)`);
  const [row] = await queryRows<{ distributed: boolean }>(
    tx,
    sql`select ${sql.join(calls, sql`, `)}, to_regproc('quarry_set_local') is not null as distributed`,
  );
  if (!row?.distributed) return;
  const forwarded = entries.map(([name, value]) => sql`quarry_set_local(${name}, ${value})`);
  await tx.execute(sql`select ${sql.join(forwarded, sql`, `)}`);
}
