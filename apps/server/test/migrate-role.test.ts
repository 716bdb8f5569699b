import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeOnPostgres, postgresUrl, runCli, scratchPostgres } from './harness';

/**
 * `quarry migrate` as a role that owns its database but is not a superuser: pgvector is not a
 * trusted extension, so PostgreSQL refuses to create it. The command used to print only "Failed
 * query: CREATE EXTENSION IF NOT EXISTS vector; params:" (issue 13).
 */
describeOnPostgres('quarry migrate as a role that is not a superuser', () => {
  const role = `quarry_cli_owner_${process.pid}_${randomBytes(3).toString('hex')}`;
  let database: Awaited<ReturnType<typeof scratchPostgres>>;
  let server: postgres.Sql;
  let asRole: string;

  beforeAll(async () => {
    database = await scratchPostgres(postgresUrl ?? '');
    server = postgres(postgresUrl ?? '', { max: 1, onnotice: () => {} });
    await server.unsafe(`create role "${role}" login`);
    const url = new URL(database.url);
    await server.unsafe(`alter database "${url.pathname.slice(1)}" owner to "${role}"`);
    url.username = role;
    asRole = url.toString();
  });
  afterAll(async () => {
    await database?.drop();
    await server?.unsafe(`drop role if exists "${role}"`);
    await server?.end();
  });

  it("prints PostgreSQL's reason and what to do, and exits 1", async () => {
    const run = await runCli(['migrate', '--database-url', asRole]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('permission denied to create extension "vector"');
    expect(run.stderr).toContain('Must be superuser to create this extension');
    expect(run.stderr).toContain(
      'Ask a superuser to run CREATE EXTENSION vector; once in this database',
    );
    expect(run.stderr).toContain('(EXTENSION_MISSING)');
    expect(run.stderr).not.toContain('Failed query');
  });
});
