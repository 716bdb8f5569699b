import { createDb, readTransaction, sql, type Database } from '@quarry/db';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canRunClusters, startCluster, type PostgresCluster } from './clusters';
import { describeUnless } from './harness';

const HANG_MS = 10_000;
const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/**
 * The pool itself across PostgreSQL restarts (below the server: no HTTP), with transactions on
 * reserved connections in flight when the database goes away: every call settles (a result or an
 * error), none waits forever, and once the database is back every connection serves again.
 */
describeUnless(
  canRunClusters ? undefined : 'needs the PostgreSQL server binaries (initdb, pg_basebackup)',
  'pool across PostgreSQL restarts',
  () => {
    let cluster: PostgresCluster;
    let database: Database;

    beforeAll(async () => {
      cluster = await startCluster({ synchronous_commit: 'on' });
      database = await createDb({
        driver: 'postgres',
        url: cluster.url('postgres'),
        maxConnections: 3,
        acquireTimeoutMs: 2_000,
      });
    });

    afterAll(async () => {
      await database?.close();
      await cluster?.remove();
    });

    it.each(['immediate', 'fast', 'immediate', 'fast'] as const)(
      'stopped (-m %s) under read and write transactions: no call hangs, all connections serve again',
      async (mode) => {
        let stop = false;
        let hung = 0;
        let settled = 0;
        const call = async (work: () => Promise<unknown>) => {
          const outcome = await Promise.race([
            work().then(
              () => 'ok' as const,
              () => 'error' as const,
            ),
            sleep(HANG_MS).then(() => 'hung' as const),
          ]);
          if (outcome === 'hung') hung++;
          else settled++;
        };
        const clients = Array.from({ length: 6 }, async (_, client) => {
          for (let turn = 0; !stop; turn++) {
            await call(() =>
              turn % 2 === 0
                ? readTransaction(database.db, async (tx) => {
                    await tx.execute(sql`select set_config('statement_timeout', '5000', true)`);
                    return tx.execute(sql`select pg_sleep(0.005), ${client}::int as client`);
                  })
                : database.db.transaction(async (tx) => {
                    await tx.execute(sql`select 1`);
                    return tx.execute(sql`select pg_sleep(0.005)`);
                  }),
            );
            await sleep(5);
          }
        });
        await sleep(500);
        await cluster.stop(mode);
        await sleep(1_500);
        await cluster.start();
        await sleep(2_000);
        stop = true;
        await Promise.all(clients);
        // Every connection of the pool is used by these at once: each must answer.
        const after = await Promise.all(
          Array.from({ length: 6 }, () =>
            Promise.race([
              readTransaction(database.db, (tx) => tx.execute(sql`select pg_sleep(0.05)`)).then(
                () => 'ok',
                (error: unknown) => String(error),
              ),
              sleep(HANG_MS).then(() => 'hung'),
            ]),
          ),
        );
        expect({ hung, after }).toEqual({ hung: 0, after: after.map(() => 'ok') });
        expect(settled).toBeGreaterThan(0);
      },
      60_000,
    );
  },
);
