import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, migrate, type Database } from '../src/index';
import { describeEachTarget, type TestDatabase } from '../src/testing';

/**
 * pgvector is not a trusted extension: a role that is not a superuser cannot create it, even in a
 * database it owns. `quarry migrate` used to say only "Failed query: CREATE EXTENSION IF NOT EXISTS
 * vector; params:", losing PostgreSQL's reason (issue 13).
 */
describeEachTarget(['postgres'])(
  'migrate as a role that is not a superuser, on $name',
  (target) => {
    const role = `quarry_owner_${process.pid}_${randomBytes(3).toString('hex')}`;
    let scratch: TestDatabase;
    /** The cluster, as the superuser of the test URL: roles. */
    let server: postgres.Sql;
    /** The scratch database, as that superuser. */
    let superuser: postgres.Sql;
    let asOwner: Database | undefined;

    beforeAll(async () => {
      scratch = await target.createDatabase({ migrated: false });
      server = postgres(process.env.QUARRY_TEST_DATABASE_URL!, { max: 1, onnotice: () => {} });
      superuser = postgres(scratch.url!, { max: 1, onnotice: () => {} });
      await server.unsafe(`create role "${role}" login createdb`);
      const name = new URL(scratch.url!).pathname.slice(1);
      await server.unsafe(`alter database "${name}" owner to "${role}"`);
      const url = new URL(scratch.url!);
      url.username = role;
      asOwner = await createDb({ driver: 'postgres', url: url.toString() });
    });

    afterAll(async () => {
      await asOwner?.close();
      await superuser?.end();
      await scratch?.close();
      await server?.unsafe(`drop role if exists "${role}"`);
      await server?.end();
    });

    it("refuses with PostgreSQL's reason and what to do about it", async () => {
      const failure = await migrate(asOwner!).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: 'EXTENSION_MISSING' });
      const { message } = failure as Error;
      expect(message).toContain('permission denied to create extension "vector"');
      expect(message).toContain('Must be superuser to create this extension');
      expect(message).toContain(
        'Ask a superuser to run CREATE EXTENSION vector; once in this database',
      );
      expect(message).toContain('managed service');
      expect(message).not.toContain('Failed query');
    });

    it('migrates as that role once a superuser has created the extension, as the message says', async () => {
      await superuser.unsafe('create extension vector');
      await migrate(asOwner!);
      const [row] = await superuser.unsafe<{ owner: string }[]>(
        `select tableowner as owner from pg_tables where tablename = 'collections'`,
      );
      expect(row?.owner).toBe(role);
    });
  },
);
