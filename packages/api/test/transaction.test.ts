import { afterAll, beforeAll, expect, it } from 'vitest';
import { queryRows, sql } from '@quarry/db';
import { defaultLimits } from '../src/limits';
import {
  inReadTransaction,
  inTransaction,
  lastStatementIssued,
  TRANSACTION_ATTEMPTS,
} from '../src/transaction';
import { describeEachTarget, type TestDatabase } from './harness';

/** Resolves once `parties` callers have arrived: both transactions hold their first lock before either asks for its second. */
function barrier(parties: number) {
  let arrived = 0;
  let release: () => void = () => {};
  const all = new Promise<void>((resolve) => (release = resolve));
  return () => {
    arrived++;
    if (arrived === parties) release();
    return all;
  };
}

// PGlite has one connection: two of its transactions never overlap, so they cannot deadlock.
describeEachTarget(['postgres', 'pgbouncer', 'citus'])(
  'request transactions on $name',
  (target) => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await target.createDatabase();
      await database.db.execute(
        sql`create table locks (id int primary key, touched int not null default 0)`,
      );
      await database.db.execute(sql`insert into locks (id) values (1), (2)`);
    });
    afterAll(() => database?.close());

    it('runs a deadlock victim again, so both colliding transactions commit', async () => {
      const bothHoldOne = barrier(2);
      let attempts = 0;
      const lockInOrder = (first: number, second: number) =>
        inTransaction(database.db, defaultLimits, async (tx) => {
          attempts++;
          await tx.execute(sql`update locks set touched = touched + 1 where id = ${first}`);
          // Only the first attempts wait for each other; a re-run goes straight through.
          if (attempts <= 2) await bothHoldOne();
          await tx.execute(sql`update locks set touched = touched + 1 where id = ${second}`);
          return first;
        });
      await expect(Promise.all([lockInOrder(1, 2), lockInOrder(2, 1)])).resolves.toEqual([1, 2]);
      expect(attempts).toBe(3); // one of the two was chosen as the victim and ran twice
      const rows = await queryRows<{ id: number; touched: number }>(
        database.db,
        sql`select id, touched from locks order by id`,
      );
      expect(rows).toEqual([
        { id: 1, touched: 2 },
        { id: 2, touched: 2 },
      ]);
    });

    it(`gives up after ${TRANSACTION_ATTEMPTS} attempts and reports the conflict`, async () => {
      let attempts = 0;
      const failing = inTransaction(database.db, defaultLimits, async (tx) => {
        attempts++;
        await tx.execute(sql`do $$ begin raise exception 'forced' using errcode = '40001'; end $$`);
      });
      await expect(failing).rejects.toThrow();
      expect(attempts).toBe(TRANSACTION_ATTEMPTS);
    });

    it('does not run other failures again', async () => {
      let attempts = 0;
      const failing = inTransaction(database.db, defaultLimits, async (tx) => {
        attempts++;
        await tx.execute(sql`select 1 / 0`);
      });
      await expect(failing).rejects.toThrow();
      expect(attempts).toBe(1);
    });

    it('a read whose work goes on after saying it issued its last statement runs again whole, under its settings', async () => {
      const seen: Array<{ run: number; timeout: string; work: string }> = [];
      let runs = 0;
      const read = inReadTransaction(
        database.db,
        { statementTimeoutMs: 4321 },
        async (tx) => {
          const run = ++runs;
          const first = queryRows<{ timeout: string; work: string }>(
            tx,
            sql`select current_setting('statement_timeout') as timeout, current_setting('work_mem') as work`,
          );
          lastStatementIssued(tx);
          seen.push({ run, ...(await first)[0]! });
          // A second statement, as a vector search's exact re-run after a short HNSW answer.
          const second = await queryRows<{ n: number }>(tx, sql`select 2 as n`);
          return second[0]?.n;
        },
        { work_mem: '3MB' },
      );
      await expect(read).resolves.toBe(2);
      // On PostgreSQL the early end refused the second statement and the work ran again.
      expect(runs).toBe(2);
      for (const run of seen) expect(run).toMatchObject({ timeout: '4321ms', work: '3MB' });
    });
  },
);
