import type { ReplicaSet, ReplicaStatus } from '@quarry/api';
import {
  innermostErrorMessage,
  migrationState,
  queryRows,
  sql,
  withTimeout,
  type Database,
} from '@quarry/db';
import { installedVectorVersion } from '@quarry/db/health';

export interface ReadinessCheck {
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  checks: {
    startup: ReadinessCheck;
    database: ReadinessCheck;
    migrations: ReadinessCheck;
    extension: ReadinessCheck;
  };
  /**
   * Each read replica's health. An unhealthy replica does not make the server unready (searches
   * go to the others or the primary meanwhile); it makes it `degraded`.
   */
  replicas: ReplicaStatus[];
  degraded: boolean;
}

/**
 * Ready means: start-up finished (migrations, demo data), the database answers, every committed
 * migration is applied, and pgvector is installed. Each check says what it saw.
 */
export async function checkReadiness(
  database: Database,
  startup: ReadinessCheck,
  timeoutMs = 2_000,
  replicas?: ReplicaSet,
): Promise<Readiness> {
  const replicaCheck = replicas ? replicas.check(timeoutMs) : Promise.resolve([]);
  const notChecked = { ok: false, detail: 'not checked: the database did not answer' };
  let reachable: ReadinessCheck;
  try {
    await withTimeout(queryRows(database.db, sql`select 1 as one`), timeoutMs, 'the database');
    reachable = { ok: true, detail: `${database.driver} database answers` };
  } catch (error) {
    reachable = { ok: false, detail: innermostErrorMessage(error) };
  }
  let migrations: ReadinessCheck = notChecked;
  let extension: ReadinessCheck = notChecked;
  if (reachable.ok) {
    try {
      const state = await withTimeout(migrationState(database), timeoutMs, 'the migration check');
      migrations = {
        ok: state.applied >= state.committed,
        detail: `${state.applied} of ${state.committed} migrations applied${state.applied < state.committed ? '; run `quarry migrate` or start with QUARRY_AUTO_MIGRATE=true' : ''}`,
      };
    } catch (error) {
      migrations = { ok: false, detail: innermostErrorMessage(error) };
    }
    try {
      const version = await withTimeout(
        installedVectorVersion(database.db),
        timeoutMs,
        'the extension check',
      );
      extension = version
        ? { ok: true, detail: `pgvector ${version}` }
        : {
            ok: false,
            detail: 'pgvector is not installed in this database (migrations create it)',
          };
    } catch (error) {
      extension = { ok: false, detail: innermostErrorMessage(error) };
    }
  }
  const checks = { startup, database: reachable, migrations, extension };
  const replicaStatus = await replicaCheck;
  return {
    ready: Object.values(checks).every((check) => check.ok),
    checks,
    replicas: replicaStatus,
    degraded: replicaStatus.some((replica) => !replica.healthy),
  };
}
