import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  appRouter,
  createContextFactory,
  replicaSetOf,
  type createApiKeyVerifier,
  type QuarryServices,
} from '@quarry/api';
import { isQuarryError } from '@quarry/db';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { Hono, type Context } from 'hono';
import { limitRepeats, type Logger, type RepeatLimit } from '../log';
import { checkReadiness, type ReadinessCheck } from '../readiness';
import { readBody } from './body';
import { corsFor } from './cors';
import { proceduresOf, trpcErrorBody } from './envelope';
import { handleNdjsonExport } from './ndjson-export';
import { handleNdjsonIngest } from './ndjson-ingest';
import { serveAdmin } from './static';

export interface HttpServerOptions {
  services: QuarryServices;
  apiKeys: ReturnType<typeof createApiKeyVerifier>;
  corsOrigins: readonly string[];
  maxBodyBytes: number;
  /** How long a client may take to send a request's headers (node:http `headersTimeout`). */
  headersTimeoutMs: number;
  /** How long a request body may take to arrive, from its headers on: then 408 and the connection closed. */
  bodyTimeoutMs: number;
  /** Open connections; one more is answered 503 and closed at once. */
  maxConnections: number;
  maxBatchCalls: number;
  adminDist: string;
  /** How often lines a client can make repeat (aborted uploads, timeouts, refusals) are logged. */
  logRepeats: RepeatLimit;
  log: Logger;
}

export interface QuarryHttpServer {
  server: Server;
  /** Start-up progress as /readyz and /trpc report it; the API answers once it is ok. */
  setStartup(check: ReadinessCheck): void;
  listen(port: number, host: string): Promise<URL>;
  /**
   * Graceful stop: no new connections, idle keep-alive connections closed, in-flight requests
   * finished (up to `timeoutMs`, after which the remaining connections are cut).
   */
  drain(timeoutMs: number): Promise<{ unfinished: number }>;
}

/**
 * The request tRPC reads. A JSON body (the only kind tRPC reads with `json()`: content type
 * application/json) was read and checked already: it is handed over as its text, and `json()`
 * parses that, without a body stream for undici to build and drain again (about a tenth of the
 * server's CPU for a search sending a 1,536-number vector). Any other body goes as bytes.
 */
function trpcRequest(url: URL, method: string, headers: Headers, body: Buffer): Request {
  if (body.length === 0) return new Request(url, { method, headers });
  if (!isJsonContentType(headers.get('content-type'))) {
    return new Request(url, { method, headers, body });
  }
  // As undici's json(): UTF-8 (checked by the caller), a byte order mark skipped.
  const bom = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  return withJsonText(new Request(url, { method, headers }), body.toString('utf8', bom));
}

/** tRPC's test for a JSON body (its jsonContentTypeHandler): the media type, case-insensitive. */
function isJsonContentType(contentType: string | null): boolean {
  return contentType?.toLowerCase().split(';', 1)[0]?.trim() === 'application/json';
}

/** A request whose JSON body is held as text: `json()` and `text()` answer from it. */
function withJsonText(request: Request, text: string): Request {
  return Object.defineProperties(request, {
    json: { value: () => new Promise((resolve) => resolve(JSON.parse(text))) },
    text: { value: () => Promise.resolve(text) },
  });
}

/** Clients may pass their own request id (for tracing across services); anything odd is replaced. */
function requestIdFrom(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

interface RequestRecord {
  requestId: string;
  method: string;
  path: string;
  procedures?: string[];
  principal?: string;
  errors?: Array<{ procedure: string | undefined; code: string; quarryCode: string | undefined }>;
  requestBytes?: number;
  lines?: number;
  error?: { line?: number; quarryCode?: string };
}

type Env = { Bindings: HttpBindings; Variables: { record: RequestRecord } };

export function createQuarryHttpServer(options: HttpServerOptions): QuarryHttpServer {
  const { services, log } = options;
  const repeatable = limitRepeats(log, options.logRepeats);
  const createContext = createContextFactory(services, options.apiKeys);
  // Read-your-writes: a request that asks for the primary skips the replicas (see the client's
  // `readYourWrites` option), e.g. a search right after an ingest.
  const createPrimaryContext = createContextFactory({ ...services, replicas: [] }, options.apiKeys);
  let startup: ReadinessCheck = { ok: false, detail: 'starting' };
  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const starting = (c: Context<Env>) =>
    c.json({ error: `Quarry is starting (${startup.detail}); retry shortly` }, 503, {
      'retry-after': '5',
    });

  async function handleTrpc(c: Context<Env>): Promise<Response> {
    const { incoming: req, outgoing: res } = c.env;
    const record = c.get('record');
    const url = new URL(c.req.url);
    record.procedures = proceduresOf(url);
    // Errors raised before tRPC runs, in the envelope its error formatter produces.
    const refuse = (
      httpStatus: number,
      code: Parameters<typeof trpcErrorBody>[1]['code'],
      quarryCode: Parameters<typeof trpcErrorBody>[1]['quarryCode'],
      message: string,
      headers: Record<string, string> = {},
    ) =>
      c.body(trpcErrorBody(url, { httpStatus, code, quarryCode, message }), httpStatus as 400, {
        'content-type': 'application/json',
        ...headers,
      });
    if (!startup.ok) {
      return refuse(
        503,
        'SERVICE_UNAVAILABLE',
        'DATABASE_UNAVAILABLE',
        `Quarry is starting (${startup.detail}); retry shortly`,
        { 'retry-after': '5' },
      );
    }
    const body =
      req.method === 'GET' || req.method === 'HEAD'
        ? { ok: true as const, body: Buffer.alloc(0) }
        : await readBody(req, options.maxBodyBytes, options.bodyTimeoutMs);
    if (!body.ok && body.reason === 'aborted') {
      // The client went away mid-body: nobody to answer. The request line says `aborted`.
      record.requestBytes = body.receivedBytes;
      return RESPONSE_ALREADY_SENT;
    }
    if (!body.ok && body.reason === 'timeout') {
      record.requestBytes = body.receivedBytes;
      // The connection goes with the answer: what the client sends after it is not read.
      res.once('finish', () => req.socket.destroy());
      return refuse(
        408,
        'TIMEOUT',
        'REQUEST_TIMEOUT',
        `the request body did not arrive within ${options.bodyTimeoutMs} ms (QUARRY_BODY_TIMEOUT_MS); send it at once, or in smaller requests`,
        { connection: 'close' },
      );
    }
    if (!body.ok) {
      record.requestBytes = body.receivedBytes;
      // The unread remainder is discarded (not parsed); a sender that never stops is cut off.
      req.resume();
      setTimeout(() => req.destroy(), 5_000).unref();
      return refuse(
        413,
        'PAYLOAD_TOO_LARGE',
        'PAYLOAD_TOO_LARGE',
        `the request body is larger than ${options.maxBodyBytes} bytes (QUARRY_MAX_BODY_BYTES); split the batch into smaller requests`,
      );
    }
    record.requestBytes = body.body.length;
    // Decoding would turn invalid bytes into U+FFFD silently, and store text nobody sent.
    if (!isUtf8(body.body)) {
      return refuse(400, 'BAD_REQUEST', 'INVALID_INPUT', 'the request body is not valid UTF-8');
    }
    return fetchRequestHandler({
      endpoint: '/trpc',
      req: trpcRequest(url, req.method ?? 'GET', c.req.raw.headers, body.body),
      router: appRouter,
      maxBatchSize: options.maxBatchCalls,
      // Lets clients send queries as POST (the typed client always does): query vectors outgrow URLs.
      allowMethodOverride: true,
      createContext: ({ req: fetchRequest }) => {
        const fromPrimary = fetchRequest.headers.get('x-quarry-read-from') === 'primary';
        const ctx = (fromPrimary ? createPrimaryContext : createContext)({
          headers: fetchRequest.headers,
          requestId: record.requestId,
        });
        record.principal = ctx.principal?.name;
        return ctx;
      },
      onError: ({ error, path }) => {
        const quarryCode = isQuarryError(error.cause) ? error.cause.code : undefined;
        (record.errors ??= []).push({ procedure: path, code: error.code, quarryCode });
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          log.error('procedure failed', {
            requestId: record.requestId,
            procedure: path,
            error: error.cause ?? error,
          });
        }
      },
    });
  }

  // Every route is registered here. Streaming routes are Node handlers: they get the raw request
  // and response (c.env) and answer on them, so Hono sends nothing itself (RESPONSE_ALREADY_SENT).
  const app = new Hono<Env>();
  const records = new WeakMap<IncomingMessage, RequestRecord>();
  app.use(async (c, next) => {
    c.set('record', records.get(c.env.incoming)!);
    await next();
  });
  app.use(...corsFor(new Set(options.corsOrigins)));
  app.all('/trpc', handleTrpc);
  app.all('/trpc/*', handleTrpc);
  app.post('/api/collections/:name/ingest', async (c) => {
    if (!startup.ok) return starting(c);
    const record = c.get('record');
    await handleNdjsonIngest(
      c.env.incoming,
      c.env.outgoing,
      {
        createContext,
        requestId: record.requestId,
        maxLineBytes: options.maxBodyBytes,
        idleTimeoutMs: options.bodyTimeoutMs,
      },
      record,
    );
    return RESPONSE_ALREADY_SENT;
  });
  app.get('/api/collections/:name/export', async (c) => {
    if (!startup.ok) return starting(c);
    const record = c.get('record');
    await handleNdjsonExport(
      c.env.incoming,
      c.env.outgoing,
      { createContext, requestId: record.requestId },
      record,
    );
    return RESPONSE_ALREADY_SENT;
  });
  app.get('/healthz', (c) => c.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) }));
  app.get('/readyz', async (c) => {
    const readiness = await checkReadiness(
      services.database,
      startup,
      undefined,
      services.replicas && replicaSetOf(services.replicas),
    );
    const ready = readiness.ready && !draining;
    return c.json({ ...readiness, ready, draining }, ready ? 200 : 503, {
      'cache-control': 'no-store',
    });
  });
  app.get('*', serveAdmin(options.adminDist));
  app.all('*', (c) =>
    c.json({ error: `${c.req.method} is not allowed on ${c.req.path}` }, 405, {
      allow: 'GET, HEAD',
    }),
  );
  app.onError((error, c) => {
    const { requestId } = c.get('record');
    log.error('request failed', { requestId, error });
    if (c.env.outgoing.headersSent) {
      c.env.outgoing.destroy();
      return RESPONSE_ALREADY_SENT;
    }
    return c.json({ error: 'internal error', requestId }, 500);
  });
  // Hono's request and response classes stand in for the global ones (its fast path); the
  // incoming body is left to the routes, which each read (or discard) it themselves.
  const handle = getRequestListener(app.fetch, { autoCleanupIncoming: false });

  // Sockets over the cap: answered 503 the moment they connect, never handed a request.
  const refused = new WeakSet<object>();
  // Node answers a request whose headers take too long with its own plain 408;
  // the body deadline in handleTrpc answers first, in the API's error shape. Checked every second.
  const timeouts = {
    headersTimeout: options.headersTimeoutMs,
    // Off: a streaming ingest's body lasts as long as the load. Bodies have their own deadlines
    // (handleTrpc's, and the stream's idle timeout); headers keep headersTimeout.
    requestTimeout: 0,
    connectionsCheckingInterval: 1_000,
  };
  const server = createServer(timeouts, (req, res) => {
    if (refused.has(req.socket)) return;
    const started = performance.now();
    const requestId = requestIdFrom(req);
    const url = new URL(req.url ?? '/', 'http://quarry.local');
    const record: RequestRecord = { requestId, method: req.method ?? 'GET', path: url.pathname };
    inFlight++;
    res.setHeader('x-request-id', requestId);
    res.setHeader('x-content-type-options', 'nosniff');
    if (draining) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight--;
      const line = {
        ...record,
        status: res.statusCode,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      // Aborted and timed-out uploads are a client's doing and can come by the thousand.
      if (!res.writableFinished) repeatable('info', 'request aborted', 'request', line);
      else if (res.statusCode === 408) repeatable('info', 'request timed out', 'request', line);
      else log.info('request', line);
      if (draining && inFlight === 0) drained?.();
    });
    records.set(req, record);
    void handle(req, res);
  });

  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.once('close', () => connections--);
    if (connections <= options.maxConnections) return;
    refused.add(socket);
    repeatable('warn', 'connection refused', 'connection refused: too many open connections', {
      open: connections - 1,
      maxConnections: options.maxConnections,
      remoteAddress: socket.remoteAddress,
    });
    const body = trpcErrorBody(new URL('/trpc', 'http://quarry.local'), {
      httpStatus: 503,
      code: 'SERVICE_UNAVAILABLE',
      quarryCode: 'SERVER_BUSY',
      message: `the server has ${options.maxConnections} open connections (QUARRY_MAX_CONNECTIONS); retry shortly`,
    });
    socket.end(
      `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\nconnection: close\r\n\r\n${body}`,
    );
    socket.destroySoon();
  });

  return {
    server,
    setStartup(check) {
      startup = check;
    },
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve(new URL(`http://${shownHost}:${address.port}`));
        });
      });
    },
    async drain(timeoutMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        const allDone = new Promise<void>((resolve) => {
          drained = resolve;
        });
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), timeoutMs);
        });
        const outcome = await Promise.race([allDone, timedOut]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          const unfinished = inFlight;
          server.closeAllConnections();
          await closed;
          return { unfinished };
        }
      }
      server.closeIdleConnections();
      await closed;
      return { unfinished: 0 };
    },
  };
}
