import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createCaller,
  createContextInner,
  defaultLimits,
  ingestDocuments,
  openAccess,
} from '@quarry/api';
import { createEmbeddingRegistry } from '@quarry/api/embeddings';
import { collections, createDb, eq, migrate, queryRows, sql, type Database } from '@quarry/db';
import { partitioningInProgress } from '@quarry/db/partition';
import type { Finding } from '../src/cli/doctor';
import { describeOnPostgres, postgresUrl, runCli, scratchPostgres, spawnNode } from './harness';

const PARTITIONS = 4;
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark'];

/** A deterministic unit vector per (tenant, n), so every run sees the same neighbours. */
function vectorFor(tenant: number, n: number): number[] {
  const angle = (tenant * 37 + n * 11) % 360;
  return [Math.cos((angle * Math.PI) / 180), Math.sin((angle * Math.PI) / 180), ((n % 5) - 2) / 10];
}

/** What `documents` of collection 'parts' must hold: tenant/externalId -> content and id. */
type Expected = Map<string, { content: string; id: string }>;

/**
 * Writes through the API for as long as the partitioning runs: new documents, edits and deletes,
 * recording what each committed write leaves, so the end state can be compared row for row.
 * It never touches the first 1,000 documents of a tenant (the tests below read those).
 */
function startWriter(caller: ReturnType<typeof createCaller>, expected: Expected) {
  let stopped = false;
  let writes = 0;
  const done = (async () => {
    for (let i = 0; !stopped; i++) {
      const t = i % TENANTS.length;
      const tenant = TENANTS[t] ?? 'acme';
      const n = 1_000 + ((i * 7) % 1_000);
      const key = `${tenant}/${tenant}-${n}`;
      const current = expected.get(key);
      if (i % 3 === 2 && current) {
        await caller.documents.delete({ collection: 'parts', tenant, ids: [current.id] });
        expected.delete(key);
      } else {
        const content = `${tenant} document ${n}, write ${i}`;
        const result = await caller.documents.ingest({
          collection: 'parts',
          tenant,
          documents: [{ content, externalId: `${tenant}-${n}`, embedding: vectorFor(t, n) }],
        });
        expected.set(key, { content, id: result.ids[0] ?? '' });
      }
      writes++;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return writes;
    },
  };
}

/** `quarry partition`, run as a user would against a database Quarry already uses, while the API writes. */
describeOnPostgres('quarry partition: documents partitioned by tenant, online', () => {
  let scratch: Awaited<ReturnType<typeof scratchPostgres>>;
  let database: Database;
  let caller: ReturnType<typeof createCaller>;
  const perTenant = 2_000;
  const expected: Expected = new Map();
  let killedRun = '';
  let finishingRun: Awaited<ReturnType<typeof runCli>>;
  let stoppedDoctor: Awaited<ReturnType<typeof runCli>>;
  let concurrentWrites = 0;

  beforeAll(async () => {
    scratch = await scratchPostgres(postgresUrl ?? '');
    database = await createDb({ driver: 'postgres', url: scratch.url });
    await migrate(database);
    // exactSearchMaxRows 0: a tenant's search always walks the index, as it would on a large tenant.
    caller = createCaller(
      createContextInner(
        { database, embeddings: createEmbeddingRegistry([]), limits: { exactSearchMaxRows: 0 } },
        openAccess,
      ),
    );
    await caller.collections.create({
      name: 'parts',
      dimensions: 3,
      embeddingModel: 'external/3d',
    });
    for (const [t, tenant] of TENANTS.entries()) {
      const documents = Array.from({ length: perTenant }, (_, n) => ({
        content: `${tenant} document ${n}`,
        externalId: `${tenant}-${n}`,
        embedding: vectorFor(t, n),
        metadata: { n },
      }));
      for (let start = 0; start < documents.length; start += 1_000) {
        const batch = documents.slice(start, start + 1_000);
        const result = await caller.documents.ingest({
          collection: 'parts',
          tenant,
          documents: batch,
        });
        batch.forEach((document, i) =>
          expected.set(`${tenant}/${document.externalId}`, {
            content: document.content,
            id: result.ids[i] ?? '',
          }),
        );
      }
    }
    const args = [
      'partition',
      '--by',
      'tenant',
      '--partitions',
      String(PARTITIONS),
      '--batch-size',
      '20',
      '--database-url',
      scratch.url,
    ];
    const writer = startWriter(caller, expected);
    try {
      // A first run, killed once it has copied its first batch: the second must resume it.
      const first = spawnNode('src/cli/main.ts', args, {});
      first.stdin?.end();
      const exited = new Promise((resolve) => first.once('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        first.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
          killedRun += chunk;
          if (killedRun.includes('backfill')) {
            first.kill('SIGKILL');
            resolve();
          }
        });
        void exited.then(() =>
          reject(new Error(`quarry partition ended before it was killed: ${killedRun}`)),
        );
      });
      await exited;
      stoppedDoctor = await runCli(['doctor', '--json', '--database-url', scratch.url]);
      finishingRun = await runCli(args);
    } finally {
      concurrentWrites = await writer.stop();
    }
  }, 300_000);

  afterAll(async () => {
    await database?.close();
    await scratch?.drop();
  });

  it('quarry doctor warns of the stopped run and says how to finish it', () => {
    const findings = JSON.parse(stoppedDoctor.stdout) as Finding[];
    expect(findings.find((finding) => finding.check === 'partitioning')).toEqual({
      verdict: 'warn',
      check: 'partitioning',
      detail: expect.stringMatching(
        /^a `quarry partition --by tenant` run stopped at step (backfill|indexes) \([\d,]+ rows copied\).*run the same command again/,
      ),
    });
  });

  it('resumes a run that was killed midway, and says what it did', () => {
    expect(finishingRun.code).toBe(0);
    // stderr carries the progress of what was left (the backfill, or only the index builds when the
    // killed run had copied every row), ending at 100 %, and nothing else.
    const progressLines = finishingRun.stderr.trim().split('\n');
    for (const line of progressLines) expect(line).toMatch(/^(backfill|indexes) \[[#.]+\] /);
    expect(progressLines.at(-1)).toMatch(/^indexes \[#+\] [\d,]+\/[\d,]+ \(100%\)/);
    expect(finishingRun.stderr).not.toMatch(/quarry partition:/);
    expect(finishingRun.stdout).toMatch(
      /^resume: a run stopped at step (backfill|indexes) with [\d,]+ rows copied/,
    );
    expect(finishingRun.stdout).toMatch(/switch: documents is now the partitioned table/);
    expect(finishingRun.stdout).toMatch(/done: documents has 4 partitions/);
  });

  it('loses no write made while it ran, and brings back no deleted row', async () => {
    expect(concurrentWrites).toBeGreaterThan(0);
    const rows = await queryRows<{
      tenant: string;
      external_id: string;
      content: string;
      id: string;
    }>(
      database.db,
      sql`select tenant_id as tenant, external_id, content, id::text as id from documents`,
    );
    const stored = new Map(
      rows.map((row) => [`${row.tenant}/${row.external_id}`, { content: row.content, id: row.id }]),
    );
    expect(stored.size).toBe(rows.length);
    expect(stored).toEqual(expected);
    expect(await partitioningInProgress(database.db)).toBeUndefined();
    const [leftovers] = await queryRows<{ count: number }>(
      database.db,
      sql`select count(*)::int as count from pg_class where relname in ('documents_unpartitioned', 'documents_partitioned') or starts_with(relname, 'qp_')`,
    );
    expect(leftovers?.count).toBe(0);
  });

  it('turns documents into a hash-partitioned table and keeps every row', async () => {
    const [table] = await queryRows<{ kind: string; partitions: number }>(
      database.db,
      sql`select c.relkind as kind, (select count(*)::int from pg_inherits where inhparent = c.oid) as partitions from pg_class c where c.oid = 'documents'::regclass`,
    );
    expect(table).toEqual({ kind: 'p', partitions: PARTITIONS });
    expect(await caller.documents.count({ collection: 'parts' })).toEqual({
      count: expected.size,
    });
  });

  it("keeps the collection's HNSW index, valid, under the name Quarry looks for", async () => {
    const collection = await caller.collections.get({ name: 'parts' });
    expect(collection.index).toMatchObject({ name: 'documents_hnsw_c1_m16_efc64', valid: true });
  });

  it('ingest still skips unchanged documents and inserts new ones, into the right partition', async () => {
    const again = await caller.documents.ingest({
      collection: 'parts',
      tenant: 'acme',
      documents: [
        {
          content: 'acme document 0',
          externalId: 'acme-0',
          embedding: vectorFor(0, 0),
          metadata: { n: 0 },
        },
      ],
    });
    expect(again).toMatchObject({ inserted: 0, unchanged: 1 });
    const fresh = await caller.documents.ingest({
      collection: 'parts',
      tenant: 'newco',
      documents: [{ content: 'a new tenant', embedding: [1, 0, 0] }],
    });
    expect(fresh.inserted).toBe(1);
    const [row] = await queryRows<{ partition: string }>(
      database.db,
      sql`select tableoid::regclass::text as partition from documents where tenant_id = 'newco'`,
    );
    expect(row?.partition).toMatch(/^documents_p\d+$/);
  });

  it('updating a document by external id counts it as updated and keeps its id', async () => {
    const before = await caller.documents.ingest({
      collection: 'parts',
      tenant: 'acme',
      documents: [
        {
          content: 'acme document 1',
          externalId: 'acme-1',
          embedding: vectorFor(0, 1),
          metadata: { n: 1 },
        },
      ],
    });
    expect(before).toMatchObject({ inserted: 0, updated: 0, unchanged: 1 });
    const changed = await caller.documents.ingest({
      collection: 'parts',
      tenant: 'acme',
      documents: [
        { content: 'acme document 1, edited', externalId: 'acme-1', embedding: vectorFor(0, 1) },
        { content: 'acme document new', externalId: 'acme-new', embedding: vectorFor(0, 9) },
      ],
    });
    expect(changed).toMatchObject({ inserted: 1, updated: 1, unchanged: 0 });
    expect(changed.ids[0]).toBe(before.ids[0]);
    const [row] = await queryRows<{ content: string }>(
      database.db,
      sql`select content from documents where tenant_id = 'acme' and external_id = 'acme-1'`,
    );
    expect(row?.content).toBe('acme document 1, edited');
  });

  it('a load through binary COPY updates, inserts and skips by external id on the partitioned table', async () => {
    const [parts] = await database.db
      .select()
      .from(collections)
      .where(eq(collections.name, 'parts'));
    if (!parts) throw new Error("collection 'parts' is missing");
    const load = (content: string) => [
      { content, externalId: 'globex-2', embedding: vectorFor(1, 2) },
      {
        content: 'globex document 3',
        externalId: 'globex-3',
        embedding: vectorFor(1, 3),
        metadata: { n: 3 },
      },
      { content: 'globex bulk new', externalId: 'globex-bulk-new', embedding: vectorFor(1, 11) },
    ];
    const loadByCopy = () =>
      ingestDocuments(
        database,
        defaultLimits,
        createEmbeddingRegistry([]),
        parts,
        'globex',
        load('globex document 2, edited'),
        { strategy: 'copy' },
      );
    const first = await loadByCopy();
    expect(first).toMatchObject({ inserted: 1, updated: 1, unchanged: 1 });
    const again = await loadByCopy();
    expect(again).toMatchObject({ inserted: 0, updated: 0, unchanged: 3, ids: first.ids });
  });

  describe('a collection created after partitioning', () => {
    /** The collection's indexes anywhere: on documents and on its partitions, attached or not. */
    async function indexesOf(collectionId: number) {
      return queryRows<{ name: string; table: string; attached: boolean; valid: boolean }>(
        database.db,
        sql`select c.relname as name, t.relname as table, c.relispartition as attached, i.indisvalid as valid
            from pg_index i join pg_class c on c.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
            where starts_with(c.relname, ${`documents_hnsw_c${collectionId}_`}) order by t.relname`,
      );
    }
    async function partitionIndexBytes(indexName: string) {
      const [row] = await queryRows<{ bytes: string }>(
        database.db,
        sql`select sum(pg_relation_size(relid))::text as bytes from pg_partition_tree(${indexName}::regclass) where isleaf`,
      );
      return Number(row?.bytes);
    }
    async function tenantPlan(tenant: number) {
      const response = await caller.search.query({
        collection: 'later',
        tenant: TENANTS[tenant],
        vector: vectorFor(tenant, 3),
        k: 5,
        explain: true,
      });
      expect(response.results[0]?.distance).toBeCloseTo(0, 5);
      return (response.plan ?? []).join('\n');
    }
    let id = 0;

    it('gets a valid index, built and attached on every partition', async () => {
      const created = await caller.collections.create({
        name: 'later',
        dimensions: 3,
        embeddingModel: 'external/3d',
      });
      id = created.id;
      expect(created.index).toMatchObject({
        name: `documents_hnsw_c${id}_m16_efc64`,
        valid: true,
        building: false,
      });
      const indexes = await indexesOf(id);
      expect(indexes[0]).toEqual({
        name: `documents_hnsw_c${id}_m16_efc64`,
        table: 'documents',
        attached: false,
        valid: true,
      });
      expect(
        indexes.slice(1).map(({ table, attached, valid }) => ({ table, attached, valid })),
      ).toEqual(
        Array.from({ length: PARTITIONS }, (_, p) => ({
          table: `documents_p${p}`,
          attached: true,
          valid: true,
        })),
      );
    });

    it("searches a tenant through its partition's index of the new collection, and reports the partitions' total size", async () => {
      for (const [t, tenant] of TENANTS.entries()) {
        const documents = Array.from({ length: 300 }, (_, n) => ({
          content: `later ${tenant} ${n}`,
          externalId: `${tenant}-${n}`,
          embedding: vectorFor(t, n),
        }));
        await caller.documents.ingest({ collection: 'later', tenant, documents });
      }
      await database.db.execute(sql`analyze documents`); // as autovacuum would, after a load this size
      const plan = await tenantPlan(1);
      expect(plan).toMatch(
        new RegExp(`Index Scan using documents_hnsw_c${id}_m16_efc64_\\d+ on documents_p\\d+`),
      );
      expect(plan).not.toMatch(/Sort Key/);
      const { index } = await caller.collections.get({ name: 'later' });
      expect(index?.sizeBytes).toBeGreaterThan(0);
      expect(index?.sizeBytes).toBe(await partitionIndexBytes(`documents_hnsw_c${id}_m16_efc64`));
    });

    it('rebuilds it on every partition with new HNSW parameters and drops the old one', async () => {
      const updated = await caller.collections.updateIndex({
        name: 'later',
        hnsw: { m: 8, efConstruction: 32 },
      });
      expect(updated.index).toMatchObject({
        name: `documents_hnsw_c${id}_m8_efc32`,
        valid: true,
      });
      const indexes = await indexesOf(id);
      expect(indexes.map((index) => index.name).filter((name) => name.includes('_m16_'))).toEqual(
        [],
      );
      expect(indexes).toHaveLength(PARTITIONS + 1);
      expect(indexes.every((index) => index.valid)).toBe(true);
      expect(await tenantPlan(2)).toMatch(
        new RegExp(`Index Scan using documents_hnsw_c${id}_m8_efc32_\\d+ on documents_p\\d+`),
      );
    });

    it('finishes a build that stopped midway, reusing the partition indexes already built', async () => {
      // As a crash would leave it: the parent index, one partition's index attached, one built but not attached.
      const parent = `documents_hnsw_c${id}_m12_efc40`;
      const [p0, p1] = await queryRows<{ oid: string }>(
        database.db,
        sql`select oid::text from pg_class where relname in ('documents_p0', 'documents_p1') order by relname`,
      );
      const definition = (on: string, name: string) =>
        `create index ${name} on ${on} using hnsw ((embedding::vector(3)) vector_cosine_ops) with (m = 12, ef_construction = 40) where collection_id = ${id}`;
      await database.db.execute(sql.raw(definition('only documents', parent)));
      await database.db.execute(sql.raw(definition('documents_p0', `${parent}_${p0?.oid}`)));
      await database.db.execute(
        sql.raw(`alter index ${parent} attach partition ${parent}_${p0?.oid}`),
      );
      await database.db.execute(sql.raw(definition('documents_p1', `${parent}_${p1?.oid}`)));
      // And a partition's index left by an earlier build that never got its parent: it goes too.
      await database.db.execute(
        sql.raw(definition('documents_p2', `documents_hnsw_c${id}_m4_efc16_1`)),
      );
      const before = await queryRows<{ oid: string }>(
        database.db,
        sql`select oid::text from pg_class where starts_with(relname, ${parent}) order by relname`,
      );
      expect((await caller.collections.get({ name: 'later' })).index).toMatchObject({
        name: `documents_hnsw_c${id}_m8_efc32`,
        valid: true,
      });

      const updated = await caller.collections.updateIndex({
        name: 'later',
        hnsw: { m: 12, efConstruction: 40 },
      });
      expect(updated.index).toMatchObject({ name: parent, valid: true });
      const after = await queryRows<{ oid: string }>(
        database.db,
        sql`select oid::text from pg_class where starts_with(relname, ${parent}) order by relname`,
      );
      expect(after).toEqual(expect.arrayContaining(before));
      expect(
        (await indexesOf(id)).every((index) => index.name.startsWith(parent) && index.valid),
      ).toBe(true);
    });

    it('deleting it drops its index from every partition', async () => {
      await caller.collections.delete({ name: 'later', confirm: 'later' });
      expect(await indexesOf(id)).toEqual([]);
      expect((await caller.collections.get({ name: 'parts' })).index).toMatchObject({
        name: 'documents_hnsw_c1_m16_efc64',
        valid: true,
      });
    });
  });

  it("a tenant's search reads one partition, through its HNSW index", async () => {
    const response = await caller.search.query({
      collection: 'parts',
      tenant: 'globex',
      vector: vectorFor(1, 3),
      k: 5,
      explain: true,
    });
    expect(response.results.every((result) => result.tenant === 'globex')).toBe(true);
    expect(response.results[0]?.distance).toBeCloseTo(0, 5); // globex-3 itself, or a twin with the same vector
    const plan = (response.plan ?? []).join('\n');
    // The partition's own HNSW index serves the ORDER BY distance: an ordered index scan, no sort.
    expect(plan).toMatch(/Index Scan using documents_hnsw_c1_m16_efc64_\d+ on documents_p\d+/);
    expect(plan).toMatch(/Order By: .*<=>/);
    expect(plan).not.toMatch(/Sort Key/);
    const scanned = new Set([...plan.matchAll(/on (documents_p\d+)/g)].map((match) => match[1]));
    expect(scanned.size).toBe(1);
  });

  it('a search across tenants merges the partitions and matches exact search', async () => {
    const query = { collection: 'parts', vector: vectorFor(2, 7), k: 10 } as const;
    const approximate = await caller.search.query(query);
    const exact = await caller.search.query({ ...query, exact: true });
    // Several documents share a vector, so compare distances: the same k nearest, whatever the order of ties.
    const distances = (response: typeof exact) =>
      response.results.map((result) => result.distance?.toFixed(6));
    expect(distances(approximate)).toEqual(distances(exact));
    expect(new Set(exact.results.map((result) => result.tenant)).size).toBeGreaterThan(1);
  });
});
