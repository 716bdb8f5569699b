import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, queryRows, readTransaction, type Database } from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';

/** The SQLSTATE of a driver error, or of the driver error a Drizzle error wraps. */
function codeOf(error: unknown): string | undefined {
  const { code, cause } = (error ?? {}) as { code?: string; cause?: unknown };
  return code ?? (cause === undefined ? undefined : codeOf(cause));
}

/**
 * Drizzle's transactions send BEGIN together with their first statements (see pool.ts,
 * pipelineBegin): what a transaction guarantees must not change with it. One connection, so every transaction and
 * statement of a test meets the same server connection (behind PgBouncer, the same client one).
 */
describeEachTarget(['postgres', 'pgbouncer'])(
  'transactions on one connection ($name)',
  (target) => {
    let scratch: TestDatabase;
    let pool: Database;

    beforeAll(async () => {
      scratch = await target.createDatabase({ migrated: false });
      if (scratch.config.driver !== 'postgres') throw new Error('server targets are PostgreSQL');
      pool = await createDb({ ...scratch.config, maxConnections: 1 });
      await pool.db.execute(sql`create table notes (n int primary key)`);
    });

    afterAll(async () => {
      await pool?.close();
      await scratch?.close();
    });

    const notes = async () =>
      (await queryRows<{ n: number }>(pool.db, sql`select n from notes order by n`)).map(
        (row) => row.n,
      );

    it('commits what the work wrote, and rolls it all back when the work throws', async () => {
      await pool.db.execute(sql`truncate notes`);
      await pool.db.transaction(async (tx) => {
        await tx.execute(sql`insert into notes values (1)`);
      });
      const thrown = await pool.db
        .transaction(async (tx) => {
          await tx.execute(sql`insert into notes values (2)`);
          throw new Error('the work failed');
        })
        .catch((error: unknown) => error);
      expect((thrown as Error).message).toBe('the work failed');
      expect(await notes()).toEqual([1]);
    });

    it('a statement error the work caught still rolls everything back, and that error is thrown', async () => {
      await pool.db.execute(sql`truncate notes`);
      const thrown = await pool.db
        .transaction(async (tx) => {
          await tx.execute(sql`insert into notes values (3)`);
          await tx.execute(sql`insert into notes values (3)`).catch(() => undefined);
          return 'the work went on';
        })
        .catch((error: unknown) => error);
      expect(codeOf(thrown)).toBe('23505');
      expect(await notes()).toEqual([]);
    });

    it('after a failed statement the work sends nothing more: no write escapes the transaction', async () => {
      await pool.db.execute(sql`truncate notes`);
      await pool.db
        .transaction(async (tx) => {
          await tx.execute(sql`select 1 / 0`).catch(() => undefined);
          await tx.execute(sql`insert into notes values (4)`).catch(() => undefined);
        })
        .catch(() => undefined);
      expect(await notes()).toEqual([]);
    });

    it('a read transaction refuses writes', async () => {
      const thrown = await readTransaction(pool.db, (tx) =>
        tx.execute(sql`insert into notes values (5)`),
      ).catch((error: unknown) => error);
      expect(codeOf(thrown)).toBe('25006');
      expect(await notes()).not.toContain(5);
    });

    it("a read transaction's local settings end with it", async () => {
      for (let round = 0; round < 5; round++) {
        const inside = await readTransaction(pool.db, async (tx) => {
          await tx.execute(sql`select set_config('statement_timeout', '4321', true)`);
          return queryRows<{ timeout: string }>(
            tx,
            sql`select current_setting('statement_timeout') as timeout`,
          );
        });
        const after = await queryRows<{ timeout: string }>(
          pool.db,
          sql`select current_setting('statement_timeout') as timeout`,
        );
        expect(inside[0]?.timeout).toBe('4321ms');
        expect(after[0]?.timeout).not.toBe('4321ms');
      }
    });
  },
);
