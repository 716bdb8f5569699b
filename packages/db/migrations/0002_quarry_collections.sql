CREATE TABLE "collections" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "collections_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"dimensions" integer NOT NULL,
	"metric" text DEFAULT 'cosine' NOT NULL,
	"embedding_model" text NOT NULL,
	"hnsw_m" integer DEFAULT 16 NOT NULL,
	"hnsw_ef_construction" integer DEFAULT 64 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "collections_name_unique" UNIQUE("name"),
	CONSTRAINT "collections_dimensions_range" CHECK ("collections"."dimensions" between 1 and 16000),
	CONSTRAINT "collections_metric_known" CHECK ("collections"."metric" in ('cosine', 'l2', 'inner_product')),
	CONSTRAINT "collections_hnsw_m_range" CHECK ("collections"."hnsw_m" between 2 and 100),
	CONSTRAINT "collections_hnsw_ef_construction_range" CHECK ("collections"."hnsw_ef_construction" between 4 and 1000 and "collections"."hnsw_ef_construction" >= 2 * "collections"."hnsw_m")
);
--> statement-breakpoint
-- Adoption of a database made by the guide: remember its embedding dimension and index metric,
-- then drop its whole-table vector index (the column becomes dimension-free below, and Quarry
-- indexes each collection with its own partial index instead).
CREATE TEMPORARY TABLE "quarry_adoption" ON COMMIT DROP AS
SELECT
  nullif(format_type(a.atttypid, a.atttypmod), 'vector') AS embedding_type,
  (SELECT CASE
     WHEN pg_get_indexdef(i.indexrelid) LIKE '%vector_l2_ops%' THEN 'l2'
     WHEN pg_get_indexdef(i.indexrelid) LIKE '%vector_ip_ops%' THEN 'inner_product'
     ELSE 'cosine' END
   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
   WHERE i.indrelid = 'documents'::regclass AND am.amname IN ('hnsw', 'ivfflat')
   LIMIT 1) AS metric
FROM pg_attribute a
WHERE a.attrelid = 'documents'::regclass AND a.attname = 'embedding';
--> statement-breakpoint
DO $$
DECLARE vector_index record;
BEGIN
  FOR vector_index IN
    SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
    WHERE i.indrelid = 'documents'::regclass AND am.amname IN ('hnsw', 'ivfflat')
  LOOP
    EXECUTE format('DROP INDEX %I', vector_index.relname);
  END LOOP;
END $$;
--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "embedding" SET DATA TYPE vector;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "collection_id" integer;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "tenant_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "external_id" text;--> statement-breakpoint
-- Rows already present become the collection "documents"; each keeps its id as its external id, so
-- duplicate contents the guide allowed stay as they are.
INSERT INTO "collections" ("name", "dimensions", "metric", "embedding_model")
SELECT 'documents',
       coalesce(substring(embedding_type from '\((\d+)\)')::integer, 1536),
       coalesce(metric, 'cosine'),
       'unknown (adopted)'
FROM "quarry_adoption"
WHERE EXISTS (SELECT 1 FROM "documents");--> statement-breakpoint
UPDATE "documents"
SET "collection_id" = (SELECT "id" FROM "collections" WHERE "name" = 'documents'),
    "external_id" = "id"::text,
    "metadata" = CASE
      WHEN "metadata" IS NULL THEN '{}'::jsonb
      WHEN jsonb_typeof("metadata") = 'object' THEN "metadata"
      ELSE jsonb_build_object('value', "metadata") END,
    "created_at" = coalesce("created_at", now());--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "collection_id" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "metadata" SET DEFAULT '{}'::jsonb;--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "metadata" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "documents" ALTER COLUMN "created_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "content_hash" text GENERATED ALWAYS AS (md5(content)) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "search_text" "tsvector" GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED NOT NULL;--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "updated_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "documents" ADD CONSTRAINT "documents_collection_id_collections_id_fk" FOREIGN KEY ("collection_id") REFERENCES "collections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "documents_external_id_key" ON "documents" USING btree ("collection_id","tenant_id","external_id") WHERE "documents"."external_id" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "documents_content_hash_key" ON "documents" USING btree ("collection_id","tenant_id","content_hash") WHERE "documents"."external_id" is null;--> statement-breakpoint
CREATE INDEX "documents_collection_tenant_created_idx" ON "documents" USING btree ("collection_id","tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "documents_metadata_idx" ON "documents" USING gin ("metadata" jsonb_path_ops);--> statement-breakpoint
CREATE INDEX "documents_search_text_idx" ON "documents" USING gin ("search_text");--> statement-breakpoint
ALTER TABLE "documents" ADD CONSTRAINT "documents_metadata_is_object" CHECK (jsonb_typeof("documents"."metadata") = 'object');
