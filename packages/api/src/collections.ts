import { collections, eq, QuarryError, type Collection, type QuarryDatabase } from '@quarry/db';

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
