import type { ReservedSql, Sql } from 'postgres';
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
  let started: Promise<unknown> | undefined;
  const start = () => (started ??= gate.run(() => query));
  const gated = {
    then: (onFulfilled?: (value: unknown) => unknown, onRejected?: (reason: unknown) => unknown) =>
      start().then(onFulfilled, onRejected),
    catch: (onRejected?: (reason: unknown) => unknown) => start().catch(onRejected),
    finally: (onFinally?: () => void) => start().finally(onFinally),
    values() {
      void query.values(); // only sets array mode; the query runs when awaited
      return gated;
    },
  };
  return gated as unknown as PendingQuery;
}
