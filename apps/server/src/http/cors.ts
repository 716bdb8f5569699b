import type { MiddlewareHandler } from 'hono';
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
  return [
    refuseForeignPreflight,
    cors({
      origin: (origin) => (allowedOrigins.has(origin) ? origin : null),
      allowMethods: ['GET', 'POST', 'OPTIONS'],
      allowHeaders: ALLOWED_HEADERS,
      exposeHeaders: ['x-request-id'],
      maxAge: 600,
    }),
  ];
}
