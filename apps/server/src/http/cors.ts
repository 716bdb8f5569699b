import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOWED_HEADERS =
  'authorization, content-type, x-api-key, x-request-id, x-quarry-read-from, trpc-accept';

/**
 * CORS only for the configured origins. Requests from other origins are not blocked here (the
 * dashboard is same-origin, and servers do not send Origin); they simply get no CORS headers, so
 * a browser keeps their responses from the page. Returns true when it answered a preflight.
 */
export function applyCors(
  req: IncomingMessage,
  res: ServerResponse,
  allowedOrigins: ReadonlySet<string>,
): boolean {
  const origin = req.headers.origin;
  res.appendHeader('vary', 'Origin');
  const allowed = origin !== undefined && allowedOrigins.has(origin);
  if (allowed) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', 'x-request-id');
  }
  if (req.method !== 'OPTIONS') return false;
  if (allowed) {
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-allow-headers': ALLOWED_HEADERS,
      'access-control-max-age': '600',
    });
    res.end();
  } else {
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: `origin ${origin ?? '(none)'} is not allowed; add it to CORS_ORIGINS`,
      }),
    );
  }
  return true;
}
