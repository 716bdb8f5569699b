import type { ReservedSql, Sql, TransactionSql } from 'postgres';
import { QuarryError } from './errors';

/**
 * postgres.js queues a query without limit while every connection is taken (each transaction
 * reserves one), so with more callers than connections a request could wait forever. The pool is
 * fronted by a gate of as many slots as connections: a transaction or a statement holds a slot
 * while it runs, and a caller that finds none free within `acquireTimeoutMs` gets DATABASE_BUSY.
 */
export interface AcquireGate {
  run<T>(work: () => PromiseLike<T>): Promise<T>;
  /** Slots in use and callers waiting, for tests and diagnostics. */
  readonly stats: { inUse: number; waiting: number };
}

export function createAcquireGate(capacity: number, acquireTimeoutMs: number): AcquireGate {
  let inUse = 0;
  const waiting: Array<() => void> = [];

  function release() {
    const next = waiting.shift();
    if (next) next();
    else inUse--;
  }

  function acquire(): Promise<void> {
    if (inUse < capacity) {
      inUse++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer =
        acquireTimeoutMs > 0
          ? setTimeout(() => {
              waiting.splice(waiting.indexOf(grant), 1);
              reject(
                new QuarryError(
                  'DATABASE_BUSY',
                  `no database connection came free within ${acquireTimeoutMs} ms (all ${capacity} are in use); retry shortly, or give the server more connections or a longer wait`,
                ),
              );
            }, acquireTimeoutMs)
          : undefined;
      waiting.push(grant);
    });
  }

  return {
    async run(work) {
      await acquire();
      try {
        return await work();
      } finally {
        release();
      }
    },
    get stats() {
      return { inUse, waiting: waiting.length };
    },
  };
}

type PendingQuery = ReturnType<Sql['unsafe']>;

/**
 * The postgres.js client with `begin` (a transaction, which reserves a connection) and `unsafe`
 * (how Drizzle sends every statement) going through the gate. A query object of postgres.js runs
 * when first awaited, so the gated one starts it only once a slot is held; `.values()` (Drizzle's
 * array mode) is passed on before that. That is all Drizzle uses; the other query methods
 * (`cursor`, `forEach`, `describe`) are not offered outside a transaction.
 */
export function gatePool(client: Sql, gate: AcquireGate): Sql {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'begin') {
        return (...args: Parameters<Sql['begin']>) => gate.run(() => target.begin(...args));
      }
      if (property === 'reserve') {
        return () => reserveGated(target, gate);
      }
      if (property === 'unsafe') {
        return (...args: Parameters<Sql['unsafe']>) => gatedQuery(target.unsafe(...args), gate);
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

/**
 * The gated client whose `begin` sends BEGIN together with the transaction's first statements, in
 * one write (for Drizzle's transactions; see beginPipelined). `begin` of `gatePool` stays
 * postgres.js's own, which the write session needs (COPY, savepoints).
 */
export function pipelineBegin(gated: Sql, { readOnly = false } = {}): Sql {
  return new Proxy(gated, {
    get(target, property, receiver) {
      if (property === 'begin') {
        return (...args: [string, TransactionWork] | [TransactionWork]) =>
          args.length === 1
            ? beginPipelined(target, readOnly, args[0])
            : beginPipelined(target, readOnly, args[1]);
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

type TransactionWork = (sql: TransactionSql) => unknown;

/**
 * postgres.js's `begin` awaits BEGIN before it runs the transaction's work: a round trip of its
 * own. Here BEGIN goes out on a reserved connection without waiting, so the driver writes it with
 * the work's first statements; what postgres.js's `begin` guarantees still holds:
 * - the work's statements run in order on the one connection, inside the transaction;
 * - COMMIT when the work resolves; ROLLBACK when it throws, or when any of its statements failed
 *   (even one whose error the work caught: PostgreSQL aborted the transaction), and then the
 *   first statement error is thrown, not the "current transaction is aborted" that followed it;
 * - after a statement failed (or the connection closed), no further statement is sent: nothing the
 *   work sends can run outside the transaction.
 * Only `unsafe` is offered inside (all Drizzle uses); savepoints are not (nested transactions).
 *
 * A `readOnly` transaction is BEGIN READ ONLY (PostgreSQL refuses any write in it). Its work may
 * say, with endReadAfterIssued, that it has issued its last statement: COMMIT then goes out right
 * behind it (no round trip of its own), and the outcome does not wait for COMMIT's answer. A
 * statement issued after that is never sent: it fails with TransactionEndedError, and the caller
 * may run the work again without ending early. Either way the connection is released only once
 * COMMIT has answered: releasing a reserved connection with COMMIT still in flight left later
 * requests through PgBouncer waiting forever (the tenancy suite on PgBouncer hung in 1-3 tests per
 * run).
 */
async function beginPipelined(
  client: Sql,
  readOnly: boolean,
  work: TransactionWork,
): Promise<unknown> {
  const reserved = await client.reserve();
  const scope = { issued: [] as Array<Promise<unknown>>, failed: undefined as Error | undefined };
  let commit: Promise<unknown> | undefined;
  let ended = false;
  let endAsked = false;
  let checkArmed = false;
  // Armed before the driver schedules its write of a turn's statements (it writes at setImmediate
  // too, or at once past 1 KiB), so a COMMIT asked for in that turn joins the same write.
  const armEndCheck = () => {
    if (checkArmed) return;
    checkArmed = true;
    setImmediate(() => {
      checkArmed = false;
      if (!endAsked || ended) return;
      ended = true;
      // A failed statement aborted the transaction: PostgreSQL answers its COMMIT as ROLLBACK.
      // A failed COMMIT of a read-only transaction (the connection lost) changes nothing it read.
      commit = Promise.resolve(reserved.unsafe('commit')).catch(() => undefined);
    });
  };
  const track = (query: PendingQuery) => {
    if (ended) return Promise.reject(new TransactionEndedError());
    if (scope.failed !== undefined) return Promise.reject(scope.failed);
    if (readOnly) armEndCheck();
    const settled = Promise.resolve(query);
    scope.issued.push(settled);
    settled.catch((error: unknown) => {
      scope.failed ??= error instanceof Error ? error : new Error(String(error));
    });
    return settled;
  };
  const transaction = {
    unsafe: (...args: Parameters<Sql['unsafe']>) => deferredQuery(reserved.unsafe(...args), track),
    savepoint: () => {
      throw new Error('nested transactions (savepoints) are not supported in this transaction');
    },
  } as unknown as TransactionSql;
  if (readOnly) {
    // COMMIT follows the statements the work is issuing in this turn (Drizzle reaches the driver
    // a few microtasks after a query is called).
    earlyEnds.set(transaction, () => {
      endAsked = true;
      armEndCheck();
    });
  }
  let released: Promise<unknown> | undefined;
  try {
    void track(reserved.unsafe(readOnly ? 'begin read only' : 'begin'));
    let result: unknown;
    try {
      result = await work(transaction);
      await Promise.allSettled(scope.issued);
      if (scope.failed !== undefined) throw scope.failed;
    } catch (error) {
      const early = ended;
      ended = true;
      if (early) await commit;
      else await reserved.unsafe('rollback');
      throw isAbortedTransaction(error) && scope.failed !== undefined ? scope.failed : error;
    }
    const early = ended;
    ended = true;
    if (!early || commit === undefined) await reserved.unsafe('commit');
    else released = commit.finally(() => reserved.release());
    return result;
  } finally {
    if (released === undefined) reserved.release();
  }
}

/** The early end of each read-only transaction (see beginPipelined). */
const earlyEnds = new WeakMap<object, () => void>();

/**
 * Tells a read-only transaction of pipelineBegin that its work has issued its last statement:
 * COMMIT follows right behind. Elsewhere (a read-write transaction, PGlite) it does nothing.
 */
export function endReadAfterIssued(transaction: unknown): void {
  earlyEnds.get(transaction as object)?.();
}

/** A statement issued after its read-only transaction was ended early; it was not sent. */
export class TransactionEndedError extends Error {
  constructor() {
    super('a statement was issued after its read-only transaction was ended; it was not sent');
  }
}

/** "current transaction is aborted" (25P02), from the driver or wrapped by Drizzle. */
function isAbortedTransaction(error: unknown): boolean {
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: unknown };
  return code === '25P02' || (cause !== undefined && isAbortedTransaction(cause));
}

/**
 * A query object that is sent when first awaited (as postgres.js's own: `.values()` may be called
 * before), through `send`.
 */
function deferredQuery(
  query: PendingQuery,
  send: (query: PendingQuery) => Promise<unknown>,
): PendingQuery {
  let started: Promise<unknown> | undefined;
  const start = () => (started ??= send(query));
  const deferred = {
    then: (onFulfilled?: (value: unknown) => unknown, onRejected?: (reason: unknown) => unknown) =>
      start().then(onFulfilled, onRejected),
    catch: (onRejected?: (reason: unknown) => unknown) => start().catch(onRejected),
    finally: (onFinally?: () => void) => start().finally(onFinally),
    values() {
      void query.values(); // only sets array mode; the query runs when awaited
      return deferred;
    },
  };
  return deferred as unknown as PendingQuery;
}

/** A reserved connection holds a slot of the gate until it is released. */
function reserveGated(client: Sql, gate: AcquireGate): Promise<ReservedSql> {
  return new Promise((resolve, reject) => {
    gate
      .run(async () => {
        const reserved = await client.reserve();
        await new Promise<void>((released) => {
          const release = reserved.release.bind(reserved);
          reserved.release = () => {
            release();
            released();
          };
          resolve(reserved);
        });
      })
      .catch(reject);
  });
}

function gatedQuery(query: PendingQuery, gate: AcquireGate): PendingQuery {
  return deferredQuery(query, (pending) => gate.run(() => pending));
}
