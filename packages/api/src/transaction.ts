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
    const all = { statement_timeout: String(limits.statementTimeoutMs), ...settings };
    for (const [name, value] of Object.entries(all)) {
      await tx.execute(sql`select set_config(${name}, ${value}, true)`);
    }
    return work(tx);
  });
}
