import { existsSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '@hono/node-server/serve-static';
import type { Context, MiddlewareHandler } from 'hono';

/** Where the admin app's `vite build` writes, relative to this file. */
export const defaultAdminDist = fileURLToPath(new URL('../../../admin/dist', import.meta.url));

function placeholderPage(dist: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quarry</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f2f2f2;padding:.1em .3em;border-radius:3px}</style></head>
<body><h1>Quarry is running</h1>
<p>The admin dashboard isn't built yet, so there is nothing to show here. The API is up at <code>/trpc</code>
(<a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>).</p>
<p>Build the dashboard with <code>npx -y pnpm@12.4.2 --filter @quarry/admin build</code> and reload this page; it is served from <code>${escapeHtml(dist)}</code>.</p>
</body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[char] ?? char,
  );
}

/**
 * Serves the built dashboard (@hono/node-server's static middleware: content types, HEAD, ranges,
 * and no path that leaves the directory). Paths that name no file and have no extension get
 * index.html, so the app's client-side routes work on reload; Vite's hashed /assets/ are cached
 * for good, index.html never. Before the dashboard is built, a page says how to build it. The build
 * is looked up per request, so building it while the server runs needs no restart.
 */
export function serveAdmin(dist: string): MiddlewareHandler {
  const root = resolve(dist);
  const index = join(root, 'index.html');
  const cacheFor = (path: string, c: Context) => {
    c.header(
      'cache-control',
      path === index
        ? 'no-cache'
        : c.req.path.startsWith('/assets/')
          ? 'public, max-age=31536000, immutable'
          : 'public, max-age=300',
    );
  };
  // Made once the build exists: the middleware complains on stderr about a missing root.
  let files: MiddlewareHandler | undefined;
  let indexPage: MiddlewareHandler | undefined;
  return async (c, next) => {
    if (!existsSync(index)) {
      return c.html(placeholderPage(root), 200, { 'cache-control': 'no-store' });
    }
    files ??= serveStatic({ root, onFound: cacheFor });
    indexPage ??= serveStatic({ root, path: 'index.html', onFound: cacheFor });
    const served = await files(c, async () => {});
    if (served) return served;
    if (extname(c.req.path) !== '') return c.text(`not found: ${c.req.path}`, 404);
    return (await indexPage(c, next)) ?? c.notFound();
  };
}
