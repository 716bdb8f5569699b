import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '@quarry/api';
import { exportErrorOf, openExport, type VectorEncoding } from '@quarry/api/export';

/**
 * `GET /api/collections/:name/export`: the collection's settings, then its documents, as NDJSON,
 * one per line (the format is described in packages/api/src/export.ts). Query parameters:
 * - `vectors`: `json` (arrays, the default) or `base64` (little-endian float32);
 * - `filter`: a metadata filter as JSON, the language of search;
 * - `tenant`: one tenant (a key bound to a tenant always gets its own, and only its own);
 * - `shape`: `ingest` for lines with only the fields an ingest accepts (and no settings line).
 *
 * A bad request is answered with its status before any line; a failure mid-stream ends the body
 * with an `{"error":{...}}` line. Lines are written as the client takes them: while the socket's
 * buffer is full, no more rows are read from the database.
 */
export const NDJSON_EXPORT_PATH = /^\/api\/collections\/([^/]+)\/export$/;

export interface NdjsonExportOptions {
  /** The tRPC context factory: the same API keys, scopes and tenants as every procedure. */
  createContext(request: { headers: Headers; requestId: string }): Context;
  requestId: string;
}

/** What `handleNdjsonExport` observed, for the request log. */
export interface NdjsonExportRecord {
  principal?: string;
  lines?: number;
  error?: { quarryCode?: string };
}

/** Bytes gathered before a write: one write per line would cost a syscall per document. */
const WRITE_BYTES = 64 * 1024;

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    for (const value of values ?? []) headers.append(name, value);
  }
  return headers;
}

function parseQuery(url: URL): {
  vectors: VectorEncoding;
  filter: unknown;
  tenant: string | undefined;
  shape: 'export' | 'ingest';
} {
  const vectors = url.searchParams.get('vectors') ?? 'json';
  if (vectors !== 'json' && vectors !== 'base64')
    throw new RangeError(`vectors must be json or base64, not '${vectors}'`);
  const shape = url.searchParams.get('shape') ?? 'export';
  if (shape !== 'export' && shape !== 'ingest')
    throw new RangeError(`shape must be export or ingest, not '${shape}'`);
  const filterText = url.searchParams.get('filter');
  let filter: unknown;
  if (filterText !== null) {
    try {
      filter = JSON.parse(filterText);
    } catch {
      throw new RangeError('filter is not valid JSON');
    }
  }
  return { vectors, filter, tenant: url.searchParams.get('tenant') ?? undefined, shape };
}

export async function handleNdjsonExport(
  req: IncomingMessage,
  res: ServerResponse,
  options: NdjsonExportOptions,
  record: NdjsonExportRecord = {},
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://quarry.local');
  const name = decodeURIComponent(NDJSON_EXPORT_PATH.exec(url.pathname)?.[1] ?? '');
  let lines: AsyncGenerator<string>;
  try {
    const query = parseQuery(url);
    const ctx = options.createContext({ headers: headersOf(req), requestId: options.requestId });
    record.principal = ctx.principal?.name;
    ({ lines } = await openExport(ctx.database, ctx.principal, name, query));
  } catch (error) {
    const detail =
      error instanceof RangeError
        ? { status: 400, quarryCode: 'INVALID_INPUT', message: error.message }
        : exportErrorOf(error);
    if (detail.quarryCode) record.error = { quarryCode: detail.quarryCode };
    const text = `${JSON.stringify({ error: detail })}\n`;
    res.writeHead(detail.status, {
      'content-type': 'application/x-ndjson',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
    return;
  }

  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-store',
    'content-disposition': `attachment; filename="${name}.ndjson"`,
    'x-accel-buffering': 'no',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  let closed = false;
  const gone = new AbortController();
  res.once('close', () => {
    closed = true;
    gone.abort();
  });
  const send = async (text: string) => {
    if (res.write(text) || closed) return;
    // The signal takes the listeners off again, whichever comes first (a race of two `once`
    // calls left one `close` listener behind per full buffer).
    await once(res, 'drain', { signal: gone.signal }).catch(() => undefined);
  };
  let pending = '';
  let count = 0;
  try {
    for await (const line of lines) {
      if (closed) break;
      pending += `${line}\n`;
      count++;
      if (pending.length >= WRITE_BYTES) {
        await send(pending);
        pending = '';
      }
    }
    if (pending) await send(pending);
  } catch (error) {
    const detail = exportErrorOf(error);
    if (detail.quarryCode) record.error = { quarryCode: detail.quarryCode };
    if (!closed) await send(`${pending}${JSON.stringify({ error: detail })}\n`);
  } finally {
    // A client that went away stops the reading: the generator's next page is never asked for.
    await lines.return(undefined);
  }
  record.lines = count;
  res.end();
}
