import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { canRunClusters, startCluster, type PostgresCluster } from './clusters';
import { describeUnless, startServer, type ServerProcess } from './harness';

interface Answer {
  status: number;
  ms: number;
  quarryCode: string | undefined;
  message: string | undefined;
}

async function call(server: ServerProcess, procedure: string, input: unknown): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(new URL(`/trpc/${procedure}`, server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as {
    error?: { message: string; data: { quarryCode?: string } };
  };
  return {
    status: response.status,
    ms: performance.now() - started,
    quarryCode: body.error?.data.quarryCode,
    message: body.error?.message,
  };
}

/**
 * PostgreSQL stopped while transactions are open, against a private cluster (the long version, under
 * traffic and repeated, is reliability/faults.test.ts).
 */
describeUnless(
  canRunClusters ? undefined : 'needs the PostgreSQL server binaries (initdb, pg_basebackup)',
  'PostgreSQL going away under a running server',
  () => {
    let cluster: PostgresCluster;
    let server: ServerProcess;

    beforeAll(async () => {
      cluster = await startCluster({ synchronous_commit: 'on' });
      const admin = postgres(cluster.url('postgres'), { max: 1, onnotice: () => {} });
      await admin`create database quarry`;
      await admin.end();
      server = await startServer({
        DATABASE_URL: cluster.url('quarry'),
        DATABASE_MAX_CONNECTIONS: '4',
      });
      await server.waitForReady();
      expect(
        (
          await call(server, 'collections.create', {
            name: 'notes',
            dimensions: 3,
            embeddingModel: 'external/3d',
          })
        ).status,
      ).toBe(200);
    });

    afterAll(async () => {
      await server?.stop('SIGKILL');
      await cluster?.remove();
    });

    it('transactions cut off by the stop are answered 503 DATABASE_UNAVAILABLE and the process lives on; /readyz is 503 until it is back, then all is served again', async () => {
      // Ingests parked inside their transactions behind a table lock, so the stop lands mid-transaction.
      // postgres.js 3.4.9 unpatched then writes the rollback to a closed socket from a timer and the
      // process dies (patches/postgres@3.4.9.patch).
      const locker = postgres(cluster.url('quarry'), { max: 1, onnotice: () => {} });
      await locker`begin`;
      await locker`lock table documents in access exclusive mode`;
      const inFlight = [1, 2, 3].map((i) =>
        call(server, 'documents.ingest', {
          collection: 'notes',
          documents: [{ content: `cut off ${i}`, embedding: [1, 0, 0] }],
        }),
      );
      for (let tries = 0; tries < 100; tries++) {
        const [{ waiting = 0 } = {}] = await locker<
          Array<{ waiting: number }>
        >`select count(*)::int as waiting from pg_stat_activity where wait_event_type = 'Lock'`;
        if (waiting === 3) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await cluster.stop('fast');
      await locker.end({ timeout: 0 }).catch(() => undefined);

      const cutOff = await Promise.all(inFlight);
      expect(cutOff.map((answer) => [answer.status, answer.quarryCode])).toEqual(
        cutOff.map(() => [503, 'DATABASE_UNAVAILABLE']),
      );
      const whileDown = await call(server, 'documents.count', { collection: 'notes' });
      expect(whileDown).toMatchObject({
        status: 503,
        quarryCode: 'DATABASE_UNAVAILABLE',
        message: 'the database is unavailable right now; retry shortly',
      });
      expect(whileDown.ms).toBeLessThan(2_000);
      const readyz = await fetch(new URL('/readyz', server.url));
      expect(readyz.status).toBe(503);
      expect(
        ((await readyz.json()) as { checks: { database: { detail: string } } }).checks.database
          .detail,
      ).toMatch(/ECONNREFUSED/);

      await cluster.start();
      let count: Answer | undefined;
      for (let tries = 0; tries < 50 && count?.status !== 200; tries++) {
        count = await call(server, 'documents.count', { collection: 'notes' });
        if (count.status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(count?.status).toBe(200);
      expect((await fetch(new URL('/readyz', server.url))).status).toBe(200);
      expect(
        (
          await call(server, 'documents.ingest', {
            collection: 'notes',
            documents: [{ content: 'after the restart', embedding: [0, 1, 0] }],
          })
        ).status,
      ).toBe(200);
      expect(server.child.exitCode).toBeNull();
    });
  },
);
