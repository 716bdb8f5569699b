import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  asPostgres,
  clusterBase,
  freePort,
  initCluster,
  startPostmaster,
  stopPostmaster,
  type StopMode,
} from './clusters';

import { createQuarryClient } from '@quarry/client';
import { startServer, type ServerProcess } from './harness';

export { canRunClusters } from './clusters';

/**
 * The server on a primary and one replica, probing a failed replica again within half a second,
 * with the collection `replicated` (3 dimensions) holding `firstDocument`.
 */
export async function startServerWithReplica(
  primaryUrl: string,
  replicaUrl: string,
  firstDocument: { content: string; embedding: number[] },
): Promise<ServerProcess> {
  const server = await startServer({
    DATABASE_URL: primaryUrl,
    DATABASE_REPLICA_URLS: replicaUrl,
    DATABASE_REPLICA_RETRY_MS: '200',
    DATABASE_REPLICA_RETRY_MAX_MS: '500',
  });
  await server.waitForReady();
  const client = createQuarryClient({ url: server.url });
  await client.collections.create.mutate({
    name: 'replicated',
    dimensions: 3,
    embeddingModel: 'external/3d',
  });
  await client.documents.ingest.mutate({ collection: 'replicated', documents: [firstDocument] });
  return server;
}

export interface ReplicatedCluster {
  primaryUrl(database: string): string;
  replicaUrl(database: string): string;
  /** Stops the replica alone, keeping its data; the primary runs on. */
  stopReplica(mode?: StopMode): Promise<void>;
  /** Starts the replica again on its port; it resumes streaming from the primary. */
  startReplica(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A throwaway primary and a streaming replica on loopback: `initdb` a primary that allows
 * replication, `pg_basebackup -R` a copy of it, and start that as a hot standby (see clusters.ts).
 */
export async function startReplicatedCluster(): Promise<ReplicatedCluster> {
  const base = clusterBase('quarry-replication');
  const primary = join(base.path, 'primary');
  const replica = join(base.path, 'replica');
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const started: string[] = [];
  const stop = async () => {
    for (const dir of started.reverse())
      await stopPostmaster(dir, 'immediate').catch(() => undefined);
    base.remove();
  };
  try {
    await initCluster(primary, base.path, {
      wal_level: 'replica',
      max_wal_senders: 4,
      hot_standby: 'on',
      synchronous_commit: 'off',
    });
    appendFileSync(
      join(primary, 'pg_hba.conf'),
      '\nhost replication postgres 127.0.0.1/32 trust\n',
    );
    await startPostmaster(primary, primaryPort, join(base.path, 'primary.log'));
    started.push(primary);
    await asPostgres('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primaryPort),
      '-U',
      'postgres',
      '-D',
      replica,
      '-R',
      '-X',
      'stream',
      '--no-sync',
    ]);
    await startPostmaster(replica, replicaPort, join(base.path, 'replica.log'));
    started.push(replica);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    primaryUrl: (database) => `postgres://postgres@127.0.0.1:${primaryPort}/${database}`,
    replicaUrl: (database) => `postgres://postgres@127.0.0.1:${replicaPort}/${database}`,
    async stopReplica(mode = 'fast') {
      await stopPostmaster(replica, mode);
    },
    async startReplica() {
      await startPostmaster(replica, replicaPort, join(base.path, 'replica.log'));
    },
    stop,
  };
}
