import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  asPostgres,
  clusterBase,
  freePort,
  initCluster,
  startPostmaster,
  stopPostmaster,
} from './clusters';

export { canRunClusters } from './clusters';

export interface ReplicatedCluster {
  primaryUrl(database: string): string;
  replicaUrl(database: string): string;
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
    stop,
  };
}
