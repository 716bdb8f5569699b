import { and, collections, documents, eq, type Metadata, type QuarryDatabase } from '@quarry/db';
import { randomBytes } from 'node:crypto';
import { compileFilter, matchesFilter, type MetadataFilter } from '../src/filter';

/**
 * Something that answers "which of these documents does the filter select?" with the positions of
 * the selected documents, ascending: the SQL compiler on a database, or the reference evaluator.
 */
export interface FilterEngine {
  name: string;
  load(metadata: readonly Metadata[]): Promise<void>;
  select(filter: MetadataFilter): Promise<number[]>;
}

export function referenceEngine(): FilterEngine {
  let loaded: readonly Metadata[] = [];
  return {
    name: 'reference',
    load(metadata) {
      loaded = metadata;
      return Promise.resolve();
    },
    select(filter) {
      const positions = loaded.flatMap((metadata, position) =>
        matchesFilter(metadata, filter) ? [position] : [],
      );
      return Promise.resolve(positions);
    },
  };
}

/** A collection of its own in `database`; `load` replaces its documents. */
export async function sqlEngine(
  database: { db: QuarryDatabase },
  name: string,
): Promise<FilterEngine & { collectionId: number }> {
  const [collection] = await database.db
    .insert(collections)
    .values({
      name: `filter-${randomBytes(4).toString('hex')}`,
      dimensions: 3,
      embeddingModel: 'none',
    })
    .returning({ id: collections.id });
  if (!collection) throw new Error('insert into collections returned no row');
  const collectionId = collection.id;
  return {
    name,
    collectionId,
    async load(metadata) {
      await database.db.delete(documents).where(eq(documents.collectionId, collectionId));
      if (metadata.length === 0) return;
      await database.db.insert(documents).values(
        metadata.map((entry, position) => ({
          collectionId,
          content: `document ${position}`,
          externalId: String(position),
          metadata: entry,
        })),
      );
    },
    async select(filter) {
      const rows = await database.db
        .select({ externalId: documents.externalId })
        .from(documents)
        .where(and(eq(documents.collectionId, collectionId), compileFilter(filter)));
      return rows.map((row) => Number(row.externalId)).sort((a, b) => a - b);
    },
  };
}
