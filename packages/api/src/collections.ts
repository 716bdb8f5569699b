import {
  and,
  collections,
  documents,
  eq,
  inCollection,
  QuarryError,
  sql,
  type Collection,
  type QuarryDatabase,
  type SQL,
} from '@quarry/db';
import type { EmbeddingProvider, EmbeddingRegistry } from './embeddings';

/**
 * A collection as a search last read it, with its fingerprint: md5 of the whole row as text, so
 * any change to the row (or a new collection under the name: a new id) gives another one.
 */
export interface CachedCollection {
  collection: Collection;
  fingerprint: string;
}

/** Per database (the primary, each replica), by name; bounded, oldest dropped first. */
const collectionCache = new WeakMap<object, Map<string, CachedCollection>>();
const MAX_CACHED_COLLECTIONS = 1_000;

/**
 * The collection for a read that checks it is still current in its own first statement
 * (`collectionIsCurrent`): from the cache when there, otherwise looked up (one round trip) and
 * cached. No invalidation message is needed between instances: every instance compares the
 * fingerprint in the same round trip as the request's settings, and a stale entry is dropped
 * (`forgetCollection`) and the request run again.
 */
export async function cachedCollection(
  executor: Pick<QuarryDatabase, 'select'>,
  name: string,
): Promise<CachedCollection> {
  let byName = collectionCache.get(executor);
  if (!byName) collectionCache.set(executor, (byName = new Map<string, CachedCollection>()));
  const cached = byName.get(name);
  if (cached) return cached;
  const [row] = await executor
    .select({ collection: collections, fingerprint: sql<string>`md5(${collections}::text)` })
    .from(collections)
    .where(eq(collections.name, name))
    .limit(1);
  if (!row) throw collectionNotFound(name);
  if (byName.size >= MAX_CACHED_COLLECTIONS) byName.delete(byName.keys().next().value ?? '');
  byName.set(name, row);
  return row;
}

export function isCollectionCached(executor: object, name: string): boolean {
  return collectionCache.get(executor)?.has(name) ?? false;
}

export function forgetCollection(executor: object, name: string): void {
  collectionCache.get(executor)?.delete(name);
}

/** True while the collection's row is the one cached: a boolean SQL expression for a SELECT list. */
export function collectionIsCurrent(cached: CachedCollection): SQL<boolean> {
  return sql<boolean>`coalesce((select md5(${collections}::text) = ${cached.fingerprint} from ${collections} where ${collections.id} = ${cached.collection.id}), false)`;
}

function collectionNotFound(name: string): QuarryError {
  return new QuarryError(
    'COLLECTION_NOT_FOUND',
    `collection '${name}' does not exist; create it first or check the name`,
  );
}

/**
 * A collection's settings as `collections.create` takes them: shown by get and list, and the first
 * line of an export (export.ts), from which an import creates a collection alike.
 */
export function collectionSettings(collection: Collection) {
  return {
    name: collection.name,
    dimensions: collection.dimensions,
    metric: collection.metric,
    embeddingModel: collection.embeddingModel,
    hnsw: { m: collection.hnswM, efConstruction: collection.hnswEfConstruction },
    /** The PostgreSQL text-search configuration keyword search stems and matches words with. */
    textSearchConfig: collection.textSearchConfig,
  };
}

export type CollectionSettings = ReturnType<typeof collectionSettings>;

/** Looks a collection up by name, or says which name was not found. */
export async function loadCollection(
  executor: Pick<QuarryDatabase, 'select'>,
  name: string,
): Promise<Collection> {
  const [collection] = await executor
    .select()
    .from(collections)
    .where(eq(collections.name, name))
    .limit(1);
  if (!collection) throw collectionNotFound(name);
  return collection;
}

/**
 * Holds the collection's row for the rest of a writing transaction (`FOR KEY SHARE`, which the
 * foreign key takes anyway, only earlier): a delete of the collection then waits for the
 * transaction and deletes its documents too, instead of the insert failing on the foreign key
 * (a 500). A collection deleted since it was looked up is COLLECTION_NOT_FOUND; one whose model a
 * re-embed switched since (its vectors were made for the old one) is TRANSACTION_CONFLICT. `run`
 * executes a statement in the transaction and returns its rows.
 */
export async function holdCollection(
  run: (query: SQL) => Promise<readonly unknown[]>,
  collection: Pick<Collection, 'id' | 'name'> &
    Partial<Pick<Collection, 'embeddingModel' | 'dimensions'>>,
  /** Set for the rest of the transaction by the same statement (one round trip less). */
  settings: { statementTimeoutMs?: number } = {},
): Promise<void> {
  const timeout =
    settings.statementTimeoutMs === undefined
      ? sql``
      : sql`, set_config('statement_timeout', ${String(settings.statementTimeoutMs)}, true) as statement_timeout`;
  const rows = (await run(
    sql`select ${collections.embeddingModel} as model, ${collections.dimensions} as dimensions${timeout}
        from ${collections} where ${collections.id} = ${collection.id} for key share`,
  )) as ReadonlyArray<{ model: string; dimensions: number }>;
  const [held] = rows;
  if (!held) {
    throw new QuarryError(
      'COLLECTION_NOT_FOUND',
      `collection '${collection.name}' was deleted while this request was running; nothing was written`,
    );
  }
  // A re-embed switched the collection (reembed.ts) after this request made its vectors.
  if (
    (collection.embeddingModel !== undefined && held.model !== collection.embeddingModel) ||
    (collection.dimensions !== undefined && Number(held.dimensions) !== collection.dimensions)
  ) {
    throw new QuarryError(
      'TRANSACTION_CONFLICT',
      `collection '${collection.name}' moved to model '${held.model}' (${held.dimensions} dimensions) while this request was running; nothing was written; send it again`,
    );
  }
}

/**
 * The provider that embeds text for `collection`: its own model, producing its dimensions.
 * EMBEDDING_PROVIDER_MISMATCH otherwise; `remedy` says what the caller can send instead of text
 * (e.g. 'send a query vector instead of text').
 */
export function embeddingProviderFor(
  embeddings: EmbeddingRegistry,
  collection: Pick<Collection, 'name' | 'embeddingModel' | 'dimensions'>,
  remedy: string,
): EmbeddingProvider {
  const provider = embeddings.get(collection.embeddingModel);
  if (!provider) {
    throw new QuarryError(
      'EMBEDDING_PROVIDER_MISMATCH',
      `collection '${collection.name}' uses model '${collection.embeddingModel}', which this server cannot run; ${remedy}`,
    );
  }
  if (provider.dimensions !== collection.dimensions) {
    throw new QuarryError(
      'EMBEDDING_PROVIDER_MISMATCH',
      `model '${provider.model}' produces ${provider.dimensions} dimensions, but collection '${collection.name}' expects ${collection.dimensions}`,
    );
  }
  return provider;
}

/**
 * One document as a key may see it: in the collection and, for a tenant, that tenant's. The
 * condition for a WHERE, and the error for when no row passes it, so every lookup by id (get,
 * "more like this", inspect) refuses alike and says nothing of other tenants' rows.
 */
export function documentInScope(
  collection: Pick<Collection, 'id' | 'name'>,
  id: string,
  tenant: string | undefined,
) {
  return {
    where: and(
      inCollection(collection.id),
      eq(documents.id, id),
      tenant === undefined ? undefined : eq(documents.tenantId, tenant),
    ),
    /** DOCUMENT_NOT_FOUND naming the collection and tenant; `detail` is appended to the message. */
    notFound: (detail = '') =>
      new QuarryError(
        'DOCUMENT_NOT_FOUND',
        `document ${id} is not in collection '${collection.name}'${tenant ? ` for tenant '${tenant}'` : ''}${detail}`,
      ),
  };
}
