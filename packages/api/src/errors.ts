import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import {
  databaseErrorCodeIn,
  isQuarryError,
  isTransientConflict,
  QuarryError,
  quarryErrorIn,
  type QuarryErrorCode,
} from '@quarry/db';

/** The one place a domain error code becomes a transport status. */
const trpcCodes: Record<QuarryErrorCode, TRPC_ERROR_CODE_KEY> = {
  DIMENSION_MISMATCH: 'BAD_REQUEST',
  INVALID_VECTOR: 'BAD_REQUEST',
  DIMENSIONS_UNSUPPORTED: 'BAD_REQUEST',
  COLLECTION_NOT_FOUND: 'NOT_FOUND',
  COLLECTION_EXISTS: 'CONFLICT',
  DOCUMENT_NOT_FOUND: 'NOT_FOUND',
  FILTER_INVALID: 'BAD_REQUEST',
  BATCH_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  CONFIRMATION_REQUIRED: 'PRECONDITION_FAILED',
  EMBEDDING_PROVIDER_MISMATCH: 'BAD_REQUEST',
  EMBEDDING_PROVIDER_FAILED: 'BAD_GATEWAY',
  FORBIDDEN: 'FORBIDDEN',
  UNAUTHORIZED: 'UNAUTHORIZED',
  EXTENSION_MISSING: 'INTERNAL_SERVER_ERROR',
  DATABASE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  DATABASE_BUSY: 'SERVICE_UNAVAILABLE',
  STATEMENT_TIMEOUT: 'TIMEOUT',
  TRANSACTION_CONFLICT: 'CONFLICT',
  REQUEST_TIMEOUT: 'TIMEOUT',
  SERVER_BUSY: 'SERVICE_UNAVAILABLE',
  INVALID_INPUT: 'BAD_REQUEST',
};

/**
 * The database is gone or going: server shutdown or crash (57P01-57P03), too many connections
 * (53300), the socket failing (Node's errno codes), postgres.js's own connection codes. SQLSTATE
 * class 08 (connection exception) is matched by prefix.
 */
const unavailableCodes = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
]);

/**
 * Whether an error says the database itself is unreachable or going away (not that the statement
 * was wrong): then another server (a replica, or the primary) may well answer the same read.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (quarryErrorIn(error)?.code === 'DATABASE_UNAVAILABLE') return true;
  const code = databaseErrorCodeIn(error);
  return code !== undefined && (unavailableCodes.has(code) || code.startsWith('08'));
}

/** PostgreSQL SQLSTATEs that are the caller's or the moment's fault, not a bug. */
function fromDatabaseError(error: unknown): QuarryError | undefined {
  const code = databaseErrorCodeIn(error);
  if (code === '57014') {
    return new QuarryError(
      'STATEMENT_TIMEOUT',
      'the query ran longer than the statement timeout and was cancelled; narrow it (smaller k, a filter) or raise the timeout',
      { cause: error },
    );
  }
  // inTransaction has already run the request again before giving up on these.
  if (isTransientConflict(error)) {
    return new QuarryError(
      'TRANSACTION_CONFLICT',
      'the request kept colliding with concurrent writes to the same documents and was rolled back; retry it',
      { cause: error },
    );
  }
  if (isDatabaseUnavailable(error)) {
    return new QuarryError(
      'DATABASE_UNAVAILABLE',
      'the database is unavailable right now; retry shortly',
      {
        cause: error,
      },
    );
  }
  return undefined;
}

export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  const domain = quarryErrorIn(error) ?? fromDatabaseError(error);
  if (domain)
    return new TRPCError({ code: trpcCodes[domain.code], message: domain.message, cause: domain });
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'internal error', cause: error });
}

/** The domain code carried by a tRPC error, for the client-facing error shape. */
export function quarryCodeOf(error: TRPCError): QuarryErrorCode | undefined {
  return isQuarryError(error.cause) ? error.cause.code : undefined;
}
