import { createCaller, createContextInner, openAccess } from '@quarry/api';
import { createEmbeddingRegistry, type EmbeddingRegistry } from '@quarry/api/embeddings';
import { migrate, migrationState, QuarryError, type Database } from '@quarry/db';
import type { DatabaseSettings, OpenAISettings } from '../env';
import {
  describeDatabase,
  embeddedDatabaseIn,
  embeddingProviders,
  noEmbeddedDatabase,
  openDatabase,
} from '../services';
import type { QuarryTarget } from './target';

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
