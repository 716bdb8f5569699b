-- Converts Quarry's `documents` table into one hash-partitioned by tenant_id, in place.
-- Run it after `quarry migrate`, in a maintenance window: it copies every row and rebuilds every
-- index under an exclusive lock. See scaling.md for when and why.
--
-- psql -v partitions=16 -f partition-documents-by-tenant.sql "$DATABASE_URL"
\if :{?partitions}
\else
  \set partitions 8
\endif

BEGIN;
LOCK TABLE documents IN ACCESS EXCLUSIVE MODE;
ALTER TABLE documents RENAME TO documents_unpartitioned;

-- Same columns, defaults, generated columns and CHECK constraints; indexes are made below, because
-- a partitioned table's primary key and unique indexes must contain the partition key.
CREATE TABLE documents (
  LIKE documents_unpartitioned INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS
) PARTITION BY HASH (tenant_id);

SELECT format('CREATE TABLE documents_p%s PARTITION OF documents FOR VALUES WITH (MODULUS %s, REMAINDER %s)', r, :partitions, r)
FROM generate_series(0, :partitions - 1) AS r \gexec

INSERT INTO documents (id, content, metadata, embedding, created_at, collection_id, tenant_id, external_id, updated_at)
SELECT id, content, metadata, embedding, created_at, collection_id, tenant_id, external_id, updated_at
FROM documents_unpartitioned;
DROP TABLE documents_unpartitioned;

-- (id, tenant_id): ids stay unique in practice (random UUIDs), and lookups by id use the leading column.
ALTER TABLE documents ADD CONSTRAINT documents_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE documents ADD CONSTRAINT documents_collection_id_collections_id_fk
  FOREIGN KEY (collection_id) REFERENCES collections (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX documents_external_id_key ON documents (collection_id, tenant_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX documents_content_hash_key ON documents (collection_id, tenant_id, content_hash) WHERE external_id IS NULL;
CREATE INDEX documents_collection_tenant_created_idx ON documents (collection_id, tenant_id, created_at);
CREATE INDEX documents_metadata_idx ON documents USING gin (metadata jsonb_path_ops);
CREATE INDEX documents_search_text_idx ON documents USING gin (search_text);

-- Each collection's HNSW index, under the name and with the expression Quarry uses (see
-- packages/db/src/vector-index.ts): created on the parent, PostgreSQL builds it on every partition.
SELECT format(
  'CREATE INDEX %I ON documents USING hnsw ((embedding::%s(%s)) %s_%s) WITH (m = %s, ef_construction = %s) WHERE collection_id = %s',
  format('documents_hnsw_c%s_m%s_efc%s', id, hnsw_m, hnsw_ef_construction),
  CASE WHEN dimensions <= 2000 THEN 'vector' ELSE 'halfvec' END, dimensions,
  CASE WHEN dimensions <= 2000 THEN 'vector' ELSE 'halfvec' END,
  CASE metric WHEN 'cosine' THEN 'cosine_ops' WHEN 'l2' THEN 'l2_ops' ELSE 'ip_ops' END,
  hnsw_m, hnsw_ef_construction, id)
FROM collections ORDER BY id \gexec
COMMIT;

ANALYZE documents;
