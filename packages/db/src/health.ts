import { sql } from 'drizzle-orm';
import { queryRows, type SqlExecutor } from './client';

/**
 * The catalog queries behind `quarry doctor`, `/readyz` and the collections API, in one place so
 * each reads PostgreSQL's statistics the same way.
 */

export interface ServerVersion {
  /** `version()`, e.g. "PostgreSQL 15.8 on x86_64-pc-linux-gnu ...". */
  version: string;
  /** `server_version_num`, e.g. 150008. */
  num: number;
}

export async function serverVersion(db: SqlExecutor): Promise<ServerVersion> {
  const [row] = await queryRows<{ version: string; num: string | number }>(
    db,
    sql`select version() as version, current_setting('server_version_num') as num`,
  );
  return { version: row?.version ?? '', num: Number(row?.num ?? 0) };
}

export interface VectorExtension {
  /** The version installed in this database, or null when it is not installed. */
  installed: string | null;
  /** The version the server's packages would install, or null when pgvector is not available. */
  available: string | null;
}

/** The installed pgvector version only (one query; what readiness needs). */
export async function installedVectorVersion(db: SqlExecutor): Promise<string | null> {
  const [row] = await queryRows<{ extversion: string }>(
    db,
    sql`select extversion from pg_extension where extname = 'vector'`,
  );
  return row?.extversion ?? null;
}

export async function vectorExtension(db: SqlExecutor): Promise<VectorExtension> {
  const [available] = await queryRows<{ default_version: string | null }>(
    db,
    sql`select default_version from pg_available_extensions where name = 'vector'`,
  );
  return {
    installed: await installedVectorVersion(db),
    available: available?.default_version ?? null,
  };
}

export interface IndexBuildProgress {
  phase: string;
  blocksDone: number;
  blocksTotal: number;
  tuplesDone: number;
  tuplesTotal: number;
}

export interface DocumentsTableHealth {
  tableBytes: number;
  liveTuples: number;
  deadTuples: number;
  /** ISO time of the latest manual or automatic vacuum, or null when never vacuumed. */
  lastVacuum: string | null;
  lastAnalyze: string | null;
  /** HNSW (or other) index builds running on the table now. */
  indexBuilds: IndexBuildProgress[];
}

const iso = (value: Date | string | null | undefined) =>
  value ? new Date(value).toISOString() : null;

/** Size, live/dead rows, vacuum/analyze times and running index builds of `documents` (all collections share it). */
export async function documentsTableHealth(db: SqlExecutor): Promise<DocumentsTableHealth> {
  const [stats] = await queryRows<{
    table_bytes: string | number | null;
    live_tuples: string | number | null;
    dead_tuples: string | number | null;
    last_vacuum: Date | string | null;
    last_autovacuum: Date | string | null;
    last_analyze: Date | string | null;
    last_autoanalyze: Date | string | null;
  }>(
    db,
    sql`select pg_table_size(c.oid) as table_bytes, s.n_live_tup as live_tuples, s.n_dead_tup as dead_tuples,
          s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze
        from pg_class c left join pg_stat_user_tables s on s.relid = c.oid
        where c.oid = to_regclass('documents')`,
  );
  // PGlite has no progress view for every build; its absence is "no builds", not a failure.
  const progress = await queryRows<{
    phase: string;
    blocks_done: string | number;
    blocks_total: string | number;
    tuples_done: string | number;
    tuples_total: string | number;
  }>(
    db,
    sql`select phase, blocks_done, blocks_total, tuples_done, tuples_total from pg_stat_progress_create_index where relid = to_regclass('documents')`,
  ).catch(() => []);
  return {
    tableBytes: Number(stats?.table_bytes ?? 0),
    liveTuples: Number(stats?.live_tuples ?? 0),
    deadTuples: Number(stats?.dead_tuples ?? 0),
    lastVacuum: iso(latest(stats?.last_vacuum, stats?.last_autovacuum)),
    lastAnalyze: iso(latest(stats?.last_analyze, stats?.last_autoanalyze)),
    indexBuilds: progress.map((p) => ({
      phase: p.phase,
      blocksDone: Number(p.blocks_done),
      blocksTotal: Number(p.blocks_total),
      tuplesDone: Number(p.tuples_done),
      tuplesTotal: Number(p.tuples_total),
    })),
  };
}

function latest(
  a: Date | string | null | undefined,
  b: Date | string | null | undefined,
): Date | string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return new Date(a).getTime() >= new Date(b).getTime() ? a : b;
}
