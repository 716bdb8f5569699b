import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQuarryClient } from '@quarry/client';
import { runCli, startServer, type ServerProcess } from './harness';
import { canRunClusters, startReplicatedCluster, type ReplicatedCluster } from './replication';

/**
 * Against a real streaming replica. Pausing WAL replay on the replica makes "where did this search
 * run" observable: a document written after the pause is visible on the primary only.
 */
describe.skipIf(!canRunClusters)('read replicas', () => {
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
    server = await startServer({
      DATABASE_URL: cluster.primaryUrl('quarry'),
      DATABASE_REPLICA_URLS: cluster.replicaUrl('quarry'),
    });
    await server.waitForReady();
    const client = createQuarryClient({ url: server.url });
    await client.collections.create.mutate({
      name: 'replicated',
      dimensions: 3,
      embeddingModel: 'external/3d',
    });
    await client.documents.ingest.mutate({
      collection: 'replicated',
      documents: [{ content: 'before the pause', embedding: vector }],
    });
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

  it('doctor fails a "replica" URL that points at a primary', async () => {
    const run = await runCli(['doctor'], {
      DATABASE_URL: cluster.primaryUrl('quarry'),
      DATABASE_REPLICA_URLS: cluster.primaryUrl('quarry'),
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+replica .*is not a replica/m);
  });
});
