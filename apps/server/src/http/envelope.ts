import type { QuarryErrorCode } from '@quarry/db';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';

/**
 * An error the HTTP layer raises before tRPC runs (oversize body, not started yet), in the same
 * envelope the API's error formatter produces, so the tRPC client and plain HTTP callers read one
 * shape: `{ error: { message, code, data: { code, httpStatus, path, quarryCode } } }`, one per call
 * in a batch.
 */
export function trpcErrorBody(
  url: URL,
  options: {
    httpStatus: number;
    code: TRPC_ERROR_CODE_KEY;
    quarryCode?: QuarryErrorCode;
    message: string;
  },
): string {
  const procedures = decodeURIComponent(url.pathname.replace(/^\/trpc\/?/, '')).split(',');
  const envelope = (path: string | undefined) => ({
    error: {
      message: options.message,
      code: TRPC_ERROR_CODES_BY_KEY[options.code],
      data: {
        code: options.code,
        httpStatus: options.httpStatus,
        path: path || undefined,
        quarryCode: options.quarryCode,
        zodError: null,
      },
    },
  });
  return JSON.stringify(
    url.searchParams.get('batch') === '1' ? procedures.map(envelope) : envelope(procedures[0]),
  );
}

/** Procedure names a tRPC URL addresses, for the request log. */
export function proceduresOf(url: URL): string[] {
  const rest = url.pathname.replace(/^\/trpc\/?/, '');
  return rest ? decodeURIComponent(rest).split(',') : [];
}
