import {
  endReadAfterIssued,
  isTransientConflict,
  TransactionEndedError,
  readTransaction,
  sql,
  type QuarryDatabase,
  type SQL,
} from '@quarry/db';
import type { Limits } from './limits';

export type Transaction = Parameters<Parameters<QuarryDatabase['transaction']>[0]>[0];

/** Attempts of a transaction that PostgreSQL aborted as a deadlock victim or serialization failure. */
export const TRANSACTION_ATTEMPTS = 3;

/**
 * Runs `work` in one transaction with request-local settings. `set_config(..., true)` is
 * `SET LOCAL`: it ends with the transaction, so nothing leaks to the next request that a pooler
 * (PgBouncer in transaction mode) hands the same server connection to.
 *
 * Neither BEGIN nor the settings cost a round trip of their own: BEGIN, the settings and `work`'s
 * first statement go out in one write (@quarry/db's pipelineBegin; postgres.js pipelines the
 * statements of a transaction issued together), except on
 * the first transaction of a database, which learns whether it is a Citus coordinator (there the
 * settings must be forwarded before the work runs; see setLocal).
 *
 * `guard`, a boolean SQL expression, is evaluated in the settings' statement: when it is false the
 * work's outcome is discarded and the transaction rolled back with StaleReadError (a cached
 * collection row that changed, see collectionIsCurrent).
 *
 * A transaction PostgreSQL chose as a deadlock victim (40P01) or could not serialize (40001) was
 * rolled back whole, so it is run again, up to TRANSACTION_ATTEMPTS times: the caller sees the
 * outcome of one clean run, never the collision. `work` must touch nothing but the transaction.
 */
export const inTransaction = transactionRunner((db, body) => db.transaction(body));

/**
 * inTransaction for work that only reads (a search): on PostgreSQL the transaction is READ ONLY
 * (see @quarry/db's readTransaction).
 */
export const inReadTransaction = transactionRunner(readTransaction);

function transactionRunner(
  begin: <T>(db: QuarryDatabase, body: (tx: Transaction) => Promise<T>) => Promise<T>,
) {
  return <T>(
    db: QuarryDatabase,
    limits: Pick<Limits, 'statementTimeoutMs'>,
    work: (tx: Transaction) => Promise<T>,
    settings: Record<string, string> = {},
    guard?: SQL<boolean>,
  ): Promise<T> => run((body) => begin(db, body), db, limits, work, settings, guard);
}

async function run<T>(
  begin: (body: (tx: Transaction) => Promise<T>) => Promise<T>,
  db: QuarryDatabase,
  limits: Pick<Limits, 'statementTimeoutMs'>,
  work: (tx: Transaction) => Promise<T>,
  settings: Record<string, string>,
  guard: SQL<boolean> | undefined,
): Promise<T> {
  const all = { statement_timeout: String(limits.statementTimeoutMs), ...settings };
  let mayEndEarly = true;
  for (let attempt = 1; ; attempt++) {
    try {
      return await begin(async (tx) => {
        if (mayEndEarly) endingEarly.add(tx);
        let distributed = distributedDatabases.get(db);
        if (distributed === undefined) {
          // The first transaction learns whether this is a Citus coordinator, before it reads a table.
          distributed = (await applySettings(tx, all, undefined)).distributed;
          distributedDatabases.set(db, distributed);
        }
        if (!distributed) {
          pipelining.add(tx);
          const [first, outcome] = await Promise.allSettled([
            applySettings(tx, all, guard),
            work(tx),
          ]);
          if (first.status === 'rejected') throw first.reason;
          if (!first.value.guardHolds) throw new StaleReadError();
          if (outcome.status === 'rejected') throw outcome.reason;
          return outcome.value;
        }
        // On Citus the settings are forwarded first: quarry_set_local sets them here too, so they
        // hold even where a setting (citus.enable_local_execution = off, for EXPLAIN ANALYZE) sends
        // the guard's read of `collections` to another node.
        await forwardSettings(tx, all);
        const { guardHolds } = await applySettings(tx, all, guard);
        if (!guardHolds) throw new StaleReadError();
        return work(tx);
      });
    } catch (error) {
      if (mayEndEarly && isTransactionEnded(error)) {
        // The work read on after saying it was done (a vector search's exact re-run): run it
        // again as an ordinary transaction. Nothing was sent after the early COMMIT.
        mayEndEarly = false;
        attempt--;
        continue;
      }
      if (attempt >= TRANSACTION_ATTEMPTS || !isTransientConflict(error)) throw error;
      // Jittered, so the two colliding transactions do not meet again in the same order.
      await new Promise((resolve) =>
        setTimeout(resolve, 5 * attempt + Math.random() * 20 * attempt),
      );
    }
  }
}

/** Transactions whose work may end them early (see lastStatementIssued). */
const endingEarly = new WeakSet<object>();

/**
 * Says that `tx`'s work has issued its last statement: in a read transaction on PostgreSQL the
 * COMMIT goes out right behind it, without a round trip of its own (see @quarry/db's
 * pipelineBegin). Should the work issue another statement after all, that statement is not sent
 * and the whole work runs again in an ordinary transaction. Elsewhere it does nothing.
 */
export function lastStatementIssued(tx: Transaction): void {
  if (!endingEarly.has(tx)) return;
  // Drizzle's transaction runs its statements through the driver's transaction object.
  endReadAfterIssued((tx as unknown as { session?: { client?: unknown } }).session?.client);
}

/** TransactionEndedError, from the driver or wrapped by Drizzle. */
function isTransactionEnded(error: unknown): boolean {
  if (error instanceof TransactionEndedError) return true;
  const { cause } = (error ?? {}) as { cause?: unknown };
  return cause !== undefined && isTransactionEnded(cause);
}

/** A read's guard failed: what it read was cached and has changed; run it again from fresh data. */
export class StaleReadError extends Error {
  constructor() {
    super('a cached row this request relied on has changed');
  }
}

/** Whether each database is a Citus coordinator, learned by its first transaction. */
const distributedDatabases = new WeakMap<object, boolean>();
/** Transactions whose settings may be pipelined with the statement they are for (not Citus). */
const pipelining = new WeakSet<object>();

/** The settings statement of each guard (or none) and list of setting names, built once. */
const settingsStatements = new WeakMap<object, Map<string, StatementTemplate>>();
const NO_GUARD = {};
const MAX_SETTINGS_SHAPES = 50;

async function applySettings(
  tx: Transaction,
  settings: Record<string, string>,
  guard: SQL<boolean> | undefined,
): Promise<{ guardHolds: boolean; distributed: boolean }> {
  const names = Object.keys(settings);
  let byNames = settingsStatements.get(guard ?? NO_GUARD);
  if (!byNames)
    settingsStatements.set(guard ?? NO_GUARD, (byNames = new Map<string, StatementTemplate>()));
  const shape = names.join(',');
  let template = byNames.get(shape);
  if (!template) {
    const columns: Record<string, SQL> = {
      guardHolds: sql<boolean>`${guard ?? sql`true`}`,
      distributed: sql<boolean>`to_regproc('quarry_set_local') is not null`,
    };
    names.forEach((name, index) => {
      columns[`s${index}`] = sql`set_config(${name}, ${sql.placeholder(`s${index}`)}, true)`;
    });
    // A prepared statement (where the driver prepares: not behind a transaction pooler): a
    // parameterised statement that is not must be described first, a round trip of its own that
    // also holds back the statements pipelined behind it.
    template = statementTemplate(
      tx.select(columns).from(sql`(select 1) as one`),
      'quarry_settings',
    );
    if (byNames.size >= MAX_SETTINGS_SHAPES) byNames.clear();
    byNames.set(shape, template);
  }
  const values: Record<string, string> = {};
  names.forEach((name, index) => (values[`s${index}`] = settings[name] ?? ''));
  const [row] = await runTemplate<Array<{ guardHolds: unknown; distributed: unknown }>>(
    tx,
    template,
    values,
  );
  return { guardHolds: Boolean(row?.guardHolds), distributed: Boolean(row?.distributed) };
}

/**
 * A statement as Drizzle builds it (its text, its parameters with placeholders where each run's
 * values go, and how its rows map to objects), kept so that a statement of a known shape is not
 * built again on every request: building it (the query builder, then the SQL text) was about a
 * tenth of a vector search's CPU in the server.
 */
export interface StatementTemplate {
  sql: string;
  params: unknown[];
  /** Drizzle's ordered result fields (its row mapping). */
  fields: unknown;
  /** Run as a prepared statement (see runTemplate). */
  name: string | undefined;
}

/** What Drizzle's prepared query holds once built; not in its public types. */
interface BuiltQuery {
  queryString: string;
  params: unknown[];
  fields: unknown;
}

/** The session a Drizzle transaction runs its statements through (as its query builders do). */
interface StatementSession {
  prepareQuery(
    query: { sql: string; params: unknown[] },
    fields: unknown,
    name: string | undefined,
    isResponseInArrayMode: boolean,
  ): { execute(values?: Record<string, unknown>): Promise<unknown> };
}

/**
 * Builds `query` (a select whose per-run values are `sql.placeholder`s, without outer joins:
 * their columns, which Drizzle's own prepared query nulls per joined table, are not) into a
 * template for runTemplate. With a `name` it runs as a prepared statement where the driver
 * prepares (see @quarry/db's createDb).
 */
export function statementTemplate(
  query: { prepare(name: string): unknown },
  name: string | undefined,
): StatementTemplate {
  const built = query.prepare(name ?? 'template') as BuiltQuery;
  return { sql: built.queryString, params: built.params, fields: built.fields, name };
}

/**
 * Templates kept by shape: `build` runs for a shape not seen before. Past `maxShapes` (collections
 * and tenants make shapes unbounded) the kept ones are dropped and built again on use.
 */
export function templatesByShape(
  maxShapes: number,
): (shape: string, build: () => StatementTemplate) => StatementTemplate {
  const templates = new Map<string, StatementTemplate>();
  return (shape, build) => {
    let template = templates.get(shape);
    if (!template) {
      template = build();
      if (templates.size >= maxShapes) templates.clear();
      templates.set(shape, template);
    }
    return template;
  };
}

/** Runs a template in `tx` with this run's placeholder values, its rows mapped as Drizzle maps them. */
export function runTemplate<T>(
  tx: Transaction,
  template: StatementTemplate,
  values: Record<string, unknown>,
): Promise<T> {
  const { session } = tx as unknown as { session: StatementSession };
  const query = session.prepareQuery(
    { sql: template.sql, params: template.params },
    template.fields,
    template.name,
    true,
  );
  return query.execute(values) as Promise<T>;
}

async function forwardSettings(tx: Transaction, settings: Record<string, string>): Promise<void> {
  const forwarded = Object.entries(settings).map(
    ([name, value]) => sql`quarry_set_local(${name}, ${value})`,
  );
  await tx.execute(sql`select ${sql.join(forwarded, sql`, `)}`);
}

/**
 * `statement`, run under `settings` (SET LOCAL, for the rest of the transaction). Outside Citus
 * both go out together, in one round trip; on Citus the settings are forwarded first.
 */
export async function underSettings<T>(
  tx: Transaction,
  settings: Record<string, string>,
  statement: () => Promise<T>,
): Promise<T> {
  if (Object.keys(settings).length === 0) return statement();
  if (!pipelining.has(tx)) {
    await setLocal(tx, settings);
    return statement();
  }
  const [applied, result] = await Promise.allSettled([
    applySettings(tx, settings, undefined),
    statement(),
  ]);
  if (applied.status === 'rejected') throw applied.reason;
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

/**
 * `SET LOCAL` for each setting, in one round trip. Names and values are bound parameters of
 * `set_config`, never SQL text. On a Citus coordinator (where migrate() created
 * `quarry_set_local`, see @quarry/db's citus.ts) a second round trip makes them `SET LOCAL`
 * statements that Citus forwards to the shards' queries, which `set_config` alone does not reach.
 */
export async function setLocal(tx: Transaction, settings: Record<string, string>): Promise<void> {
  if (Object.keys(settings).length === 0) return;
  const { distributed } = await applySettings(tx, settings, undefined);
  if (distributed) await forwardSettings(tx, settings);
}
