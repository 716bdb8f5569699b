import type { MiddlewareHandler } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { cors } from 'hono/cors';

const ALLOWED_HEADERS = [
  'authorization',
  'content-type',
  'x-api-key',
  'x-request-id',
  'x-quarry-read-from',
  'trpc-accept',
];

/**
 * CORS only for the configured origins (Hono's middleware). Requests from other origins are not
 * blocked (the dashboard is same-origin, and servers send no Origin); they get no CORS headers, so
 * a browser keeps their responses from the page. A preflight from another origin is refused with
 * a 403 that says what to configure, where the middleware alone would answer 204 without headers.
 */
export function corsFor(allowedOrigins: ReadonlySet<string>): MiddlewareHandler[] {
  const refuseForeignPreflight: MiddlewareHandler = async (c, next) => {
    const origin = c.req.header('origin');
    if (c.req.method !== 'OPTIONS' || (origin !== undefined && allowedOrigins.has(origin)))
      return next();
    return c.json(
      { error: `origin ${origin ?? '(none)'} is not allowed; add it to CORS_ORIGINS` },
      403,
      { vary: 'Origin' },
    );
  };
  // Hono's middleware answers the preflights.
  const preflight = cors({
    origin: (origin) => (allowedOrigins.has(origin) ? origin : null),
    allowMethods: ['GET', 'POST', 'OPTIONS'],
    allowHeaders: ALLOWED_HEADERS,
    exposeHeaders: ['x-request-id'],
    maxAge: 600,
  });
  // Other requests get the headers it would give them, set on the route's response itself: the
  // middleware sets them through the context, before and after the route runs, and Hono then
  // rebuilds the route's response to carry them (a body already made as text becomes a stream
  // the Node adapter reads back, with a timer's wait): CPU and latency on every API call.
  const corsHeaders: MiddlewareHandler = async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    const origin = c.req.header('origin');
    await next();
    // A streaming route answered on the Node response itself; this one is shared.
    if (c.res === RESPONSE_ALREADY_SENT) return;
    const { headers } = c.res;
    if (origin !== undefined && allowedOrigins.has(origin)) {
      headers.set('access-control-allow-origin', origin);
    }
    headers.set('access-control-expose-headers', 'x-request-id');
    headers.append('vary', 'Origin');
  };
  return [refuseForeignPreflight, corsHeaders];
}
