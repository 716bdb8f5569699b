import { sql, type QuarryDatabase } from '@quarry/db';
import type { Limits } from './limits';

export type Transaction = Parameters<Parameters<QuarryDatabase['transaction']>[0]>[0];

/**
 * Runs `work` in one transaction with request-local settings. `set_config(..., true)` is
 * `SET LOCAL`: it ends with the transaction, so nothing leaks to the next request that a pooler
 * (PgBouncer in transaction mode) hands the same server connection to.
 */
export async function inTransaction<T>(
  db: QuarryDatabase,
  limits: Pick<Limits, 'statementTimeoutMs'>,
  work: (tx: Transaction) => Promise<T>,
  settings: Record<string, string> = {},
): Promise<T> {
  return db.transaction(async (tx) => {
    await setLocal(tx, { statement_timeout: String(limits.statementTimeoutMs), ...settings });
    return work(tx);
  });
}

/**
 * `SET LOCAL` for each setting, in one round trip. Names and values are bound parameters of
 * `set_config`, never SQL text.
 */
export async function setLocal(tx: Transaction, settings: Record<string, string>): Promise<void> {
  const calls = Object.entries(settings).map(([name, value]) => sql`set_config(${name}, ${value}, true)`);
  if (calls.length === 0) return;
  await tx.execute(sql`select ${sql.join(calls, sql`, `)}`);
}
