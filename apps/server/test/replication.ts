import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/** PostgreSQL's server binaries, if this machine has them (the replica tests skip otherwise). */
export const canRunClusters = existsSync(join(BIN, 'pg_basebackup')) && existsSync(join(BIN, 'initdb'));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** PostgreSQL refuses to run as root; as root, the cluster runs as the postgres user. */
function asPostgres(command: string, args: string[]) {
  const root = process.getuid?.() === 0;
  return root ? run('runuser', ['-u', 'postgres', '--', join(BIN, command), ...args]) : run(join(BIN, command), args);
}

export interface ReplicatedCluster {
  primaryUrl(database: string): string;
  replicaUrl(database: string): string;
  stop(): Promise<void>;
}

/**
 * A throwaway primary and a streaming replica on loopback: `initdb` a primary that allows
 * replication, `pg_basebackup -R` a copy of it, and start that as a hot standby. Uses the
 * machine's PostgreSQL 15 binaries (pgvector comes from the same installation) and leaves the
 * machine's own cluster alone.
 */
export async function startReplicatedCluster(): Promise<ReplicatedCluster> {
  const base = mkdtempSync(join(tmpdir(), 'quarry-replication-'));
  chmodSync(base, 0o777);
  const primary = join(base, 'primary');
  const replica = join(base, 'replica');
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const started: string[] = [];
  const stop = async () => {
    for (const dir of started.reverse()) await asPostgres('pg_ctl', ['-D', dir, '-m', 'immediate', 'stop']).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  };
  try {
    await asPostgres('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '--no-sync']);
    appendFileSync(
      join(primary, 'postgresql.conf'),
      `\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${base}'\nwal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n`,
    );
    appendFileSync(join(primary, 'pg_hba.conf'), '\nhost replication postgres 127.0.0.1/32 trust\n');
    await asPostgres('pg_ctl', ['-D', primary, '-o', `-p ${primaryPort}`, '-l', join(base, 'primary.log'), '-w', 'start']);
    started.push(primary);
    await asPostgres('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replica, '-R', '-X', 'stream', '--no-sync']);
    await asPostgres('pg_ctl', ['-D', replica, '-o', `-p ${replicaPort}`, '-l', join(base, 'replica.log'), '-w', 'start']);
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
