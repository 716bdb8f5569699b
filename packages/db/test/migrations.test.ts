import { sql } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import {
  createDb,
  ensureVectorIndex,
  migrate,
  migrationState,
  queryRows,
  QuarryError,
  type Database,
} from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import {
  createCollection,
  indexDefinitions,
  insertDocuments,
  randomVector,
  seededRandom,
} from './helpers';

describeEachTarget()('migrations on $name', (target) => {
  let database: TestDatabase | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
  });

  it('creates the collections and documents tables on an empty database', async () => {
    database = await target.createDatabase({ migrated: false });
    await migrate(database);
    const [tables] = await queryRows<{ collections: string | null; documents: string | null }>(
      database.db,
      sql`select to_regclass('collections')::text as collections, to_regclass('documents')::text as documents`,
    );
    expect(tables).toEqual({ collections: 'collections', documents: 'documents' });
  });

  it('creates the vector extension in the schema the application uses', async () => {
    database = await target.createDatabase({ migrated: false });
    await migrate(database);
    const rows = await queryRows<{ schema: string; app_schema: string }>(
      database.db,
      sql`select n.nspname as schema, current_schema() as app_schema
          from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'vector'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.schema).toBe(rows[0]?.app_schema);
  });

  it('indexes metadata with GIN jsonb_path_ops, keywords with GIN, and (collection, tenant, created_at) with btree', async () => {
    database = await target.createDatabase({ migrated: false });
    await migrate(database);
    const indexes = await indexDefinitions(database.db, 'documents');
    expect(indexes.get('documents_metadata_idx')).toMatch(/USING gin \(metadata jsonb_path_ops\)/);
    expect(indexes.get('documents_search_text_idx')).toMatch(/USING gin \(search_text\)/);
    expect(indexes.get('documents_collection_tenant_created_idx')).toMatch(
      /USING btree \(collection_id, tenant_id, created_at\)/,
    );
  });

  it('records every committed migration as applied', async () => {
    database = await target.createDatabase({ migrated: false });
    expect((await migrationState(database)).applied).toBe(0);
    await migrate(database);
    const state = await migrationState(database);
    expect(state.committed).toBeGreaterThan(0);
    expect(state.applied).toBe(state.committed);
  });

  it('refuses with EXTENSION_MISSING when pgvector sits in a schema outside the search_path, naming the schema and the fix', async () => {
    database = await target.createDatabase({ migrated: false });
    await database.db.execute(sql`create schema extensions`);
    await database.db.execute(sql`create extension vector schema extensions`);
    const failure = await migrate(database).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(QuarryError);
    expect(failure).toMatchObject({ code: 'EXTENSION_MISSING' });
    const message = (failure as QuarryError).message;
    expect(message).toMatch(/^the vector extension is installed in schema "extensions"/);
    expect(message).toContain('search_path');
    expect(message).toContain('ALTER EXTENSION vector SET SCHEMA');
    expect((await migrationState(database)).applied).toBe(0);
  });

  it('two migrate() calls at the same time both succeed and apply each migration once', async () => {
    const first = await target.createDatabase({ migrated: false });
    database = first;
    // A second process's pool onto the same database (the embedded one has a single connection).
    const second = first.config.driver === 'postgres' ? await createDb(first.config) : first;
    try {
      await Promise.all([migrate(first), migrate(second)]);
      const state = await migrationState(first);
      expect(state.applied).toBe(state.committed);
    } finally {
      if (second !== first) await second.close();
    }
  });

  it('running migrate a second time changes nothing', async () => {
    database = await target.createDatabase({ migrated: false });
    await migrate(database);
    const collection = await createCollection(database.db, { name: 'notes', dimensions: 8 });
    await ensureVectorIndex(database, collection);
    await insertDocuments(database.db, collection, [
      { content: 'kept', embedding: randomVector(8, seededRandom(1)) },
    ]);
    const before = await schemaAndData(database);
    await migrate(database);
    expect(await schemaAndData(database)).toEqual(before);
  });
});

/** Everything a second migrate could touch: columns, indexes (by oid, so a rebuild shows), applied migrations, rows. */
async function schemaAndData(database: Database) {
  const columns = await queryRows(
    database.db,
    sql`select table_name, column_name, data_type, udt_name, is_nullable, column_default
        from information_schema.columns where table_schema = current_schema() order by table_name, column_name`,
  );
  const indexes = await queryRows(
    database.db,
    sql`select indexname, indexdef, (quote_ident(schemaname) || '.' || quote_ident(indexname))::regclass::oid::text as oid
        from pg_indexes where schemaname = current_schema() order by indexname`,
  );
  const migrations = await queryRows(
    database.db,
    sql`select hash, created_at from drizzle.__drizzle_migrations order by id`,
  );
  const rows = await queryRows(
    database.db,
    sql`select id, content, metadata, embedding::text, collection_id, updated_at from documents order by id`,
  );
  const collectionRows = await queryRows(database.db, sql`select * from collections order by id`);
  return { columns, indexes, migrations, rows, collectionRows };
}

describeEachTarget(['pglite'])('migrations on $name without pgvector', () => {
  it('pglite only (a server cannot uninstall pgvector here): migrate rejects with EXTENSION_MISSING and says how to install it', async () => {
    const database = await createDb({ driver: 'embedded', withVectorExtension: false });
    try {
      const failure = await migrate(database).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(QuarryError);
      expect(failure).toMatchObject({ code: 'EXTENSION_MISSING' });
      const message = (failure as QuarryError).message;
      // The server's words, not a driver wrapper that quotes the migration's SQL.
      expect(message).toMatch(/^Quarry needs the pgvector extension/);
      expect(message).not.toContain('Failed query');
      expect(message).toMatch(/install-pgvector\.sh/);
      expect(message).toMatch(/pgvector\/pgvector image/);
      expect(message).toMatch(/@electric-sql\/pglite-pgvector/);
    } finally {
      await database.close();
    }
  });

  it('pglite only: a migrate that failed for lack of pgvector leaves no migration applied', async () => {
    const database = await createDb({ driver: 'embedded', withVectorExtension: false });
    try {
      await expect(migrate(database)).rejects.toThrow();
      expect((await migrationState(database)).applied).toBe(0);
    } finally {
      await database.close();
    }
  });
});
