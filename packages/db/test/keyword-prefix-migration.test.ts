import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KEYWORD_INDEXED_CHARS, migrate, queryRows } from '../src/index';
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

/**
 * Migration 0003 on a database made before it: search_text as it was (the whole content), rows in
 * it, the migration not yet recorded.
 */
describeEachTarget()('migration 0003 (keyword prefix) on $name', (target) => {
  let database: TestDatabase;
  let ids: string[] = [];
  beforeAll(async () => {
    database = await target.createDatabase();
    for (const statement of [
      'alter table documents drop column search_text',
      "alter table documents add column search_text tsvector generated always as (to_tsvector('english'::regconfig, content)) stored not null",
      'create index documents_search_text_idx on documents using gin (search_text)',
      'delete from drizzle.__drizzle_migrations where created_at = (select max(created_at) from drizzle.__drizzle_migrations)',
    ])
      await database.db.execute(sql.raw(statement));
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
