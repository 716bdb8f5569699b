import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQuarryClient } from '@quarry/client';
import { describeUnless, runCli, type ServerProcess } from './harness';
import {
  canRunClusters,
  startReplicatedCluster,
  startServerWithReplica,
  type ReplicatedCluster,
} from './replication';

/**
 * Against a real streaming replica. Pausing WAL replay on the replica makes "where did this search
 * run" observable: a document written after the pause is visible on the primary only.
 */
describeUnless(
  canRunClusters ? undefined : 'needs the PostgreSQL server binaries (initdb, pg_basebackup)',
  'read replicas',
  () => {
    let cluster: ReplicatedCluster;
    let server: ServerProcess;
    let replicaAdmin: postgres.Sql;
    const vector = [0.3, 0.4, 0.5];

    beforeAll(async () => {
      cluster = await startReplicatedCluster();
      const primaryAdmin = postgres(cluster.primaryUrl('postgres'), { max: 1, onnotice: () => {} });
      await primaryAdmin`create database quarry`;
      await primaryAdmin.end();
      replicaAdmin = postgres(cluster.replicaUrl('quarry'), { max: 1, onnotice: () => {} });
      server = await startServerWithReplica(
        cluster.primaryUrl('quarry'),
        cluster.replicaUrl('quarry'),
        { content: 'before the pause', embedding: vector },
      );
      // Wait until the replica has replayed everything so far.
      for (;;) {
        const rows = await replicaAdmin`select count(*)::int as n from documents`.catch(() => [
          { n: 0 },
        ]);
        if (rows[0]?.n === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }, 180_000);

    afterAll(async () => {
      await replicaAdmin?.end();
      await server?.stop();
      await cluster?.stop();
    });

    const contents = async (client: ReturnType<typeof createQuarryClient>) =>
      (
        await client.search.query.query({ collection: 'replicated', vector, k: 10, exact: true })
      ).results
        .map((result) => result.content)
        .sort();

    it('writes go to the primary while searches are answered by the replica', async () => {
      await replicaAdmin`select pg_wal_replay_pause()`;
      try {
        const client = createQuarryClient({ url: server.url });
        await client.documents.ingest.mutate({
          collection: 'replicated',
          documents: [{ content: 'after the pause', embedding: vector }],
        });
        expect(await client.documents.count.query({ collection: 'replicated' })).toEqual({
          count: 2,
        });
        expect(await contents(client)).toEqual(['before the pause']);
      } finally {
        await replicaAdmin`select pg_wal_replay_resume()`;
      }
    });

    it('with readYourWrites, a search right after an ingest sees it although the replica lags', async () => {
      await replicaAdmin`select pg_wal_replay_pause()`;
      try {
        const client = createQuarryClient({ url: server.url, readYourWrites: true });
        await client.documents.ingest.mutate({
          collection: 'replicated',
          documents: [{ content: 'read your writes', embedding: vector }],
        });
        expect(await contents(client)).toContain('read your writes');
      } finally {
        await replicaAdmin`select pg_wal_replay_resume()`;
      }
    });

    it('doctor reports the replica and how far it lags', async () => {
      await replicaAdmin`select pg_wal_replay_pause()`;
      try {
        const client = createQuarryClient({ url: server.url });
        await client.documents.ingest.mutate({
          collection: 'replicated',
          documents: [{ content: 'makes lag', embedding: vector }],
        });
        const lagging = await runCli(['doctor'], {
          DATABASE_URL: cluster.primaryUrl('quarry'),
          DATABASE_REPLICA_URLS: cluster.replicaUrl('quarry'),
        });
        expect(lagging.stdout).toMatch(
          /^(OK|WARN)\s+replica 127\.0\.0\.1:\d+\s+[\d.]+ (B|KiB|MiB) behind the primary/m,
        );
      } finally {
        await replicaAdmin`select pg_wal_replay_resume()`;
      }
    });

    it('a stopped replica: searches are answered by the primary, /readyz stays 200 and shows it unhealthy; once it is back it answers searches again', async () => {
      const client = createQuarryClient({ url: server.url });
      const replicaHealth = async () => {
        const response = await fetch(new URL('/readyz', server.url));
        const body = (await response.json()) as {
          ready: boolean;
          degraded: boolean;
          replicas: Array<{ healthy: boolean; detail: string }>;
        };
        return { status: response.status, body };
      };
      await replicaAdmin.end();
      await cluster.stopReplica('immediate');
      try {
        await client.documents.ingest.mutate({
          collection: 'replicated',
          documents: [{ content: 'while the replica is down', embedding: vector }],
        });
        // Only the primary has it: each search that finds it was answered there.
        for (let i = 0; i < 5; i++)
          expect(await contents(client)).toContain('while the replica is down');
        const { status, body } = await replicaHealth();
        expect(status).toBe(200);
        expect(body).toMatchObject({ ready: true, degraded: true });
        expect(body.replicas[0]?.healthy).toBe(false);
      } finally {
        await cluster.startReplica();
        replicaAdmin = postgres(cluster.replicaUrl('quarry'), { max: 1, onnotice: () => {} });
      }
      const deadline = Date.now() + 30_000;
      while (!(await replicaHealth()).body.replicas[0]?.healthy && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await replicaHealth()).body).toMatchObject({ ready: true, degraded: false });
      // Back in rotation: with replay paused, a document written now is missing from searches.
      await replicaAdmin`select pg_wal_replay_pause()`;
      try {
        await client.documents.ingest.mutate({
          collection: 'replicated',
          documents: [{ content: 'after the replica returned', embedding: vector }],
        });
        expect(await contents(client)).not.toContain('after the replica returned');
      } finally {
        await replicaAdmin`select pg_wal_replay_resume()`;
      }
    });

    it('doctor fails a "replica" URL that points at a primary', async () => {
      const run = await runCli(['doctor'], {
        DATABASE_URL: cluster.primaryUrl('quarry'),
        DATABASE_REPLICA_URLS: cluster.primaryUrl('quarry'),
      });
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^FAIL\s+replica .*is not a replica/m);
    });
  },
);
