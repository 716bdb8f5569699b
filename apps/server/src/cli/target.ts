import {
  createCaller,
  createContextInner,
  openAccess,
  type RouterInputs,
  type RouterOutputs,
} from '@quarry/api';
import { createEmbeddingRegistry, type EmbeddingRegistry } from '@quarry/api/embeddings';
import { createQuarryClient } from '@quarry/client';
import { migrate, migrationState, QuarryError, type Database } from '@quarry/db';
import type { DatabaseSettings, OpenAISettings } from '../env';
import {
  describeDatabase,
  embeddedDatabaseIn,
  embeddingProviders,
  noEmbeddedDatabase,
  openDatabase,
} from '../services';

/**
 * What the CLI talks to: a running server over HTTP (the typed client), or the database directly
 * through the same API procedures in-process (the caller). Both speak the router's types.
 */
export interface QuarryTarget {
  description: string;
  ingest(input: RouterInputs['documents']['ingest']): Promise<RouterOutputs['documents']['ingest']>;
  stored(input: RouterInputs['documents']['stored']): Promise<RouterOutputs['documents']['stored']>;
  search(input: RouterInputs['search']['query']): Promise<RouterOutputs['search']['query']>;
  listCollections(): Promise<RouterOutputs['collections']['list']>;
  getCollection(name: string): Promise<RouterOutputs['collections']['get']>;
  createCollection(
    input: RouterInputs['collections']['create'],
  ): Promise<RouterOutputs['collections']['create']>;
  reembedStart(input: RouterInputs['reembed']['start']): Promise<RouterOutputs['reembed']['start']>;
  reembedProgress(collection: string): Promise<RouterOutputs['reembed']['progress']>;
  reembedCancel(collection: string): Promise<RouterOutputs['reembed']['cancel']>;
  /** Calls that can usefully run at once: one for the single-connection embedded database. */
  maxConcurrency: number;
  close(): Promise<void>;
}

export function httpTarget(url: string, apiKey: string | undefined): QuarryTarget {
  const client = createQuarryClient({ url, ...(apiKey ? { apiKey } : {}) });
  return {
    description: `server ${url}`,
    ingest: (input) => client.documents.ingest.mutate(input),
    stored: (input) => client.documents.stored.query(input),
    search: (input) => client.search.query.query(input),
    listCollections: () => client.collections.list.query(),
    getCollection: (name) => client.collections.get.query({ name }),
    createCollection: (input) => client.collections.create.mutate(input),
    reembedStart: (input) => client.reembed.start.mutate(input),
    reembedProgress: (collection) => client.reembed.progress.query({ collection }),
    reembedCancel: (collection) => client.reembed.cancel.mutate({ collection }),
    maxConcurrency: 64,
    close: () => Promise.resolve(),
  };
}

/** There is no database where the command looked, and the command does not create one. */
export class NoDatabaseError extends Error {
  override readonly name = 'NoDatabaseError';
}

/**
 * Opens the database in this process. The embedded database is migrated on open (as the server
 * does), and created only when `create` is set (a command that writes, such as `collections
 * create`): a command that reads says there is none instead. A server database must already be
 * migrated (`quarry migrate`), since migrating is a deliberate step there.
 */
export async function databaseTarget(
  settings: DatabaseSettings,
  openai: OpenAISettings | undefined,
  options: { create: boolean },
): Promise<QuarryTarget & { database: Database; embeddings: EmbeddingRegistry }> {
  if (settings.driver === 'embedded' && !options.create) {
    const state = embeddedDatabaseIn(settings.dataDir);
    if (state !== 'present') throw new NoDatabaseError(noEmbeddedDatabase(settings.dataDir, state));
  }
  const { database, replicas } = await openDatabase(settings, 'quarry-cli');
  try {
    if (settings.driver === 'embedded') {
      await migrate(database);
    } else {
      const state = await migrationState(database);
      if (state.applied < state.committed) {
        throw new QuarryError(
          'INVALID_INPUT',
          `the database has ${state.applied} of ${state.committed} migrations applied; run \`quarry migrate\` first`,
        );
      }
    }
  } catch (error) {
    await database.close();
    await Promise.all(replicas.map((replica) => replica.close()));
    throw error;
  }
  const embeddings = createEmbeddingRegistry(embeddingProviders(openai));
  const caller = createCaller(
    createContextInner({ database, replicas, embeddings }, openAccess, 'cli'),
  );
  return {
    database,
    embeddings,
    description: describeDatabase(settings),
    ingest: (input) => caller.documents.ingest(input),
    stored: (input) => caller.documents.stored(input),
    search: (input) => caller.search.query(input),
    listCollections: () => caller.collections.list(),
    getCollection: (name) => caller.collections.get({ name }),
    createCollection: (input) => caller.collections.create(input),
    reembedStart: (input) => caller.reembed.start(input),
    reembedProgress: (collection) => caller.reembed.progress({ collection }),
    reembedCancel: (collection) => caller.reembed.cancel({ collection }),
    maxConcurrency: settings.driver === 'embedded' ? 1 : 8,
    async close() {
      await Promise.allSettled([database.close(), ...replicas.map((replica) => replica.close())]);
    },
  };
}
