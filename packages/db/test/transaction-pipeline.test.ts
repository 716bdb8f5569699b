import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createDb,
  endReadAfterIssued,
  queryRows,
  readTransaction,
  TransactionEndedError,
  type Database,
} from '../src/index';
import { describeEachTarget, roundTripCounter, type TestDatabase } from '../src/testing';

/** The SQLSTATE of a driver error, or of the driver error a Drizzle error wraps. */
function codeOf(error: unknown): string | undefined {
  const { code, cause } = (error ?? {}) as { code?: string; cause?: unknown };
  return code ?? (cause === undefined ? undefined : codeOf(cause));
}

/** What Drizzle's transaction runs its statements through (see @quarry/db's pipelineBegin). */
function driverTransaction(tx: unknown): unknown {
  return (tx as { session?: { client?: unknown } }).session?.client;
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

    it('a read transaction ended after its last statement is one round trip, and answers as before', async () => {
      if (scratch.config.driver !== 'postgres') throw new Error('server targets are PostgreSQL');
      const relay = await roundTripCounter(scratch.config.url);
      const relayed = await createDb({ ...scratch.config, url: relay.url, maxConnections: 1 });
      try {
        await relayed.db.execute(sql`select 1`); // connects
        relay.take();
        const read = () =>
          readTransaction(relayed.db, (tx) => {
            const rows = queryRows<{ n: number }>(tx, sql`select 7 as n`);
            endReadAfterIssued(driverTransaction(tx));
            return rows;
          });
        expect(await read()).toEqual([{ n: 7 }]);
        // BEGIN, the statement and COMMIT went out before any answer came back.
        expect(relay.take()).toBe(1);
        // Without the early end, COMMIT waits for the statement's answer.
        await readTransaction(relayed.db, (tx) => queryRows(tx, sql`select 7 as n`));
        expect(relay.take()).toBe(2);
      } finally {
        await relayed.close();
        await relay.close();
      }
    });

    it('a statement issued after the early end is never sent: it fails, and nothing it set outlives the transaction', async () => {
      for (let round = 0; round < 3; round++) {
        const thrown = await readTransaction(pool.db, async (tx) => {
          const inside = queryRows<{ timeout: string }>(
            tx,
            sql`select set_config('statement_timeout', '4321', true) as timeout`,
          );
          endReadAfterIssued(driverTransaction(tx));
          expect(await inside).toEqual([{ timeout: '4321ms' }]);
          // A session-wide setting: sent, it would outlive the transaction on this connection.
          await tx.execute(sql`select set_config('statement_timeout', '5432', false)`);
        }).catch((error: unknown) => error);
        expect(thrown).toBeInstanceOf(Error);
        const causes = [thrown, (thrown as { cause?: unknown }).cause];
        expect(causes.some((cause) => cause instanceof TransactionEndedError)).toBe(true);
        const after = await queryRows<{ timeout: string }>(
          pool.db,
          sql`select current_setting('statement_timeout') as timeout`,
        );
        expect(['4321ms', '5432ms']).not.toContain(after[0]?.timeout);
      }
    });

    it('a read transaction whose statement failed after the early end throws that error and leaves the connection clean', async () => {
      const thrown = await readTransaction(pool.db, (tx) => {
        const failing = tx.execute(sql`select 1 / 0`);
        endReadAfterIssued(driverTransaction(tx));
        return failing;
      }).catch((error: unknown) => error);
      expect(codeOf(thrown)).toBe('22012');
      const [row] = await queryRows<{ inside: boolean }>(
        pool.db,
        sql`select now() = statement_timestamp() as inside`,
      );
      expect(row?.inside).toBe(true); // not inside a transaction left open
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
