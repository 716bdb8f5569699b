import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, queryRows, quarryErrorIn, type Database } from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';

const acquireTimeoutMs = 300;

/** Resolves when `release` is called: a transaction parked on it holds its connection until then. */
function latch() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { released, release };
}

describeEachTarget(['postgres', 'pgbouncer'])(
  'a pool with every connection taken ($name)',
  (target) => {
    let scratch: TestDatabase;
    let pool: Database;

    beforeAll(async () => {
      scratch = await target.createDatabase({ migrated: false });
      if (scratch.config.driver !== 'postgres') throw new Error('server targets are PostgreSQL');
      pool = await createDb({ ...scratch.config, maxConnections: 2, acquireTimeoutMs });
    });

    afterAll(async () => {
      await pool?.close();
      await scratch?.close();
    });

    /** Two open transactions, parked until the returned function is called. */
    async function holdBothConnections() {
      const gate = latch();
      const began: Array<Promise<void>> = [];
      const holders = [1, 2].map(
        () =>
          new Promise<void>((resolveBegan) => {
            began.push(
              pool.db.transaction(async (tx) => {
                await tx.execute(sql`select 1`);
                resolveBegan();
                await gate.released;
              }),
            );
          }),
      );
      await Promise.all(holders);
      return async () => {
        gate.release();
        await Promise.all(began);
      };
    }

    it('a statement waits the acquire timeout, then fails with DATABASE_BUSY and a message that says what to do', async () => {
      const release = await holdBothConnections();
      try {
        const started = performance.now();
        const error = await queryRows(pool.db, sql`select 1 as one`).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        const waited = performance.now() - started;
        expect(quarryErrorIn(error)?.code).toBe('DATABASE_BUSY');
        expect(quarryErrorIn(error)?.message).toMatch(
          /no database connection came free within 300 ms \(all 2 are in use\)/,
        );
        expect(waited).toBeGreaterThanOrEqual(acquireTimeoutMs - 5);
        expect(waited).toBeLessThan(acquireTimeoutMs + 1_000);
      } finally {
        await release();
      }
    });

    it('a transaction fails the same way, and the pool serves callers again once connections come free', async () => {
      const release = await holdBothConnections();
      const error = await pool.db
        .transaction(async (tx) => tx.execute(sql`select 1`))
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(quarryErrorIn(error)?.code).toBe('DATABASE_BUSY');
      await release();
      const rows = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          queryRows<{ n: number }>(pool.db, sql`select ${i}::int as n`),
        ),
      );
      expect(rows.map(([row]) => row?.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });

    it('a caller that gets a connection within the timeout is served: waiting is bounded, not refused', async () => {
      const release = await holdBothConnections();
      const waiting = queryRows<{ one: number }>(pool.db, sql`select 1 as one`);
      await new Promise((resolve) => setTimeout(resolve, acquireTimeoutMs / 3));
      await release();
      expect(await waiting).toEqual([{ one: 1 }]);
    });
  },
);
