import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KEYWORD_INDEXED_CHARS, migrate, queryRows } from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import {
  indexDefinitions,
  insertBeforeMigration,
  migrateFirst,
  searchTextExpression,
} from './helpers';

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
    expect(await searchTextExpression(database.db)).not.toContain('left');
    ids = await insertBeforeMigration(database.db, 'before', [
      'tides and moons',
      `${'filler '.repeat(KEYWORD_INDEXED_CHARS / 5)}lighthouse`,
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
    expect(await searchTextExpression(database.db)).toMatch(
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
