import { and, eq, sql } from 'drizzle-orm';
import { jsonb, pgTable, text, timestamp, uuid, vector } from 'drizzle-orm/pg-core';
import { afterEach, expect, it } from 'vitest';
import {
  collections,
  createDb,
  distanceTo,
  documents as quarryDocuments,
  inCollection,
  migrate,
  queryRows,
  vectorIndexStatus,
  type QuarryDatabase,
} from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import { allDocuments, indexDefinitions, nudged, randomVector, seededRandom } from './helpers';

/**
 * The guide's table as its application declares it (with Drizzle's native 1536-dimension vector
 * column), and its `searchDocuments` below with the body unchanged. Only `db` is handed in instead
 * of imported from './db'.
 */
const documents = pgTable('documents', {
  id: uuid('id').primaryKey().defaultRandom(),
  content: text('content').notNull(),
  metadata: jsonb('metadata'),
  embedding: vector('embedding', { dimensions: 1536 }),
  createdAt: timestamp('created_at').defaultNow(),
});

function guideApplication(db: QuarryDatabase) {
  // prettier-ignore
  async function searchDocuments(queryEmbedding: number[], userId: string) {
    return await db.select({
      id: documents.id,
      content: documents.content,
      similarity: sql<number>`1 - (${documents.embedding} <=> ${JSON.stringify(queryEmbedding)})`
    })
    .from(documents)
    .where(and(
      sql`${documents.metadata}->>'user_id' = ${userId}`,
      sql`${documents.embedding} <=> ${JSON.stringify(queryEmbedding)} < 0.5` // Threshold
    ))
    .orderBy(sql`${documents.embedding} <=> ${JSON.stringify(queryEmbedding)}`)
    .limit(5);
  }
  return { searchDocuments };
}

/** Exactly the guide's SQL, statement by statement. */
const guideDdl = [
  `CREATE EXTENSION IF NOT EXISTS vector;`,
  `CREATE TABLE documents (
id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
content TEXT NOT NULL,
metadata JSONB,
embedding vector(1536), -- 1536 for OpenAI text-embedding-3-small
created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);`,
  `CREATE INDEX ON documents
USING hnsw (embedding vector_cosine_ops)
WITH (m = 16, ef_construction = 64);`,
];

const guideDdlWithL2 = guideDdl.map((statement) =>
  statement.replace('vector_cosine_ops', 'vector_l2_ops'),
);

type GuideRow = typeof documents.$inferInsert;

/**
 * What the guide's application would have written: users' documents, one without metadata, one
 * with non-object metadata, one without an embedding, and the same content stored twice.
 */
function guideRows(): { rows: GuideRow[]; target: GuideRow & { embedding: number[] } } {
  const random = seededRandom(1536);
  const target = {
    content: 'Quarterly revenue grew 12% on subscription sales',
    metadata: { user_id: 'alice', source: 'report.pdf' },
    embedding: randomVector(1536, random),
  };
  const rows: GuideRow[] = [
    target,
    // Bob's copy of nearly the same text: close to the target, but another user's.
    {
      content: 'Quarterly revenue grew 12%',
      metadata: { user_id: 'bob' },
      embedding: nudged(target.embedding, random, 0.05),
    },
    { content: 'Meeting notes', metadata: null, embedding: randomVector(1536, random) },
    {
      content: 'Duplicate paragraph',
      metadata: { user_id: 'alice' },
      embedding: randomVector(1536, random),
    },
    {
      content: 'Duplicate paragraph',
      metadata: { user_id: 'alice' },
      embedding: randomVector(1536, random),
    },
    {
      content: 'Tagged note',
      metadata: ['draft', 'internal'],
      embedding: randomVector(1536, random),
    },
    { content: 'Not embedded yet', metadata: { user_id: 'alice' }, embedding: null },
  ];
  for (let i = 0; i < 13; i++) {
    rows.push({
      content: `Filler ${i}`,
      metadata: { user_id: i % 2 ? 'alice' : 'bob' },
      embedding: randomVector(1536, random),
    });
  }
  return { rows, target };
}

async function createGuideDatabase(database: TestDatabase, ddl: readonly string[]): Promise<void> {
  // The guide's DDL is constant text written above; nothing from outside enters it.
  for (const statement of ddl) await database.db.execute(sql.raw(statement));
  await database.db.insert(documents).values(guideRows().rows);
}

function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  a.forEach((x, i) => {
    const y = b[i] ?? 0;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  });
  return dot / Math.sqrt(normA * normB);
}

describeEachTarget()('adopting the guide database on $name', (target) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
  });

  async function adoptedGuideDatabase(ddl: readonly string[] = guideDdl): Promise<TestDatabase> {
    database = await target.createDatabase({ migrated: false });
    await createGuideDatabase(database, ddl);
    await migrate(database);
    return database;
  }

  it('keeps every row with its id, content and exact vector', async () => {
    const guide = await target.createDatabase({ migrated: false });
    database = guide;
    await createGuideDatabase(guide, guideDdl);
    // pgvector prints each float32 component in its shortest exact form, so equal text is equal bits.
    const storedRows = () =>
      queryRows<{ id: string; content: string; embedding: string | null }>(
        guide.db,
        sql`select id, content, embedding::text as embedding from documents order by id`,
      );
    const before = await storedRows();
    await migrate(guide);
    const after = await storedRows();
    expect(after.length).toBe(guideRows().rows.length);
    const changed = after
      .filter((row, i) => JSON.stringify(row) !== JSON.stringify(before[i]))
      .map((row) => row.content);
    expect(changed).toEqual([]);
  });

  it('reads back through Quarry exactly the vectors the guide application wrote', async () => {
    const { db } = await adoptedGuideDatabase();
    const written = new Map(guideRows().rows.map((row) => [row.content, row.embedding]));
    const read = await allDocuments(db);
    const differing = read
      .filter((row) => row.content !== 'Duplicate paragraph')
      .filter((row) => JSON.stringify(row.embedding) !== JSON.stringify(written.get(row.content)))
      .map((row) => row.content);
    expect(read.length).toBe(written.size + 1);
    expect(differing).toEqual([]);
  });

  it('keeps both copies of a duplicated content', async () => {
    const { db } = await adoptedGuideDatabase();
    const copies = await db
      .select()
      .from(quarryDocuments)
      .where(eq(quarryDocuments.content, 'Duplicate paragraph'));
    expect(copies).toHaveLength(2);
  });

  it('turns missing metadata into an empty object and keeps non-object metadata under "value"', async () => {
    const { db } = await adoptedGuideDatabase();
    const rows = await db
      .select({ content: quarryDocuments.content, metadata: quarryDocuments.metadata })
      .from(quarryDocuments);
    const byContent = new Map(rows.map((row) => [row.content, row.metadata]));
    expect(byContent.get('Meeting notes')).toEqual({});
    expect(byContent.get('Tagged note')).toEqual({ value: ['draft', 'internal'] });
    expect(byContent.get('Quarterly revenue grew 12% on subscription sales')).toEqual({
      user_id: 'alice',
      source: 'report.pdf',
    });
  });

  it("adopts the rows as a 'documents' collection of 1536 dimensions with the cosine metric", async () => {
    const { db } = await adoptedGuideDatabase();
    const adopted = await db.select().from(collections);
    expect(adopted).toMatchObject([
      { name: 'documents', dimensions: 1536, metric: 'cosine', hnswM: 16, hnswEfConstruction: 64 },
    ]);
    const outside = await db
      .select({ id: quarryDocuments.id })
      .from(quarryDocuments)
      .where(sql`${quarryDocuments.collectionId} is distinct from ${adopted[0]?.id ?? -1}`);
    expect(outside).toEqual([]);
  });

  it('adopts a guide database indexed with vector_l2_ops with the l2 metric', async () => {
    const { db } = await adoptedGuideDatabase(guideDdlWithL2);
    const [adopted] = await db.select().from(collections);
    expect(adopted).toMatchObject({ name: 'documents', dimensions: 1536, metric: 'l2' });
  });

  it("replaces the guide's whole-table index with the collection's HNSW index on vector(1536) with vector_cosine_ops", async () => {
    const database = await adoptedGuideDatabase();
    const [adopted] = await database.db.select().from(collections);
    if (!adopted) throw new Error('no adopted collection');
    const status = await vectorIndexStatus(database.db, adopted.id);
    expect(status).toHaveLength(1);
    expect(status[0]?.valid).toBe(true);
    expect(status[0]?.definition).toContain(
      'USING hnsw (((embedding)::vector(1536)) vector_cosine_ops)',
    );
    expect(status[0]?.definition).toContain("WITH (m='16', ef_construction='64')");
    expect(status[0]?.definition).toContain(`WHERE (collection_id = ${adopted.id})`);
    const hnswIndexes = [...(await indexDefinitions(database.db, 'documents')).values()].filter(
      (def) => def.includes('USING hnsw'),
    );
    expect(hnswIndexes).toEqual([status[0]?.definition]);
  });

  it("finds the guide's rows by vector through Quarry's distance query", async () => {
    const { db } = await adoptedGuideDatabase();
    const [adopted] = await db.select().from(collections);
    if (!adopted) throw new Error('no adopted collection');
    const { rows, target: wanted } = guideRows();
    const query = nudged(wanted.embedding, seededRandom(7));
    const bruteForce = rows
      .filter((row): row is GuideRow & { embedding: number[] } => Array.isArray(row.embedding))
      .sort((a, b) => cosineSimilarity(b.embedding, query) - cosineSimilarity(a.embedding, query));
    expect(bruteForce[0]?.content).toBe(wanted.content);

    const nearest = await db
      .select({ content: quarryDocuments.content })
      .from(quarryDocuments)
      .where(inCollection(adopted.id))
      .orderBy(distanceTo(adopted, query))
      .limit(3);
    expect(nearest.map((row) => row.content)).toEqual(
      bruteForce.slice(0, 3).map((row) => row.content),
    );
  });

  it("still answers the guide's own searchDocuments with the right row and similarity", async () => {
    const { db } = await adoptedGuideDatabase();
    const { target: wanted } = guideRows();
    const query = nudged(wanted.embedding, seededRandom(7));
    const [byId] = await queryRows<{ id: string }>(
      db,
      sql`select id from documents where content = ${wanted.content}`,
    );

    const results = await guideApplication(db).searchDocuments(query, 'alice');

    expect(results.map((row) => row.id)).toEqual([byId?.id]);
    expect(results[0]?.content).toBe(wanted.content);
    expect(Number(results[0]?.similarity)).toBeCloseTo(
      cosineSimilarity(wanted.embedding, query),
      5,
    );
  });

  it("leaves searchDocuments returning another user's nearby row only to that user", async () => {
    const { db } = await adoptedGuideDatabase();
    const { target: wanted } = guideRows();
    const query = nudged(wanted.embedding, seededRandom(7));
    const results = await guideApplication(db).searchDocuments(query, 'bob');
    expect(results.map((row) => row.content)).toEqual(['Quarterly revenue grew 12%']);
  });

  it('two migrate() calls at the same time adopt the guide database once', async () => {
    const guide = await target.createDatabase({ migrated: false });
    database = guide;
    await createGuideDatabase(guide, guideDdl);
    const second = guide.config.driver === 'postgres' ? await createDb(guide.config) : guide;
    try {
      await Promise.all([migrate(guide), migrate(second)]);
    } finally {
      if (second !== guide) await second.close();
    }
    const adopted = await guide.db.select().from(collections);
    expect(adopted.map((collection) => collection.name)).toEqual(['documents']);
    const [count] = await queryRows<{ n: string | number }>(
      guide.db,
      sql`select count(*) as n from documents`,
    );
    expect(Number(count?.n)).toBe(guideRows().rows.length);
    // Each call returns only once the index is valid or the other call is building it.
    const indexes = await vectorIndexStatus(guide.db, adopted[0]?.id ?? -1);
    expect(indexes.map((index) => index.valid)).toEqual([true]);
  });

  it('adopting and then migrating again changes nothing', async () => {
    const database = await adoptedGuideDatabase();
    const snapshot = async () => ({
      rows: await queryRows(database.db, sql`select * from documents order by id`),
      collections: await queryRows(database.db, sql`select * from collections order by id`),
      indexes: await queryRows(
        database.db,
        sql`select indexrelid::oid::text as oid from pg_index where indrelid = 'documents'::regclass order by 1`,
      ),
    });
    const before = await snapshot();
    await migrate(database);
    expect(await snapshot()).toEqual(before);
  });
});
