import type { RouterInputs, RouterOutputs } from '@quarry/api';
import { createQuarryClient } from '@quarry/client';

/**
 * What the CLI talks to: a running server over HTTP (the typed client), or the database directly
 * through the same API procedures in-process (the caller, ./database-target). Both speak the
 * router's types. This module loads no database code: a command through a server starts without it.
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
