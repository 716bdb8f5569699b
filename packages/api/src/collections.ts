import {
  collections,
  eq,
  QuarryError,
  sql,
  type Collection,
  type QuarryDatabase,
  type SQL,
} from '@quarry/db';

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
