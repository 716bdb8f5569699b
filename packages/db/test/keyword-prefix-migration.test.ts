import { sql } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KEYWORD_INDEXED_CHARS, migrate, migrationsFolder, queryRows } from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import { createCollection, indexDefinitions, insertDocuments } from './helpers';

/** The generation expression of documents.search_text, as PostgreSQL prints it. */
async function searchTextExpression(database: TestDatabase): Promise<string | undefined> {
  const [row] = await queryRows<{ expression: string }>(
    database.db,
    sql`select pg_get_expr(d.adbin, d.adrelid) as expression
        from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum
        where d.adrelid = 'documents'::regclass and a.attname = 'search_text'`,
  );
  return row?.expression;
}

/** Applies and records the first `count` migrations, as migrate() would have before the rest existed. */
async function migrateFirst(database: TestDatabase, count: number): Promise<void> {
  // One transaction, as migrate() runs them: a migration's statements share its temporary tables.
  await database.db.transaction(async (tx) => {
    await tx.execute(sql`create schema if not exists drizzle`);
    await tx.execute(
      sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
    );
    for (const migration of readMigrationFiles({ migrationsFolder }).slice(0, count)) {
      for (const statement of migration.sql) await tx.execute(sql.raw(statement));
      await tx.execute(
        sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`,
      );
    }
  });
}

/**
 * Migration 0003 on a database made before it: search_text as it was (the whole content), rows in
 * it, 0003 and what came after it not yet applied.
 */
describeEachTarget()('migration 0003 (keyword prefix) on $name', (target) => {
  let database: TestDatabase;
  let ids: string[] = [];
  beforeAll(async () => {
    database = await target.createDatabase({ migrated: false });
    await migrateFirst(database, 3);
    expect(await searchTextExpression(database)).not.toContain('left');
    const collection = await createCollection(database.db, { name: 'before', dimensions: 2 });
    ids = await insertDocuments(database.db, collection, [
      { content: 'tides and moons', embedding: [1, 0] },
      { content: `${'filler '.repeat(KEYWORD_INDEXED_CHARS / 5)}lighthouse`, embedding: [0, 1] },
    ]);
    await migrate(database);
  });
  afterAll(() => database?.close());

  const matching = async (word: string) =>
    (
      await queryRows<{ id: string }>(
        database.db,
        sql`select id from documents where search_text @@ websearch_to_tsquery('english', ${word}) order by id`,
      )
    ).map((row) => row.id);

  it('indexes the first KEYWORD_INDEXED_CHARS characters, for rows stored before it too', async () => {
    // PostgreSQL prints it as "left"(content, 100000).
    expect(await searchTextExpression(database)).toMatch(
      new RegExp(`left"?\\(content, ${KEYWORD_INDEXED_CHARS}\\)`),
    );
    expect(await matching('moons')).toEqual([ids[0]]);
    expect(await matching('filler')).toEqual([ids[1]]);
    // Past the prefix: no longer indexed.
    expect(await matching('lighthouse')).toEqual([]);
  });

  it('makes the GIN index again', async () => {
    expect(
      (await indexDefinitions(database.db, 'documents')).get('documents_search_text_idx'),
    ).toMatch(/USING gin \(search_text\)/);
  });
});
