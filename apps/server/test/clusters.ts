import { execFile } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Throwaway PostgreSQL clusters on loopback for tests that must stop, restart or replicate a
 * server: the machine's PostgreSQL 15 binaries (pgvector comes from the same installation), a data
 * directory under the system temp dir, a free port. The machine's own cluster is never touched.
 */

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/** PostgreSQL's server binaries, if this machine has them (the cluster tests skip otherwise). */
export const canRunClusters =
  existsSync(join(BIN, 'pg_basebackup')) && existsSync(join(BIN, 'initdb'));

/**
 * Whether a reliability suite that needs private clusters can run; without the binaries it is
 * skipped, unless QUARRY_TEST_REQUIRE_ALL=1, which makes that an error naming `suite`.
 */
export function requireClusters(suite: string): boolean {
  if (canRunClusters) return true;
  if (process.env.QUARRY_TEST_REQUIRE_ALL === '1')
    throw new Error(
      `PostgreSQL 15 server binaries (initdb, pg_basebackup) are missing: QUARRY_TEST_REQUIRE_ALL=1 forbids skipping ${suite}`,
    );
  return false;
}

export function freePort(): Promise<number> {
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
export function asPostgres(command: string, args: string[]) {
  const root = process.getuid?.() === 0;
  return root
    ? run('runuser', ['-u', 'postgres', '--', join(BIN, command), ...args])
    : run(join(BIN, command), args);
}

/** A temp directory the postgres user can write into, removed by `remove`. */
export function clusterBase(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  chmodSync(path, 0o777);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * `initdb` with trust auth on loopback, sockets in `socketDir`. No fsync: these clusters die with
 * the test, and a killed postmaster still leaves its writes in the OS page cache, so an acknowledged
 * commit survives `pg_ctl stop -m immediate` as long as `synchronous_commit` stays on.
 */
export async function initCluster(
  dataDir: string,
  socketDir: string,
  settings: Record<string, string | number> = {},
): Promise<void> {
  await asPostgres('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync']);
  const all = {
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: `'${socketDir}'`,
    fsync: 'off',
    full_page_writes: 'off',
    ...settings,
  };
  appendFileSync(
    join(dataDir, 'postgresql.conf'),
    `\n${Object.entries(all)
      .map(([name, value]) => `${name} = ${value}`)
      .join('\n')}\n`,
  );
}

export function startPostmaster(dataDir: string, port: number, logFile: string) {
  return asPostgres('pg_ctl', ['-D', dataDir, '-o', `-p ${port}`, '-l', logFile, '-w', 'start']);
}

/** `fast` disconnects clients and shuts down cleanly; `immediate` is a crash (recovery on start). */
export type StopMode = 'fast' | 'immediate';

export function stopPostmaster(dataDir: string, mode: StopMode) {
  return asPostgres('pg_ctl', ['-D', dataDir, '-m', mode, '-w', 'stop']);
}

export interface PostgresCluster {
  port: number;
  url(database: string): string;
  /** Stops the server, keeping its data. */
  stop(mode?: StopMode): Promise<void>;
  /** Starts it again on the same port, waiting until it accepts connections. */
  start(): Promise<void>;
  /** Stops it (if running) and deletes its data. Safe to call twice. */
  remove(): Promise<void>;
}

/** A single private cluster that a test may stop and start at will. */
export async function startCluster(
  settings: Record<string, string | number> = {},
): Promise<PostgresCluster> {
  const base = clusterBase('quarry-cluster');
  const dataDir = join(base.path, 'data');
  const port = await freePort();
  const start = () =>
    startPostmaster(dataDir, port, join(base.path, 'postgres.log')).then(() => undefined);
  const remove = async () => {
    await stopPostmaster(dataDir, 'immediate').catch(() => undefined);
    base.remove();
  };
  try {
    await initCluster(dataDir, base.path, settings);
    await start();
  } catch (error) {
    await remove();
    throw error;
  }
  return {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop: (mode = 'fast') => stopPostmaster(dataDir, mode).then(() => undefined),
    start,
    remove,
  };
}
