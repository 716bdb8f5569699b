-- pgvector must be available on the server before anything else; say how to get it when it is not.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    RAISE EXCEPTION 'Quarry needs the pgvector extension ("vector"), and this PostgreSQL server does not have it installed'
      USING HINT = 'On Debian/Ubuntu run tooling/scripts/install-pgvector.sh (or apt-get install postgresql-<major>-pgvector); with Docker use the pgvector/pgvector image; on a managed service enable the "vector" extension; on PGlite load @electric-sql/pglite-pgvector.';
  END IF;
END $$;
--> statement-breakpoint
-- Created in the schema the application uses (the first schema on its search_path).
CREATE EXTENSION IF NOT EXISTS vector;
--> statement-breakpoint
DO $$
BEGIN
  IF to_regtype('vector') IS NULL THEN
    RAISE EXCEPTION 'the vector extension is installed in schema "%", which is not on this connection''s search_path (%)',
      (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'),
      current_setting('search_path')
      USING HINT = 'Add that schema to search_path, or ALTER EXTENSION vector SET SCHEMA to the schema Quarry uses.';
  END IF;
END $$;
