/**
 * Domain errors: a code a program can branch on and a message a person can act on. The API maps
 * each code to a transport status exactly once (packages/api/src/errors.ts).
 */
export const quarryErrorCodes = [
  'DIMENSION_MISMATCH',
  'INVALID_VECTOR',
  'DIMENSIONS_UNSUPPORTED',
  'COLLECTION_NOT_FOUND',
  'COLLECTION_EXISTS',
  'DOCUMENT_NOT_FOUND',
  'FILTER_INVALID',
  'BATCH_TOO_LARGE',
  'PAYLOAD_TOO_LARGE',
  'CONFIRMATION_REQUIRED',
  'EMBEDDING_PROVIDER_MISMATCH',
  'EMBEDDING_PROVIDER_FAILED',
  'FORBIDDEN',
  'UNAUTHORIZED',
  'EXTENSION_MISSING',
  'DATABASE_UNAVAILABLE',
  'DATABASE_BUSY',
  'STATEMENT_TIMEOUT',
  'TRANSACTION_CONFLICT',
  'REQUEST_TIMEOUT',
  'SERVER_BUSY',
  'INVALID_INPUT',
] as const;
export type QuarryErrorCode = (typeof quarryErrorCodes)[number];

export class QuarryError extends Error {
  override readonly name = 'QuarryError';
  constructor(
    readonly code: QuarryErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isQuarryError(error: unknown): error is QuarryError {
  return error instanceof QuarryError;
}

/**
 * The QuarryError an error carries, itself or somewhere in its cause chain: Drizzle wraps whatever a
 * statement throws (including the pool's DATABASE_BUSY) in a DrizzleQueryError.
 */
export function quarryErrorIn(error: unknown): QuarryError | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    if (isQuarryError(e)) return e;
  }
  return undefined;
}

/**
 * The first error code (a PostgreSQL SQLSTATE such as 40P01, or a driver or socket code such as
 * ECONNRESET) in an error's cause chain: Drizzle wraps the driver's error in its own.
 */
export function databaseErrorCodeIn(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Deadlock victim (40P01) or serialization failure (40001): the transaction was rolled back whole and can run again. */
export function isTransientConflict(error: unknown): boolean {
  const code = databaseErrorCodeIn(error);
  return code === '40P01' || code === '40001';
}

/** The innermost cause says what happened ("connect ECONNREFUSED ..."); wrappers only name the query. */
export function innermostErrorMessage(error: unknown): string {
  let innermost = error;
  while (innermost instanceof Error && innermost.cause instanceof Error)
    innermost = innermost.cause;
  return innermost instanceof Error ? innermost.message : String(innermost);
}

/** `promise`, or a rejection naming `what` if it has not settled within `ms` (health checks, probes). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
