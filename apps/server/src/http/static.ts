import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the admin app's `vite build` writes, relative to this file. */
export const defaultAdminDist = fileURLToPath(new URL('../../../admin/dist', import.meta.url));

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

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
 * Serves the built dashboard. Paths that name no file and have no extension get index.html, so the
 * app's client-side routes work on reload; Vite's hashed /assets/ are cached for good, index.html
 * never. Before the dashboard is built, a page says how to build it. The build is looked up per
 * request, so building it while the server runs needs no restart.
 */
export async function serveAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  dist: string,
): Promise<void> {
  const root = resolve(dist);
  const index = join(root, 'index.html');
  const head = req.method === 'HEAD';
  if ((await fileSize(index)) === undefined) {
    const page = placeholderPage(root);
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(page),
    });
    res.end(head ? undefined : page);
    return;
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.pathname);
  } catch {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('bad path encoding');
    return;
  }
  const candidate = resolve(root, `.${pathname}`);
  const inside = candidate === root || candidate.startsWith(root + sep);
  let file = inside && pathname !== '/' ? candidate : index;
  let size = await fileSize(file);
  if (size === undefined) {
    if (extname(pathname) !== '') {
      res
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`not found: ${pathname}`);
      return;
    }
    file = index;
    size = await fileSize(index);
  }
  const isIndex = file === index;
  res.writeHead(200, {
    'content-type': contentTypes[extname(file).toLowerCase()] ?? 'application/octet-stream',
    'content-length': size,
    'cache-control': isIndex
      ? 'no-cache'
      : pathname.startsWith('/assets/')
        ? 'public, max-age=31536000, immutable'
        : 'public, max-age=300',
  });
  if (head) {
    res.end();
    return;
  }
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}
