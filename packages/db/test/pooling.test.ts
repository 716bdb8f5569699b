import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createDb,
  distanceTo,
  documents,
  ensureVectorIndex,
  inCollection,
  type Collection,
  type Database,
  type DbConfig,
} from '../src/index';
import * as schema from '../src/schema';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import { createCollection, insertDocuments, nudged, randomVector, seededRandom } from './helpers';

const parallelQueries = 50;
const rounds = 5;
const poolSize = 10;

/**
 * A named prepared query, the kind an application prepares once and runs often. Drizzle's
 * postgres.js driver asks for a server-side prepared statement only for these; whether one is
 * really made is the client's `prepare` setting, which `pooled: true` turns off.
 */
function documentByNumber(database: Pick<Database, 'db'>) {
  return database.db
    .select({ content: documents.content })
    .from(documents)
    .where(sql`${documents.metadata} @> ${sql.placeholder('metadata')}::jsonb`)
    .prepare('document_by_number');
}

/** A second connection pool onto the same scratch database, of `poolSize` connections. */
async function poolOnto(database: TestDatabase): Promise<Database | undefined> {
  if (database.config.driver !== 'postgres') return undefined;
  const config: DbConfig = { ...database.config, maxConnections: poolSize };
  return createDb(config);
}

describeEachTarget()('concurrent queries on $name', (target) => {
  let database: TestDatabase;
  let collection: Collection;
  let vectors: number[][];

  beforeAll(async () => {
    database = await target.createDatabase();
    collection = await createCollection(database.db, { name: 'concurrency', dimensions: 32 });
    const random = seededRandom(50);
    vectors = Array.from({ length: parallelQueries }, () => randomVector(32, random));
    await insertDocuments(
      database.db,
      collection,
      vectors.map((embedding, i) => ({ content: `doc ${i}`, embedding, metadata: { n: i } })),
    );
    await ensureVectorIndex(database, collection);
  });
  afterAll(async () => {
    await database.close();
  });

  it(`answers ${parallelQueries} parallel queries on a pool of ${poolSize} connections, ${rounds} times over, each with its own right answer`, async () => {
    const pool = (await poolOnto(database)) ?? database;
    try {
      const random = seededRandom(51);
      const byNumber = documentByNumber(pool);
      for (let round = 0; round < rounds; round++) {
        // Two statement shapes with bound parameters, interleaved: a vector search, and a named
        // prepared query that every connection reuses.
        const answers = await Promise.all(
          vectors.map(async (vector, i) => {
            if ((i + round) % 2 === 0) {
              const [row] = await pool.db
                .select({ content: documents.content })
                .from(documents)
                .where(inCollection(collection.id))
                .orderBy(distanceTo(collection, nudged(vector, random)))
                .limit(1);
              return row?.content;
            }
            const [row] = await byNumber.execute({ metadata: JSON.stringify({ n: i }) });
            return row?.content;
          }),
        );
        expect(answers).toEqual(vectors.map((_, i) => `doc ${i}`));
      }
    } finally {
      if (pool !== database) await pool.close();
    }
  });

  if (target.name === 'pgbouncer') {
    it("pgbouncer only: the same prepared query through the guide's plain postgres.js client stalls or fails, which is the guide's pitfall", async () => {
      // PgBouncer in transaction mode hands each transaction to any server connection, but a
      // prepared statement lives on the one that prepared it. The server then reports
      // "prepared statement ... does not exist" (or "already exists", for drivers that reuse
      // statement names), and postgres.js's retry leaves the affected queries waiting for good.
      // The guide's client: postgres.js with its defaults (prepared statements on, pipelining).
      // createDb's pool admits as many statements as it has connections, so nothing is
      // pipelined and postgres.js's re-prepare succeeds; the plain driver shows the pitfall.
      if (!database.url) throw new Error('the pgbouncer target has a URL');
      const client = postgres(database.url, { max: poolSize, onnotice: () => {} });
      const unpooled = { db: drizzle(client, { schema }), close: () => client.end({ timeout: 5 }) };
      const byNumber = documentByNumber(unpooled);
      let unanswered = 0;
      try {
        for (let round = 0; round < rounds && unanswered === 0; round++) {
          const outcomes = await Promise.all(
            vectors.map((_, i) => {
              const query = byNumber.execute({ metadata: JSON.stringify({ n: i }) }).then(
                (rows) => rows[0]?.content === `doc ${i}`,
                () => false,
              );
              const deadline = new Promise<boolean>((resolve) =>
                setTimeout(() => resolve(false), 5_000),
              );
              return Promise.race([query, deadline]);
            }),
          );
          unanswered = outcomes.filter((answered) => !answered).length;
        }
      } finally {
        await unpooled.close();
      }
      expect(unanswered).toBeGreaterThan(0);
    });
  }
});
