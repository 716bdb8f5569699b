import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { fingerprint, type TestDatabase } from '@quarry/db/testing';
import { expect } from 'vitest';

export type Outcome<T> = { accepted: true; value: T } | { accepted: false; error: TRPCError };

/**
 * Runs a call that hostile input may make fail. A refusal must be a typed client error (a 4xx,
 * never INTERNAL_SERVER_ERROR) and must leave every collection, document and index as it was.
 * Anything else thrown (a failed assertion, a non-tRPC error) propagates.
 */
export async function refusedOrAnswered<T>(
  database: TestDatabase,
  call: () => Promise<T>,
): Promise<Outcome<T>> {
  const before = await fingerprint(database);
  try {
    return { accepted: true, value: await call() };
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error;
    const status = getHTTPStatusCodeFromError(error);
    if (status < 400 || status >= 500) {
      throw new Error(
        `refused with ${status} ${error.code} (${error.message}): ${String(error.cause)}`,
        { cause: error },
      );
    }
    expect(await fingerprint(database)).toEqual(before);
    return { accepted: false, error };
  }
}

/** 'accepted', or the refusal with its code and message: assertion failures then say why. */
export function verdict(outcome: Outcome<unknown>): string {
  return outcome.accepted ? 'accepted' : `refused ${outcome.error.code}: ${outcome.error.message}`;
}

/** As `refusedOrAnswered`, for an input the API must refuse; returns the error's tRPC code. */
export async function refused(
  database: TestDatabase,
  call: () => Promise<unknown>,
): Promise<string> {
  const outcome = await refusedOrAnswered(database, call);
  if (outcome.accepted)
    throw new Error(`expected a refusal, got ${JSON.stringify(outcome.value).slice(0, 300)}`);
  return outcome.error.code;
}

/** With the `u` flag, a surrogate matches only when it is not half of a pair. */
const loneSurrogate = /\p{Surrogate}/u;

/** What PostgreSQL can store as text or jsonb: the documented rule for every string the API takes. */
export function isStorable(text: string): boolean {
  return !text.includes('\u0000') && !loneSurrogate.test(text);
}

/** Whether every string in a JSON value, object keys included, passes `test`. */
export function everyString(value: unknown, test: (text: string) => boolean): boolean {
  if (typeof value === 'string') return test(value);
  if (value === null || typeof value !== 'object') return true;
  return Object.entries(value).every(
    ([key, inner]) => (Array.isArray(value) || test(key)) && everyString(inner, test),
  );
}

/** Levels of arrays and objects (a scalar is 0, `{}` is 1). */
export function nestingDepth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  return 1 + Math.max(0, ...Object.values(value).map(nestingDepth));
}
