import { isTRPCClientError } from '@trpc/client';
import type { AppRouter } from '@quarry/api';

export interface ExplainedError {
  /** What went wrong, as the server said it (its messages are written for people). */
  message: string;
  /** What to do about it. */
  hint: string | undefined;
  /** Quarry's error code when the server sent one, e.g. FILTER_INVALID. */
  code: string | undefined;
  /** Field errors of rejected input, e.g. { k: ['Too big: expected number to be <=200'] }. */
  fieldErrors: Record<string, string[]>;
}

const hints: Record<string, string> = {
  UNAUTHORIZED:
    'This server requires an API key: enter one under "API key" at the top of the page.',
  FORBIDDEN:
    'Your API key lacks the scope this needs: use a key with the "read" scope (or "admin" for changes).',
  COLLECTION_NOT_FOUND: 'Pick an existing collection on the Collections page.',
  DOCUMENT_NOT_FOUND: 'Check the document id, and the tenant if your key or query sets one.',
  FILTER_INVALID: 'Fix the metadata filter (the message names the place), or remove it.',
  DIMENSION_MISMATCH:
    'A pasted vector must have exactly as many numbers as the collection has dimensions.',
  EMBEDDING_PROVIDER_MISMATCH:
    "This server cannot embed text for the collection's model: paste a query vector instead.",
  EMBEDDING_PROVIDER_FAILED:
    'The embedding service failed; retry, or paste a query vector instead.',
  STATEMENT_TIMEOUT: 'Narrow the query (a smaller k, a filter) and run it again.',
  DATABASE_UNAVAILABLE: 'The database is unreachable right now; retry in a moment.',
  DATABASE_BUSY: 'Every database connection of the server is in use; retry in a moment.',
  TRANSACTION_CONFLICT: 'Concurrent writes to the same documents collided; run it again.',
  REQUEST_TIMEOUT: 'The request took too long to arrive (a slow connection); send it again.',
  SERVER_BUSY: 'The server has as many connections open as it takes; retry in a moment.',
  INVALID_INPUT: 'Correct the highlighted part of the query and run it again.',
};

function isFieldErrors(value: unknown): value is Record<string, string[]> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((entry) => Array.isArray(entry))
  );
}

export function explainError(error: unknown): ExplainedError {
  if (isTRPCClientError<AppRouter>(error)) {
    const data = error.data;
    if (!data) {
      // No tRPC error shape: the request never reached the API (server down, proxy failing, offline).
      return {
        message: error.message,
        hint: 'The dashboard could not reach the Quarry API at /trpc. Check that the server is running, then retry.',
        code: undefined,
        fieldErrors: {},
      };
    }
    const code = data.quarryCode ?? data.code;
    const fieldErrors = isFieldErrors(data.zodError?.fieldErrors) ? data.zodError.fieldErrors : {};
    return { message: error.message, hint: hints[code], code, fieldErrors };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { message, hint: undefined, code: undefined, fieldErrors: {} };
}

/** True when the server turned the request away for want of a valid API key. */
export function needsApiKey(error: unknown): boolean {
  return isTRPCClientError<AppRouter>(error) && error.data?.code === 'UNAUTHORIZED';
}
