import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate, queryRows, textSearchConfigs } from '../src/index';
import { distributeOnCitus } from '../src/citus';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import {
  indexDefinitions,
  insertBeforeMigration,
  migrateFirst,
  searchTextExpression,
} from './helpers';

/**
 * Migration 0005 on a database made before it: every document's search_text made with 'english',
 * rows in it (on Citus, documents already distributed), 0005 not yet applied.
 */
describeEachTarget()('migration 0005 (text search config) on $name', (target) => {
  let database: TestDatabase;
  let ids: string[] = [];
  beforeAll(async () => {
    database = await target.createDatabase({ migrated: false });
    await migrateFirst(database, 5);
    // On Citus, as a database that ran an older Quarry: documents already distributed.
    await distributeOnCitus(database);
    ids = await insertBeforeMigration(database.db, 'before', ['the running tides', 'moons']);
    await migrate(database);
  });
  afterAll(() => database?.close());

  const matching = async (config: string, words: string) =>
    (
      await queryRows<{ id: string }>(
        database.db,
        sql`select id from documents where search_text @@ plainto_tsquery(${config}::regconfig, ${words}) order by id`,
      )
    ).map((row) => row.id);

  it("gives existing collections and documents 'english', and their search_text stays english", async () => {
    const [row] = await queryRows<{ collection: string; documents: string[] }>(
      database.db,
      sql`select (select text_search_config from collections where name = 'before') as collection,
          (select array_agg(distinct text_search_config) from documents) as documents`,
    );
    expect(row).toEqual({ collection: 'english', documents: ['english'] });
    // Stemmed: 'run' finds 'running', 'moon' finds 'moons'.
    expect(await matching('english', 'run')).toEqual([ids[0]]);
    expect(await matching('english', 'moon')).toEqual([ids[1]]);
  });

  it("makes search_text with the document's own configuration", async () => {
    expect(await searchTextExpression(database.db)).toContain('text_search_config');
    const [collection] = await queryRows<{ id: number }>(
      database.db,
      sql`insert into collections (name, dimensions, embedding_model, text_search_config)
          values ('plain', 2, 'test-model', 'simple') returning id`,
    );
    const [simple] = await queryRows<{ id: string; search_text: string }>(
      database.db,
      sql`insert into documents (collection_id, content, embedding, text_search_config)
          values (${collection?.id}, 'the running tides', '[1,0]', 'simple') returning id, search_text::text`,
    );
    // Every word as written: no stemming, and 'the' is kept.
    expect(simple?.search_text).toBe("'running':2 'the':1 'tides':3");
  });

  it('refuses a configuration outside the known ones, in collections and documents', async () => {
    await expect(
      database.db.execute(
        sql`insert into collections (name, dimensions, embedding_model, text_search_config) values ('x', 2, 'm', 'klingon')`,
      ),
    ).rejects.toMatchObject({ cause: expect.objectContaining({ code: '23514' }) });
    // search_text has no value for it either (a not-null violation, or the check's).
    await expect(
      database.db.execute(
        sql`update documents set text_search_config = 'klingon' where id = ${ids[0]}`,
      ),
    ).rejects.toMatchObject({
      cause: expect.objectContaining({ code: expect.stringMatching(/^23(502|514)$/) }),
    });
  });

  it('accepts every configuration of the list (each exists on this server)', async () => {
    const [row] = await queryRows<{ missing: string[] | null }>(
      database.db,
      sql`select array_agg(name) filter (where name not in (select cfgname::text from pg_ts_config)) as missing
          from jsonb_array_elements_text(${JSON.stringify(textSearchConfigs)}::jsonb) as name`,
    );
    expect(row?.missing).toBeNull();
  });

  it('makes the GIN index on search_text again', async () => {
    expect(
      (await indexDefinitions(database.db, 'documents')).get('documents_search_text_idx'),
    ).toMatch(/USING gin \(search_text\)/);
  });
});
