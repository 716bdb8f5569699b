-- The measurement behind scaling.md's "Why tenant_id": the same 20,000 rows (32 dimensions, 2
-- collections, 24 tenants) in three tables distributed by tenant_id, collection_id and document id,
-- each with the per-collection partial HNSW index; then, per layout, how many shards a tenant's
-- search, a collection-wide search and an upsert by external id run on (EXPLAIN's Task Count), and
-- the median of 30 searches of each kind. Run it on a Citus coordinator in a scratch database:
--   psql -f apps/server/docs/citus-layouts.sql postgres://postgres@127.0.0.1:9700/postgres
-- It drops what it made at the end.
\timing off
set client_min_messages = warning;
drop table if exists m_src, m_tenant, m_collection, m_id;
create table m_src as
  select gen_random_uuid() as id, (g % 2) + 1 as collection_id, 'tenant-' || (g % 24) as tenant_id,
         g::text as external_id, md5(g::text) as content_hash,
         (select array_agg(random()::real) from generate_series(1, 32) where g > 0)::vector(32) as embedding
  from generate_series(1, 20000) g;
\echo == distribute by tenant_id
create table m_tenant (like m_src);
alter table m_tenant add primary key (id, tenant_id);
create unique index on m_tenant (collection_id, tenant_id, external_id);
create unique index on m_tenant (collection_id, tenant_id, content_hash);
select create_distributed_table('m_tenant', 'tenant_id');
\echo == distribute by collection_id
create table m_collection (like m_src);
alter table m_collection add primary key (id, collection_id);
create unique index on m_collection (collection_id, tenant_id, external_id);
create unique index on m_collection (collection_id, tenant_id, content_hash);
select create_distributed_table('m_collection', 'collection_id');
\echo == distribute by id (document id)
create table m_id (like m_src);
alter table m_id add primary key (id);
select create_distributed_table('m_id', 'id');
\echo after distribution, the upsert key cannot be made unique:
create unique index on m_id (collection_id, tenant_id, external_id);
insert into m_tenant select * from m_src; insert into m_collection select * from m_src; insert into m_id select * from m_src;
create index on m_tenant using hnsw (embedding vector_cosine_ops) where collection_id = 1;
create index on m_collection using hnsw (embedding vector_cosine_ops) where collection_id = 1;
create index on m_id using hnsw (embedding vector_cosine_ops) where collection_id = 1;
analyze m_tenant; analyze m_collection; analyze m_id;
\echo == shards holding rows of collection 1 (of 32), per layout
select 'tenant_id' as layout, count(*) filter (where r.result::int > 0) as shards_with_rows from run_command_on_shards('m_tenant', 'select count(*) from %s where collection_id = 1') r
union all select 'collection_id', count(*) filter (where r.result::int > 0) from run_command_on_shards('m_collection', 'select count(*) from %s where collection_id = 1') r
union all select 'id', count(*) filter (where r.result::int > 0) from run_command_on_shards('m_id', 'select count(*) from %s where collection_id = 1') r;
\echo == task count (shards a statement runs on) per layout
\set q '(select embedding from m_src where external_id = ''7'')'
create or replace function m_tasks(query text) returns text language plpgsql as $$
declare line text; begin
  for line in execute 'explain (costs off) ' || query loop
    if line ~ 'Task Count' then return trim(line); end if;
    if line ~ 'Router' then return 'router (1 shard)'; end if;
  end loop; return '?'; end $$;
select layout, m_tasks(format('select id from %s where collection_id = 1 and tenant_id = ''tenant-4'' order by embedding <=> (select embedding from m_src limit 1) limit 10', t)) as tenant_search,
       m_tasks(format('select id from %s where collection_id = 1 order by embedding <=> ''%s'' limit 10', t, (select embedding from m_src limit 1))) as collection_search,
       m_tasks(format('insert into %s (id, collection_id, tenant_id, external_id, content_hash, embedding) values (gen_random_uuid(), 1, ''tenant-4'', ''7'', ''x'', ''%s'') on conflict (collection_id, tenant_id, external_id) do nothing', t, (select embedding from m_src limit 1))) as upsert_by_external_id
from (values ('tenant_id', 'm_tenant'), ('collection_id', 'm_collection'), ('id', 'm_id')) v(layout, t);
create or replace function m_p50(query_template text, t text) returns numeric language plpgsql as $$
declare started timestamptz; took numeric[] := '{}'; q vector; begin
  for i in 1..30 loop
    select embedding into q from m_src offset (i * 97) limit 1;
    started := clock_timestamp();
    execute format(query_template, t) using q;
    took := took || extract(epoch from clock_timestamp() - started) * 1000;
  end loop;
  return round((select percentile_cont(0.5) within group (order by x) from unnest(took) x)::numeric, 2);
end $$;
select layout,
  m_p50('select array_agg(id) from (select id from %s where collection_id = 1 and tenant_id = ''tenant-4'' order by embedding <=> $1 limit 10) s', t) as tenant_search_p50_ms,
  m_p50('select array_agg(id) from (select id from %s where collection_id = 1 order by embedding <=> $1 limit 10) s', t) as collection_search_p50_ms
from (values ('tenant_id', 'm_tenant'), ('collection_id', 'm_collection'), ('id', 'm_id')) v(layout, t);
drop table m_src, m_tenant, m_collection, m_id; drop function m_tasks(text); drop function m_p50(text, text);
