import { innermostErrorMessage, queryRows, sql, withTimeout, type Database } from '@quarry/db';
import { isDatabaseUnavailable } from './errors';

/** One replica as `/readyz` and `quarry doctor` show it. */
export interface ReplicaStatus {
  name: string;
  healthy: boolean;
  /** What the last failure was and what happens meanwhile, or that it serves reads. */
  detail: string;
  /** Failures in a row (a request's or a probe's); 0 while healthy. */
  failures: number;
  /** When it is probed again, if it is unhealthy; null while healthy or while a probe runs. */
  retryInMs: number | null;
}

export interface ReplicaBackoff {
  /** Wait after the first failure before a probe (default 1,000 ms); doubles with each failed probe. */
  initialMs: number;
  /** The longest wait between probes (default 30,000 ms). */
  maxMs: number;
}

/**
 * The read replicas and what is known of their health. A replica that fails by connection (down,
 * restarting, refusing connections) is unhealthy: reads skip it, and after a backoff that doubles
 * with each failure it is probed (`select 1`) in the background; a probe that answers makes it
 * healthy again. Requests never wait for a probe.
 */
export interface ReplicaSet {
  readonly size: number;
  /** Healthy replicas in the order a read should try them (a random one first, to spread load). */
  candidates(): Database[];
  /** Records a failure of `replica`; only connection-class failures count. Returns whether it counted. */
  reportFailure(replica: Database, error: unknown): boolean;
  /** Each replica's health as last seen. */
  status(): ReplicaStatus[];
  /**
   * Probes the healthy replicas and those whose backoff is over, waiting up to `timeoutMs` for
   * each, and returns the status afterwards: what `/readyz` shows.
   */
  check(timeoutMs: number): Promise<ReplicaStatus[]>;
}

export const DEFAULT_REPLICA_BACKOFF: ReplicaBackoff = { initialMs: 1_000, maxMs: 30_000 };

interface Health {
  name: string;
  database: Database;
  failures: number;
  lastError: string | undefined;
  retryAt: number;
  probing: Promise<void> | undefined;
}

export function createReplicaSet(
  replicas: ReadonlyArray<{ name: string; database: Database }>,
  options: { backoff?: Partial<ReplicaBackoff>; probeTimeoutMs?: number } = {},
): ReplicaSet {
  const backoff = { ...DEFAULT_REPLICA_BACKOFF, ...options.backoff };
  const probeTimeoutMs = options.probeTimeoutMs ?? 5_000;
  const all: Health[] = replicas.map(({ name, database }) => ({
    name,
    database,
    failures: 0,
    lastError: undefined,
    retryAt: 0,
    probing: undefined,
  }));
  const byDatabase = new Map(all.map((health) => [health.database, health]));

  const markFailed = (health: Health, error: unknown) => {
    health.failures++;
    health.lastError = innermostErrorMessage(error);
    health.retryAt =
      Date.now() + Math.min(backoff.maxMs, backoff.initialMs * 2 ** (health.failures - 1));
  };
  const probe = (health: Health, timeoutMs: number): Promise<void> => {
    health.probing ??= withTimeout(
      queryRows(health.database.db, sql`select 1 as one`),
      timeoutMs,
      'the replica',
    ).then(
      () => {
        health.failures = 0;
        health.lastError = undefined;
        health.probing = undefined;
      },
      (error: unknown) => {
        markFailed(health, error);
        health.probing = undefined;
      },
    );
    return health.probing;
  };
  const due = (health: Health) =>
    health.failures > 0 && health.probing === undefined && Date.now() >= health.retryAt;

  return {
    size: all.length,
    candidates() {
      for (const health of all) if (due(health)) void probe(health, probeTimeoutMs);
      const healthy = all.filter((health) => health.failures === 0);
      const first = Math.floor(Math.random() * healthy.length);
      return [...healthy.slice(first), ...healthy.slice(0, first)].map((h) => h.database);
    },
    reportFailure(replica, error) {
      const health = byDatabase.get(replica);
      if (!health || !isDatabaseUnavailable(error)) return false;
      // Requests that were already on their way to it when it failed add nothing new.
      if (health.failures === 0) markFailed(health, error);
      return true;
    },
    status() {
      const now = Date.now();
      return all.map((health) =>
        health.failures === 0
          ? {
              name: health.name,
              healthy: true,
              detail: 'serving reads',
              failures: 0,
              retryInMs: null,
            }
          : {
              name: health.name,
              healthy: false,
              detail: `${health.lastError ?? 'failed'}; reads go to the other replicas or the primary until a probe answers`,
              failures: health.failures,
              retryInMs: health.probing ? null : Math.max(0, health.retryAt - now),
            },
      );
    },
    async check(timeoutMs) {
      await Promise.all(
        all
          .filter((health) => health.failures === 0 || due(health))
          .map((health) => probe(health, timeoutMs)),
      );
      return this.status();
    },
  };
}

const setsOfArrays = new WeakMap<readonly Database[], ReplicaSet>();

/** The set itself, or the one set of an array of replicas (named replica-1, replica-2, ...). */
export function replicaSetOf(replicas: ReplicaSet | readonly Database[]): ReplicaSet {
  if ('candidates' in replicas) return replicas;
  let set = setsOfArrays.get(replicas);
  if (!set) {
    set = createReplicaSet(
      replicas.map((database, index) => ({ name: `replica-${index + 1}`, database })),
    );
    setsOfArrays.set(replicas, set);
  }
  return set;
}

/**
 * Runs read-only `work` on a healthy replica; if that replica fails by connection (it is down or
 * restarting), it is marked unhealthy and the work runs again on the next healthy one, and at last
 * on the primary. Safe because `work` only reads: nothing was written by the failed attempt. Any
 * other error (bad input, a statement timeout) is the request's own and is thrown at once.
 */
export async function onReplica<T>(
  ctx: { database: Database; replicas: ReplicaSet },
  work: (reader: Database) => Promise<T>,
): Promise<T> {
  for (const replica of ctx.replicas.candidates()) {
    try {
      return await work(replica);
    } catch (error) {
      if (!ctx.replicas.reportFailure(replica, error)) throw error;
    }
  }
  return work(ctx.database);
}
