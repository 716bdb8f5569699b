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
  if (!collection) {
    throw new QuarryError(
      'COLLECTION_NOT_FOUND',
      `collection '${name}' does not exist; create it first or check the name`,
    );
  }
  return collection;
}

/**
 * Holds the collection's row for the rest of a writing transaction (`FOR KEY SHARE`, which the
 * foreign key takes anyway, only earlier): a delete of the collection then waits for the
 * transaction and deletes its documents too, instead of the insert failing on the foreign key
 * (a 500). A collection deleted since it was looked up is COLLECTION_NOT_FOUND. `run` executes a
 * statement in the transaction and returns its rows.
 */
export async function holdCollection(
  run: (query: SQL) => Promise<readonly unknown[]>,
  collection: Pick<Collection, 'id' | 'name'>,
): Promise<void> {
  const rows = await run(
    sql`select 1 from ${collections} where ${collections.id} = ${collection.id} for key share`,
  );
  if (rows.length === 0) {
    throw new QuarryError(
      'COLLECTION_NOT_FOUND',
      `collection '${collection.name}' was deleted while this request was running; nothing was written`,
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
