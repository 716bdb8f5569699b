import { sql } from 'drizzle-orm';
import { queryRows, type SqlExecutor } from './client';

/**
 * How a Citus cluster holds Quarry's data, for `quarry doctor` and the dashboard's collection page
 * (admin keys only: shard sizes and row counts span every tenant). On a database without Citus it
 * is `{ distributed: false }`.
 */
export type ClusterLayout =
  | { distributed: false }
  | {
      distributed: true;
      citusVersion: string;
      /** The coordinator and the workers, as pg_dist_node lists them. */
      nodes: Array<{
        name: string;
        port: number;
        role: 'coordinator' | 'worker';
        active: boolean;
        /** Shards of `documents` placed on this node. */
        shards: number;
        /** Bytes of those shards (tables and their indexes). */
        bytes: number;
      }>;
      /** Shards `documents` is split into. */
      shardCount: number;
      distributionColumn: string | null;
      /** With a collection: its rows on each shard that holds any (all shards are counted). */
      collectionRows?: Array<{ shard: string; node: string; rows: number }>;
    };

export async function clusterLayout(
  executor: SqlExecutor,
  collectionId?: number,
): Promise<ClusterLayout> {
  const [citus] = await queryRows<{ version: string | null }>(
    executor,
    sql`select (select extversion from pg_extension where extname = 'citus') as version`,
  );
  if (!citus?.version) return { distributed: false };
  const [table] = await queryRows<{ column: string | null; shards: number }>(
    executor,
    sql`select column_to_column_name(logicalrelid, partkey) as column,
          (select count(*)::int from pg_dist_shard s where s.logicalrelid = p.logicalrelid) as shards
        from pg_dist_partition p where logicalrelid = to_regclass('documents')`,
  );
  const nodes = await queryRows<{
    name: string;
    port: number;
    coordinator: boolean;
    active: boolean;
    shards: number;
    bytes: string;
  }>(
    executor,
    sql`select n.nodename as name, n.nodeport as port, n.groupid = 0 as coordinator, n.isactive as active,
          count(s.shardid)::int as shards, coalesce(sum(s.shard_size), 0)::text as bytes
        from pg_dist_node n
        left join citus_shards s on s.nodename = n.nodename and s.nodeport = n.nodeport
          and s.table_name = to_regclass('documents')
        where n.noderole = 'primary'
        group by n.nodeid, n.nodename, n.nodeport, n.groupid, n.isactive
        order by n.groupid, n.nodeport`,
  );
  const layout: ClusterLayout = {
    distributed: true,
    citusVersion: citus.version,
    nodes: nodes.map((node) => ({
      name: node.name,
      port: node.port,
      role: node.coordinator ? 'coordinator' : 'worker',
      active: node.active,
      shards: node.shards,
      bytes: Number(node.bytes),
    })),
    shardCount: table?.shards ?? 0,
    distributionColumn: table?.column ?? null,
  };
  if (collectionId === undefined || !table) return layout;
  // run_command_on_shards puts each shard's name where %s is; the collection id is a bound
  // integer that the server's format() writes into the command.
  const counts = await queryRows<{ shard: string; node: string; rows: string }>(
    executor,
    sql`select s.shard_name as shard, s.nodename || ':' || s.nodeport as node, r.result as rows
        from run_command_on_shards('documents',
          format('select count(*) from %%s where collection_id = %s', ${collectionId}::int)) r
        join citus_shards s on s.shardid = r.shardid
        where r.success and r.result <> '0'
        order by s.shardid`,
  );
  return {
    ...layout,
    collectionRows: counts.map((row) => ({
      shard: row.shard,
      node: row.node,
      rows: Number(row.rows),
    })),
  };
}
