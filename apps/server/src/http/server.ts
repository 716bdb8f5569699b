import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  appRouter,
  createContextFactory,
  replicaSetOf,
  type createApiKeyVerifier,
  type QuarryServices,
} from '@quarry/api';
import { isQuarryError } from '@quarry/db';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { limitRepeats, type Logger, type RepeatLimit } from '../log';
import { checkReadiness, type ReadinessCheck } from '../readiness';
import { readBody } from './body';
import { applyCors } from './cors';
import { proceduresOf, trpcErrorBody } from './envelope';
import { handleNdjsonExport, NDJSON_EXPORT_PATH } from './ndjson-export';
import { handleNdjsonIngest, NDJSON_INGEST_PATH } from './ndjson-ingest';
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

/** Clients may pass their own request id (for tracing across services); anything odd is replaced. */
function requestIdFrom(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    for (const value of values ?? []) headers.append(name, value);
  }
  return headers;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  extraHeaders: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

interface RequestRecord {
  requestId: string;
  method: string;
  path: string;
  procedures?: string[];
  principal?: string;
  errors?: Array<{ procedure: string | undefined; code: string; quarryCode: string | undefined }>;
  requestBytes?: number;
}

export function createQuarryHttpServer(options: HttpServerOptions): QuarryHttpServer {
  const { services, log } = options;
  const repeatable = limitRepeats(log, options.logRepeats);
  const allowedOrigins = new Set(options.corsOrigins);
  const createContext = createContextFactory(services, options.apiKeys);
  // Read-your-writes: a request that asks for the primary skips the replicas (see the client's
  // `readYourWrites` option), e.g. a search right after an ingest.
  const createPrimaryContext = createContextFactory({ ...services, replicas: [] }, options.apiKeys);
  let startup: ReadinessCheck = { ok: false, detail: 'starting' };
  let draining = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  async function handleTrpc(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    record: RequestRecord,
  ): Promise<void> {
    record.procedures = proceduresOf(url);
    if (!startup.ok) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
      res.end(
        trpcErrorBody(url, {
          httpStatus: 503,
          code: 'SERVICE_UNAVAILABLE',
          quarryCode: 'DATABASE_UNAVAILABLE',
          message: `Quarry is starting (${startup.detail}); retry shortly`,
        }),
      );
      return;
    }
    const body =
      req.method === 'GET' || req.method === 'HEAD'
        ? { ok: true as const, body: Buffer.alloc(0) }
        : await readBody(req, options.maxBodyBytes, options.bodyTimeoutMs);
    if (!body.ok && body.reason === 'aborted') {
      // The client went away mid-body: nobody to answer. The request line says `aborted`.
      record.requestBytes = body.receivedBytes;
      return;
    }
    if (!body.ok && body.reason === 'timeout') {
      record.requestBytes = body.receivedBytes;
      const text = trpcErrorBody(url, {
        httpStatus: 408,
        code: 'TIMEOUT',
        quarryCode: 'REQUEST_TIMEOUT',
        message: `the request body did not arrive within ${options.bodyTimeoutMs} ms (QUARRY_BODY_TIMEOUT_MS); send it at once, or in smaller requests`,
      });
      res.writeHead(408, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        connection: 'close',
      });
      // The connection goes with the answer: what the client sends after it is not read.
      res.end(text, () => req.socket.destroy());
      return;
    }
    if (!body.ok) {
      record.requestBytes = body.receivedBytes;
      res.writeHead(413, { 'content-type': 'application/json' });
      res.end(
        trpcErrorBody(url, {
          httpStatus: 413,
          code: 'PAYLOAD_TOO_LARGE',
          quarryCode: 'PAYLOAD_TOO_LARGE',
          message: `the request body is larger than ${options.maxBodyBytes} bytes (QUARRY_MAX_BODY_BYTES); split the batch into smaller requests`,
        }),
      );
      // The unread remainder is discarded (not parsed); a sender that never stops is cut off.
      req.resume();
      setTimeout(() => req.destroy(), 5_000).unref();
      return;
    }
    record.requestBytes = body.body.length;
    // Decoding would turn invalid bytes into U+FFFD silently, and store text nobody sent.
    if (!isUtf8(body.body)) {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        trpcErrorBody(url, {
          httpStatus: 400,
          code: 'BAD_REQUEST',
          quarryCode: 'INVALID_INPUT',
          message: 'the request body is not valid UTF-8',
        }),
      );
      return;
    }
    const request = new Request(url, {
      method: req.method ?? 'GET',
      headers: headersOf(req),
      ...(body.body.length > 0 ? { body: body.body } : {}),
    });
    const response = await fetchRequestHandler({
      endpoint: '/trpc',
      req: request,
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
    const payload = Buffer.from(await response.arrayBuffer());
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    res.writeHead(response.status, { ...headers, 'content-length': String(payload.length) });
    res.end(req.method === 'HEAD' ? undefined : payload);
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    record: RequestRecord,
  ): Promise<void> {
    if (applyCors(req, res, allowedOrigins)) return;
    const path = url.pathname;
    if (path === '/trpc' || path.startsWith('/trpc/')) return handleTrpc(req, res, url, record);
    if ((req.method === 'GET' || req.method === 'HEAD') && NDJSON_EXPORT_PATH.test(path)) {
      if (!startup.ok) {
        sendJson(res, 503, { error: `Quarry is starting (${startup.detail}); retry shortly` });
        return;
      }
      return handleNdjsonExport(req, res, { createContext, requestId: record.requestId }, record);
    }
    if (req.method === 'POST' && NDJSON_INGEST_PATH.test(path)) {
      if (!startup.ok) {
        sendJson(res, 503, { error: `Quarry is starting (${startup.detail}); retry shortly` });
        return;
      }
      return handleNdjsonIngest(
        req,
        res,
        {
          createContext,
          requestId: record.requestId,
          maxLineBytes: options.maxBodyBytes,
          idleTimeoutMs: options.bodyTimeoutMs,
        },
        record,
      );
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(
        res,
        405,
        { error: `${req.method ?? 'this method'} is not allowed on ${path}` },
        { allow: 'GET, HEAD' },
      );
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, { status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
      return;
    }
    if (path === '/readyz') {
      const readiness = await checkReadiness(
        services.database,
        startup,
        undefined,
        services.replicas && replicaSetOf(services.replicas),
      );
      const ready = readiness.ready && !draining;
      sendJson(
        res,
        ready ? 200 : 503,
        { ...readiness, ready, draining },
        { 'cache-control': 'no-store' },
      );
      return;
    }
    return serveAdmin(req, res, url, options.adminDist);
  }

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
    route(req, res, url, record).catch((error: unknown) => {
      log.error('request failed', { requestId, error });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error', requestId });
      else res.destroy();
    });
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
