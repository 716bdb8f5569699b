import {
  and,
  createDb,
  documents,
  eq,
  isQuarryError,
  migrate,
  queryRows,
  sql,
  type Database,
  type Metadata,
  type SQL,
} from '@quarry/db';
import { describeEachTarget, type TestDatabase } from '@quarry/db/testing';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  compileFilter,
  MAX_METADATA_KEYS_SAMPLE_SIZE,
  metadataKeys,
  type MetadataFilter,
  type MetadataKey,
} from '../src/filter';
import { sqlEngine, type FilterEngine } from './filter-fixture';

const injection = "author' = 'alice' OR '1'='1' --";
const hostileStrings = [
  "'",
  '"',
  "''",
  '--',
  ';',
  ')',
  '->',
  '->>',
  '#>',
  injection,
  "'); drop table documents; --",
  "a') or true or ('",
  '$1',
  '?',
  '\\',
  '{a,b}',
  '%',
  "'{}'::jsonb",
  '*/ /*',
  'metadata',
];

async function filterInvalidMessage(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (isQuarryError(error) && error.code === 'FILTER_INVALID') return error.message;
    throw error;
  }
  throw new Error('expected a FILTER_INVALID error');
}

describeEachTarget()('compiled filters on $name', (target) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await target.createDatabase();
  });
  afterAll(() => database.close());

  describe('hostile keys and values', () => {
    const docs: Metadata[] = [
      { author: 'alice', n: 1 },
      { author: 'bob', tags: ['x'] },
      { title: "it's" },
    ];
    let engine: FilterEngine;
    beforeAll(async () => {
      engine = await sqlEngine(database, target.name);
      await engine.load(docs);
    });

    test('as keys, they select no document with eq, in, exists, contains or an ordering, and every one with ne and nin', async () => {
      for (const hostile of hostileStrings) {
        const keys: MetadataKey[] = [hostile, [hostile], ['author', hostile], [hostile, 'author']];
        for (const key of keys) {
          const positive: MetadataFilter[] = [
            { key, op: 'eq', value: 'alice' },
            { key, op: 'in', values: ['alice', 1] },
            { key, op: 'exists' },
            { key, op: 'contains', value: 'x' },
            { key, op: 'gt', value: 0 },
            { key, op: 'gte', value: '' },
          ];
          for (const filter of positive)
            expect(await engine.select(filter), JSON.stringify(filter)).toEqual([]);
          expect(await engine.select({ key, op: 'ne', value: 'alice' })).toEqual([0, 1, 2]);
          expect(await engine.select({ key, op: 'nin', values: ['alice'] })).toEqual([0, 1, 2]);
        }
      }
    });

    test('as values, they select no document with eq, in and contains', async () => {
      for (const hostile of hostileStrings) {
        for (const key of ['author', 'tags', 'title']) {
          expect(await engine.select({ key, op: 'eq', value: hostile })).toEqual([]);
          expect(await engine.select({ key, op: 'in', values: [hostile] })).toEqual([]);
          expect(await engine.select({ key, op: 'contains', value: hostile })).toEqual([]);
          expect(
            await engine.select({ key, op: 'contains', value: { [hostile]: hostile } }),
          ).toEqual([]);
        }
      }
    });

    test(`the payload ${injection} selects nothing as a key or as a value`, async () => {
      expect(await engine.select({ key: injection, op: 'eq', value: 'alice' })).toEqual([]);
      expect(await engine.select({ key: 'author', op: 'eq', value: injection })).toEqual([]);
      expect(
        await engine.select({
          or: [
            { key: injection, op: 'exists' },
            { key: 'author', op: 'in', values: [injection] },
          ],
        }),
      ).toEqual([]);
    });

    test('documents holding hostile strings as keys and values are found by exactly those strings', async () => {
      const holders = hostileStrings.map((hostile): Metadata => ({
        [hostile]: hostile,
        nested: { [hostile]: [hostile] },
      }));
      await engine.load(holders);
      try {
        for (const [position, hostile] of hostileStrings.entries()) {
          expect(await engine.select({ key: hostile, op: 'eq', value: hostile })).toEqual([
            position,
          ]);
          expect(
            await engine.select({ key: ['nested', hostile], op: 'contains', value: hostile }),
          ).toEqual([position]);
          expect(await engine.select({ key: hostile, op: 'gte', value: hostile })).toEqual([
            position,
          ]);
        }
      } finally {
        await engine.load(docs);
      }
    });

    test('strings PostgreSQL cannot store are a FILTER_INVALID error before any SQL runs', async () => {
      expect(
        await filterInvalidMessage(() => engine.select({ key: 'a\u0000', op: 'exists' })),
      ).toContain('NUL character');
      expect(
        await filterInvalidMessage(() => engine.select({ key: 'a', op: 'eq', value: 'x\ud800' })),
      ).toContain('unpaired surrogate');
    });

    test('keys and values reach the database only as bound parameters, never in the SQL text', () => {
      const key = ['marker-key', injection];
      const value = `marker-value ${injection}`;
      const filters: MetadataFilter[] = [
        { key, op: 'eq', value },
        { key, op: 'ne', value },
        { key, op: 'gt', value },
        { key, op: 'lte', value: 3 },
        { key, op: 'in', values: [value] },
        { key, op: 'nin', values: [value] },
        { key, op: 'exists' },
        { key, op: 'contains', value: { [value]: [value] } },
      ];
      for (const filter of filters) {
        const query = database.db
          .select({ id: documents.id })
          .from(documents)
          .where(compileFilter(filter))
          .toSQL();
        expect(query.sql).not.toContain('marker');
        expect(JSON.stringify(query.params)).toContain('marker-key');
      }
    });
  });

  describe('index use', () => {
    const rows = 20_000;
    let collectionId: number;
    beforeAll(async () => {
      ({ collectionId } = await sqlEngine(database, target.name));
      await database.db.execute(sql`
        insert into ${documents} (collection_id, content, metadata)
        select ${collectionId}::int, 'row ' || g,
               jsonb_build_object('author', 'author-' || (g % 1000), 'n', g, 'tags', jsonb_build_array('t' || (g % 500)))
        from generate_series(1, ${rows}::int) as g`);
      // As autovacuum would: flushes the GIN pending list and records the index statistics.
      await database.db.execute(sql`vacuum analyze ${documents}`);
    });

    async function plan(filter: MetadataFilter): Promise<string> {
      const where =
        and(eq(documents.collectionId, collectionId), compileFilter(filter)) ?? sql`true`;
      const lines = await queryRows<{ 'QUERY PLAN': string }>(
        database.db,
        sql`explain select ${documents.id} from ${documents} where ${where}`,
      );
      return lines.map((line) => line['QUERY PLAN']).join('\n');
    }

    async function count(filter: MetadataFilter): Promise<number> {
      const where: SQL =
        and(eq(documents.collectionId, collectionId), compileFilter(filter)) ?? sql`true`;
      return (await database.db.select({ id: documents.id }).from(documents).where(where)).length;
    }

    test('a selective eq filter is served by the metadata GIN index documents_metadata_idx', async () => {
      const filter: MetadataFilter = { key: 'author', op: 'eq', value: 'author-7' };
      expect(await plan(filter)).toContain('documents_metadata_idx');
      expect(await count(filter)).toBe(rows / 1000);
    });

    test('a selective in filter is served by the same index', async () => {
      const filter: MetadataFilter = { key: 'author', op: 'in', values: ['author-7', 'author-8'] };
      expect(await plan(filter)).toContain('documents_metadata_idx');
      expect(await count(filter)).toBe((2 * rows) / 1000);
    });

    test('a selective contains filter is served by the same index', async () => {
      const filter: MetadataFilter = { key: 'tags', op: 'contains', value: 't42' };
      expect(await plan(filter)).toContain('documents_metadata_idx');
      expect(await count(filter)).toBe(rows / 500);
    });
  });

  describe('metadataKeys', () => {
    test('lists each top-level key with the types it holds and how many documents have it, most frequent first', async () => {
      const engine = await sqlEngine(database, target.name);
      await engine.load([{ a: 1, b: 'x' }, { a: 'y', c: null }, { a: [1], b: {} }, { b: true }]);
      expect(await metadataKeys(database.db, engine.collectionId)).toEqual([
        { key: 'a', types: ['array', 'number', 'string'], count: 3 },
        { key: 'b', types: ['boolean', 'object', 'string'], count: 3 },
        { key: 'c', types: ['null'], count: 1 },
      ]);
    });

    test('lists only the keys of the given collection', async () => {
      const mine = await sqlEngine(database, target.name);
      const other = await sqlEngine(database, target.name);
      await mine.load([{ mine: 1 }]);
      await other.load([{ theirs: 1 }]);
      expect(
        (await metadataKeys(database.db, mine.collectionId)).map((entry) => entry.key),
      ).toEqual(['mine']);
    });

    test('reads at most sampleSize documents', async () => {
      const engine = await sqlEngine(database, target.name);
      await engine.load(
        Array.from({ length: 10 }, (_, position) => ({ [`key${position}`]: position })),
      );
      const keys = await metadataKeys(database.db, engine.collectionId, { sampleSize: 4 });
      expect(keys).toHaveLength(4);
    });

    test('lists hostile keys verbatim', async () => {
      const engine = await sqlEngine(database, target.name);
      await engine.load([{ [injection]: 1 }]);
      expect(await metadataKeys(database.db, engine.collectionId)).toEqual([
        { key: injection, types: ['number'], count: 1 },
      ]);
    });

    test('refuses a sample size outside 1 to the maximum with INVALID_INPUT', async () => {
      for (const sampleSize of [0, MAX_METADATA_KEYS_SAMPLE_SIZE + 1, 1.5]) {
        await expect(metadataKeys(database.db, 1, { sampleSize })).rejects.toMatchObject({
          code: 'INVALID_INPUT',
        });
      }
    });
  });
});

describeEachTarget(['postgres'])(
  'on a database whose default collation is not "C" ($name)',
  (target) => {
    let admin: TestDatabase;
    let icu: Database;
    let engine: FilterEngine;
    const name = `quarry_filter_icu_${process.pid}_${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      admin = await target.createDatabase({ migrated: false });
      if (!admin.url) throw new Error('the postgres target has no URL');
      // ICU English sorts "B" after "a", unlike code point order.
      await admin.db.execute(
        sql`create database ${sql.identifier(name)} template template0 locale_provider icu icu_locale 'en' locale 'C.UTF-8'`,
      );
      const url = new URL(admin.url);
      url.pathname = `/${name}`;
      icu = await createDb({ driver: 'postgres', url: url.toString() });
      await migrate(icu);
      engine = await sqlEngine(icu, 'postgres (icu)');
    });
    afterAll(async () => {
      await icu.close();
      await admin.db.execute(sql`drop database if exists ${sql.identifier(name)} with (force)`);
      await admin.close();
    });

    test('strings still order by code point', async () => {
      const [collation] = await queryRows<{ before: boolean }>(
        icu.db,
        sql`select 'B' < 'a' as before`,
      );
      expect(collation?.before).toBe(false);
      await engine.load([{ s: 'a' }, { s: 'B' }, { s: 'é' }, { s: 'z' }]);
      expect(await engine.select({ key: 's', op: 'lt', value: 'a' })).toEqual([1]);
      expect(await engine.select({ key: 's', op: 'gt', value: 'z' })).toEqual([2]);
    });
  },
);
