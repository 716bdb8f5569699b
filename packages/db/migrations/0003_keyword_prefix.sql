-- Keyword search indexes the first 100,000 characters of each document (KEYWORD_INDEXED_CHARS in
-- src/schema.ts). A whole document of up to 1,000,000 characters could pass PostgreSQL's 1 MB limit
-- on a tsvector's lexemes and positions ("string is too long for tsvector"), and the insert failed.
-- PostgreSQL 15 cannot change a generated column's expression: the column is made again, which
-- rewrites the table and drops its GIN index, made again below.
ALTER TABLE "documents" drop column "search_text";--> statement-breakpoint
ALTER TABLE "documents" ADD COLUMN "search_text" "tsvector" GENERATED ALWAYS AS (to_tsvector('english'::regconfig, left(content, 100000))) STORED NOT NULL;--> statement-breakpoint
CREATE INDEX "documents_search_text_idx" ON "documents" USING gin ("search_text");
