import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  collections,
  createDb,
  distanceTo,
  documents,
  ensureVectorIndex,
  indexedVectorType,
  inCollection,
  MAX_HALFVEC_INDEX_DIMENSIONS,
  MAX_VECTOR_INDEX_DIMENSIONS,
  QuarryError,
  quarryErrorIn,
  queryRows,
  vectorIndexStatus,
  type Collection,
  type DistanceMetric,
  type QuarryDatabase,
} from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import {
  createCollection,
  explain,
  insertDocuments,
  nudged,
  randomVector,
  seededRandom,
} from './helpers';

const operatorSuffix: Record<DistanceMetric, string> = {
  cosine: 'cosine_ops',
  l2: 'l2_ops',
  inner_product: 'ip_ops',
};

/** The k-nearest query Quarry runs: scoped to the collection, ordered by distance ascending, limited. */
function nearestQuery(db: QuarryDatabase, collection: Collection, query: number[], k = 10) {
  return db
    .select({ id: documents.id, content: documents.content })
    .from(documents)
    .where(inCollection(collection.id))
    .orderBy(distanceTo(collection, query))
    .limit(k);
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

/** The messages of an error and its causes (drivers wrap the server's error in their own). */
function messages(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.message);
  return parts.join(' <- ');
}

describeEachTarget()('vector indexes on $name', (target) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await target.createDatabase();
  });
  afterAll(async () => {
    await database.close();
  });

  describe('index type by dimension', () => {
    it.each([
      [1, 'vector'],
      [2000, 'vector'],
      [2001, 'halfvec'],
      [3072, 'halfvec'],
      [4000, 'halfvec'],
    ] as const)('indexes a %i-dimension collection as %s', async (dimensions, type) => {
      expect(indexedVectorType(dimensions)).toBe(type);
      const collection = await createCollection(database.db, {
        name: `dims-${dimensions}`,
        dimensions,
      });
      await ensureVectorIndex(database, collection);
      const [index] = await vectorIndexStatus(database.db, collection.id);
      expect(index?.valid).toBe(true);
      expect(index?.definition).toContain(
        `USING hnsw (((embedding)::${type}(${dimensions})) ${type}_cosine_ops)`,
      );
    });

    it(`pgvector itself refuses an HNSW index on vector above ${MAX_VECTOR_INDEX_DIMENSIONS} dimensions, which is why those go through halfvec`, async () => {
      const failure = await failureOf(
        database.db.execute(
          sql`create index boundary_vector on documents using hnsw ((embedding::vector(${sql.raw(String(MAX_VECTOR_INDEX_DIMENSIONS + 1))})) vector_cosine_ops) where collection_id = 0`,
        ),
      );
      expect(messages(failure)).toMatch(
        new RegExp(`more than ${MAX_VECTOR_INDEX_DIMENSIONS} dimensions`),
      );
    });

    it(`pgvector itself refuses an HNSW index on halfvec above ${MAX_HALFVEC_INDEX_DIMENSIONS} dimensions`, async () => {
      const failure = await failureOf(
        database.db.execute(
          sql`create index boundary_halfvec on documents using hnsw ((embedding::halfvec(${sql.raw(String(MAX_HALFVEC_INDEX_DIMENSIONS + 1))})) halfvec_cosine_ops) where collection_id = 0`,
        ),
      );
      expect(messages(failure)).toMatch(
        new RegExp(`more than ${MAX_HALFVEC_INDEX_DIMENSIONS} dimensions`),
      );
    });

    it('refuses a 4001-dimension collection with DIMENSIONS_UNSUPPORTED and a message that says why and what to do', async () => {
      const collection = await createCollection(database.db, {
        name: 'dims-4001',
        dimensions: 4001,
      });
      const failure = await failureOf(ensureVectorIndex(database, collection));
      expect(failure).toBeInstanceOf(QuarryError);
      expect(failure).toMatchObject({ code: 'DIMENSIONS_UNSUPPORTED' });
      const message = (failure as QuarryError).message;
      expect(message).toContain('4001 dimensions cannot be indexed');
      expect(message).toContain('up to 2000 dimensions as vector and 4000 as halfvec');
      expect(message).toMatch(/fewer dimensions|reduce them/);
      expect(await vectorIndexStatus(database.db, collection.id)).toEqual([]);
      expect(() => indexedVectorType(4001)).toThrow(QuarryError);
    });
  });

  describe('one HNSW index per collection', () => {
    it.each([
      ['cosine', 8],
      ['l2', 8],
      ['inner_product', 8],
      ['cosine', 3072],
      ['l2', 3072],
      ['inner_product', 3072],
    ] as const)(
      "gives a %s collection of %i dimensions its metric's operator class with m = 16, ef_construction = 64",
      async (metric, dimensions) => {
        const collection = await createCollection(database.db, {
          name: `metric-${metric}-${dimensions}`,
          dimensions,
          metric,
        });
        await ensureVectorIndex(database, collection);
        const type = indexedVectorType(dimensions);
        const status = await vectorIndexStatus(database.db, collection.id);
        expect(status).toHaveLength(1);
        expect(status[0]?.definition).toContain(
          `::${type}(${dimensions})) ${type}_${operatorSuffix[metric]})`,
        );
        expect(status[0]?.definition).toContain("WITH (m='16', ef_construction='64')");
        expect(status[0]?.definition).toContain(`WHERE (collection_id = ${collection.id})`);
      },
    );

    it("keeps each collection's index to its own rows", async () => {
      const first = await createCollection(database.db, { name: 'own-rows-a', dimensions: 4 });
      const second = await createCollection(database.db, { name: 'own-rows-b', dimensions: 4 });
      await ensureVectorIndex(database, first);
      await ensureVectorIndex(database, second);
      const [a] = await vectorIndexStatus(database.db, first.id);
      const [b] = await vectorIndexStatus(database.db, second.id);
      expect(a?.name).not.toBe(b?.name);
      expect(a?.definition).toContain(`WHERE (collection_id = ${first.id})`);
      expect(b?.definition).toContain(`WHERE (collection_id = ${second.id})`);
    });

    it('rebuilds the index with new HNSW parameters and drops the old one', async () => {
      const collection = await createCollection(database.db, { name: 'retuned', dimensions: 4 });
      await ensureVectorIndex(database, collection);
      const [retuned] = await database.db
        .update(collections)
        .set({ hnswM: 24, hnswEfConstruction: 100 })
        .where(eq(collections.id, collection.id))
        .returning();
      if (!retuned) throw new Error('collection vanished');
      await ensureVectorIndex(database, retuned);
      const status = await vectorIndexStatus(database.db, collection.id);
      expect(status.map((index) => index.definition)).toEqual([
        expect.stringContaining("WITH (m='24', ef_construction='100')"),
      ]);
    });
  });

  describe('the planner uses the index', () => {
    const dimensions = 384;
    const rowsPerCollection = 1000;
    const random = seededRandom(384);
    const vectors = new Map<DistanceMetric, number[][]>();
    const indexed = new Map<DistanceMetric, Collection>();

    beforeAll(async () => {
      // Real rows, not planner settings: 1,000 384-dimension documents in each of three collections,
      // enough that an HNSW scan is cheaper than reading and sorting every row.
      for (const metric of ['cosine', 'l2', 'inner_product'] as const) {
        const collection = await createCollection(database.db, {
          name: `planned-${metric}`,
          dimensions,
          metric,
        });
        const rows = Array.from({ length: rowsPerCollection }, () =>
          randomVector(dimensions, random),
        );
        await insertDocuments(
          database.db,
          collection,
          rows.map((embedding, i) => ({ content: `${metric} ${i}`, embedding })),
        );
        await ensureVectorIndex(database, collection);
        vectors.set(metric, rows);
        indexed.set(metric, collection);
      }
      await database.db.execute(sql`analyze documents`);
    }, 600_000);

    function planned(metric: DistanceMetric): { collection: Collection; rows: number[][] } {
      const collection = indexed.get(metric);
      const rows = vectors.get(metric);
      if (!collection || !rows) throw new Error(`no ${metric} collection`);
      return { collection, rows };
    }

    it.each(['cosine', 'l2', 'inner_product'] as const)(
      'EXPLAIN shows an Index Scan on the %s collection index for ORDER BY distance LIMIT k',
      async (metric) => {
        const { collection, rows } = planned(metric);
        const plan = await explain(
          database.db,
          nearestQuery(database.db, collection, nudged(rows[0] ?? [], random)).getSQL(),
        );
        const [index] = await vectorIndexStatus(database.db, collection.id);
        expect(index?.name).toMatch(new RegExp(`^documents_hnsw_c${collection.id}_`));
        // On Citus the shard's copy: `..._efc64_102008 on documents_102008`.
        expect(plan).toMatch(new RegExp(`Index Scan using ${index?.name}(_\\d+)? on documents`));
      },
    );

    it.each(['cosine', 'l2'] as const)(
      'the %s index scan returns the nearest document first',
      async (metric) => {
        const { collection, rows } = planned(metric);
        const wanted = 417;
        const results = await nearestQuery(
          database.db,
          collection,
          nudged(rows[wanted] ?? [], random),
          3,
        );
        expect(results[0]?.content).toBe(`${metric} ${wanted}`);
      },
    );

    it('an exact distance query bypasses the index (a sequential scan, the ground truth)', async () => {
      const { collection, rows } = planned('cosine');
      const exact = database.db
        .select({ id: documents.id })
        .from(documents)
        .where(inCollection(collection.id))
        .orderBy(distanceTo(collection, rows[1] ?? [], { exact: true }))
        .limit(10);
      expect(await explain(database.db, exact.getSQL())).not.toContain('documents_hnsw');
    });
  });

  describe('halfvec for 3072 dimensions', () => {
    it('builds the index for a 3072-dimension collection and its query expression can use it', async () => {
      const collection = await createCollection(database.db, {
        name: 'large-3072',
        dimensions: 3072,
      });
      const random = seededRandom(3072);
      const rows = Array.from({ length: 40 }, () => randomVector(3072, random));
      await insertDocuments(
        database.db,
        collection,
        rows.map((embedding, i) => ({ content: `large ${i}`, embedding })),
        10,
      );
      await ensureVectorIndex(database, collection);
      const [index] = await vectorIndexStatus(database.db, collection.id);
      expect(index?.valid).toBe(true);

      const query = nearestQuery(database.db, collection, nudged(rows[7] ?? [], random), 3);
      // 3072-dimension vectors live in TOAST, so the heap looks tiny and reading the collection's
      // rows through its btree index and sorting them looks cheap to the planner at any size a test
      // can afford. Turning sorts off leaves only plans that produce rows already in distance order,
      // and only the HNSW index does that, and only if the query's expression
      // `embedding::halfvec(3072) <=> $1` matches the index expression and its WHERE implies the
      // index predicate. If they did not match, the plan would still show a Sort.
      const plan = await database.db.transaction(async (tx) => {
        // On Citus the shards' queries get it only when SET LOCAL is forwarded (a placeholder elsewhere).
        await tx.execute(sql`select set_config('citus.propagate_set_commands', 'local', true)`);
        await tx.execute(sql`set local enable_sort = off`);
        return explain(tx, query.getSQL());
      });
      expect(plan).toMatch(new RegExp(`Index Scan using ${index?.name}(_\\d+)? on documents`));
      const results = await query;
      expect(results[0]?.content).toBe('large 7');
    });
  });
});

describeEachTarget(['postgres'])('index build memory on $name (a direct connection)', (target) => {
  const graphNotice = /hnsw graph no longer fits into maintenance_work_mem/;
  let scratch: TestDatabase;
  let collection: Collection;
  const databaseName = () => new URL(scratch.url ?? '').pathname.slice(1);

  beforeAll(async () => {
    scratch = await target.createDatabase();
    // This database's sessions start with the smallest maintenance_work_mem, which 3,000
    // 64-dimension vectors outgrow.
    await scratch.db.execute(
      sql.raw(`alter database "${databaseName()}" set maintenance_work_mem = '1MB'`),
    );
    collection = await createCollection(scratch.db, { name: 'memory', dimensions: 64 });
    const random = seededRandom(64);
    await insertDocuments(
      scratch.db,
      collection,
      Array.from({ length: 3000 }, (_, n) => ({
        content: `doc ${n}`,
        embedding: randomVector(64, random),
      })),
    );
  }, 60_000);
  afterAll(async () => {
    await scratch.close();
  });

  /** Builds the collection's index with these HNSW parameters on a one-connection pool, and returns the notices. */
  async function build(hnswM: number, indexBuildMemory: string | false) {
    const notices: string[] = [];
    const database = await createDb({
      driver: 'postgres',
      url: scratch.url ?? '',
      maxConnections: 1,
      indexBuildMemory,
      onNotice: (notice) => notices.push(notice.message ?? ''),
    });
    try {
      await ensureVectorIndex(database, { ...collection, hnswM });
      const [index] = await vectorIndexStatus(database.db, collection.id);
      const [setting] = await queryRows<{ value: string }>(
        database.db,
        sql`select current_setting('maintenance_work_mem') as value`,
      );
      return { notices, index, setting: setting?.value };
    } finally {
      await database.close();
    }
  }

  it("builds with the server's setting when told to, and pgvector says the graph did not fit", async () => {
    const { notices, index } = await build(8, false);
    expect(index).toMatchObject({
      name: `documents_hnsw_c${collection.id}_m8_efc64`,
      valid: true,
    });
    expect(notices.some((notice) => graphNotice.test(notice))).toBe(true);
  });

  it('raises maintenance_work_mem for the build on its connection, and resets it afterwards', async () => {
    const { notices, index, setting } = await build(12, '64MB');
    expect(index).toMatchObject({
      name: `documents_hnsw_c${collection.id}_m12_efc64`,
      valid: true,
    });
    expect(notices.filter((notice) => graphNotice.test(notice))).toEqual([]);
    // The pool's one connection, the one the build reserved, is back to this database's setting.
    expect(setting).toBe('1MB');
  });

  it("holds one of the pool's connections while it builds: a caller who finds none free gets DATABASE_BUSY, not an endless wait", async () => {
    const database = await createDb({
      driver: 'postgres',
      url: scratch.url ?? '',
      maxConnections: 1,
      acquireTimeoutMs: 100,
    });
    try {
      const meanwhile = await database.forIndexBuild?.(() =>
        database.db.execute(sql`select 1`).then(
          () => 'served',
          (error: unknown) => error,
        ),
      );
      expect(quarryErrorIn(meanwhile)?.code).toBe('DATABASE_BUSY');
      expect(await queryRows(database.db, sql`select 1 as one`)).toEqual([{ one: 1 }]);
    } finally {
      await database.close();
    }
  });

  it('never lowers a larger setting', async () => {
    await scratch.db.execute(
      sql.raw(`alter database "${databaseName()}" set maintenance_work_mem = '64MB'`),
    );
    const { notices, setting } = await build(16, '1MB');
    expect(notices.filter((notice) => graphNotice.test(notice))).toEqual([]);
    expect(setting).toBe('64MB');
  });
});
