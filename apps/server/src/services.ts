import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createReplicaSet, type QuarryServices, type ReplicaSet } from '@quarry/api';
import {
  createEmbeddingRegistry,
  createOfflineEmbeddingProvider,
  createOpenAICompatibleProvider,
  type EmbeddingProvider,
} from '@quarry/api/embeddings';
import { createDb, type Database } from '@quarry/db';
import { lockDataDir } from './data-dir-lock';
import type { DatabaseSettings, OpenAISettings } from './env';

/** Everything the API needs, opened once; `close` releases the pools and the data directory. */
export interface OpenServices {
  services: QuarryServices;
  database: Database;
  replicas: Database[];
  /** The replicas with their health, as searches use them and /readyz shows them. */
  replicaSet: ReplicaSet;
  close(): Promise<void>;
}

/** A short, password-free description of where the data lives, for logs. */
export function describeDatabase(settings: DatabaseSettings): string {
  if (settings.driver === 'embedded') return `embedded PGlite in ${settings.dataDir}`;
  const url = new URL(settings.url);
  return `PostgreSQL at ${url.host}${url.pathname}${settings.pooled ? ' (pooled)' : ''}${settings.replicaUrls.length ? `, ${settings.replicaUrls.length} replica(s)` : ''}`;
}

/**
 * Whether an embedded database is in `dataDir`, read without creating anything (opening it would
 * create one). PostgreSQL writes PG_VERSION into a data directory when it initializes it.
 */
export function embeddedDatabaseIn(dataDir: string): 'present' | 'missing' | 'empty' | 'other' {
  if (!existsSync(dataDir)) return 'missing';
  if (existsSync(join(dataDir, 'PG_VERSION'))) return 'present';
  return readdirSync(dataDir).length === 0 ? 'empty' : 'other';
}

/** What to tell someone whose command needs the embedded database in `dataDir`, which has none. */
export function noEmbeddedDatabase(dataDir: string, state: 'missing' | 'empty' | 'other'): string {
  const what = {
    missing: 'the directory does not exist',
    empty: 'the directory is empty',
    other: 'the directory holds files, but no database',
  }[state];
  return (
    `no embedded database in ${dataDir} (${what}). Create it by starting the server (npm start) or ` +
    'with `quarry migrate`; or point at another database: --data-dir (QUARRY_DATA_DIR), ' +
    '--database-url (DATABASE_URL) or a running server with --url (QUARRY_URL)'
  );
}

/** `replica-1 (host:5432)`: the position in DATABASE_REPLICA_URLS and where it is, no password. */
export function replicaName(settings: DatabaseSettings, index: number): string {
  const url = settings.driver === 'postgres' ? settings.replicaUrls[index] : undefined;
  return `replica-${index + 1}${url ? ` (${new URL(url).host})` : ''}`;
}

/** What the server hears from PostgreSQL besides results: pgvector's "graph no longer fits into maintenance_work_mem", for one. */
export type DatabaseNoticeHandler = (notice: { severity?: string; message?: string }) => void;

export async function openDatabase(
  settings: DatabaseSettings,
  applicationName = 'quarry-server',
  onNotice?: DatabaseNoticeHandler,
): Promise<{ database: Database; replicas: Database[] }> {
  if (settings.driver === 'embedded') {
    const lock = lockDataDir(settings.dataDir);
    try {
      const database = await createDb({ driver: 'embedded', dataDir: settings.dataDir });
      return {
        database: {
          ...database,
          async close() {
            try {
              await database.close();
            } finally {
              lock.release();
            }
          },
        },
        replicas: [],
      };
    } catch (error) {
      lock.release();
      throw error;
    }
  }
  const connect = (url: string, role: string) =>
    createDb({
      driver: 'postgres',
      url,
      pooled: settings.pooled,
      maxConnections: settings.maxConnections,
      acquireTimeoutMs: settings.acquireTimeoutMs,
      ...(settings.indexBuildMemory === undefined
        ? {}
        : { indexBuildMemory: settings.indexBuildMemory }),
      ...(onNotice ? { onNotice } : {}),
      applicationName: `${applicationName}-${role}`,
    });
  const database = await connect(settings.url, 'primary');
  const replicas = await Promise.all(
    settings.replicaUrls.map((url, index) => connect(url, `replica-${index + 1}`)),
  );
  return { database, replicas };
}

export function embeddingProviders(openai: OpenAISettings | undefined): EmbeddingProvider[] {
  const providers: EmbeddingProvider[] = [createOfflineEmbeddingProvider()];
  if (openai) {
    providers.push(
      createOpenAICompatibleProvider({
        baseUrl: openai.baseUrl,
        model: openai.model,
        dimensions: openai.dimensions,
        ...(openai.apiKey ? { apiKey: openai.apiKey } : {}),
      }),
    );
  }
  return providers;
}

export async function openServices(options: {
  database: DatabaseSettings;
  openai: OpenAISettings | undefined;
  limits: QuarryServices['limits'];
  onNotice?: DatabaseNoticeHandler;
}): Promise<OpenServices> {
  const { database, replicas } = await openDatabase(
    options.database,
    'quarry-server',
    options.onNotice,
  );
  const replicaSet = createReplicaSet(
    replicas.map((replica, index) => ({
      name: replicaName(options.database, index),
      database: replica,
    })),
    options.database.driver === 'postgres' && options.database.replicaBackoff
      ? { backoff: options.database.replicaBackoff }
      : {},
  );
  const services: QuarryServices = {
    database,
    replicas: replicaSet,
    embeddings: createEmbeddingRegistry(embeddingProviders(options.openai)),
    limits: options.limits,
  };
  return {
    services,
    database,
    replicas,
    replicaSet,
    async close() {
      await Promise.allSettled([database.close(), ...replicas.map((replica) => replica.close())]);
    },
  };
}
