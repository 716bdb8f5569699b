import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { startServer, type ServerProcess } from './harness';

/** What test/slow-clients.test.ts and reliability/slow-clients.test.ts set, each with its own values. */
export interface ClientLimits {
  bodyTimeoutMs: number;
  headersTimeoutMs: number;
  maxConnections: number;
  repeatLimit: number;
  repeatWindowMs: number;
}

/** The server on an embedded database in `dataDir`, with these limits on clients. */
export async function startServerWithLimits(
  dataDir: string,
  limits: ClientLimits,
): Promise<ServerProcess> {
  const server = await startServer({
    QUARRY_DATA_DIR: join(dataDir, 'db'),
    QUARRY_BODY_TIMEOUT_MS: String(limits.bodyTimeoutMs),
    QUARRY_HEADERS_TIMEOUT_MS: String(limits.headersTimeoutMs),
    QUARRY_MAX_CONNECTIONS: String(limits.maxConnections),
    QUARRY_LOG_REPEAT_LIMIT: String(limits.repeatLimit),
    QUARRY_LOG_REPEAT_WINDOW_MS: String(limits.repeatWindowMs),
  });
  await server.waitForReady();
  return server;
}

export interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves with performance.now() when the connection closes. */
  closed: Promise<number>;
  /** Resolves once the server has sent `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
}

/** A plain TCP connection to the server, for clients no HTTP library would imitate. */
export function rawConnection(url: URL): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    const listeners = new Set<() => void>();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      for (const listener of listeners) listener();
    });
    socket.on('error', () => undefined);
    const closed = new Promise<number>((resolveClosed) =>
      socket.once('close', () => resolveClosed(performance.now())),
    );
    const waitFor = (wanted: string, timeoutMs = 5_000) =>
      new Promise<void>((resolveWait, rejectWait) => {
        const check = () => {
          if (!text.includes(wanted)) return;
          listeners.delete(check);
          clearTimeout(timer);
          resolveWait();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          rejectWait(new Error(`no ${JSON.stringify(wanted)} within ${timeoutMs} ms; got ${text}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    socket.once('connect', () => resolve({ socket, received: () => text, closed, waitFor }));
    socket.once('error', reject);
  });
}

/** The start of an upload to documents.ingest that promises 1,000 bytes of body. */
export const uploadHeaders = (extra = '') =>
  `POST /trpc/documents.ingest HTTP/1.1\r\nhost: quarry\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n${extra}\r\n`;
