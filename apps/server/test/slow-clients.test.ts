import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir, type ServerProcess } from './harness';
import {
  rawConnection,
  startServerWithLimits,
  type ClientLimits,
  uploadHeaders,
  type RawConnection,
} from './raw-clients';

/**
 * Clients that hold connections open: dribbled bodies and headers, more connections than the
 * server takes, and uploads abandoned by the thousand (issue 13). Timeouts are short here; the
 * defaults are in the README's configuration table.
 */
const LIMITS: ClientLimits = {
  bodyTimeoutMs: 1_500,
  headersTimeoutMs: 1_000,
  maxConnections: 12,
  repeatLimit: 5,
  repeatWindowMs: 2_000,
};

let server: ServerProcess;
let data: ReturnType<typeof scratchDir>;

beforeAll(async () => {
  data = scratchDir('quarry-slow-clients');
  server = await startServerWithLimits(data.path, LIMITS);
});

afterAll(async () => {
  await server?.stop();
  data?.remove();
});

const openSocket = () => rawConnection(server.url);

/** Sends `text` one byte per second until the server closes the connection; resolves with the bytes sent. */
async function dribbleUntilClosed(connection: RawConnection, text: string): Promise<number> {
  let sent = 0;
  const timer = setInterval(() => {
    if (!connection.socket.destroyed && sent < text.length)
      connection.socket.write(text[sent++] ?? '');
  }, 1_000);
  await connection.closed;
  clearInterval(timer);
  return sent;
}

const healthz = 'GET /healthz HTTP/1.1\r\nhost: quarry\r\n\r\n';

/** Whether a new connection is served (not refused) within `timeoutMs`, trying every 100 ms. */
async function servedWithin(timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const next = await openSocket();
    next.socket.write(healthz);
    await Promise.race([next.waitFor('HTTP/1.1 '), next.closed]).catch(() => undefined);
    const served = next.received().startsWith('HTTP/1.1 200');
    next.socket.destroy();
    await next.closed;
    if (served) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a connection cap', () => {
  it(`connections beyond QUARRY_MAX_CONNECTIONS (${LIMITS.maxConnections}) get 503 SERVER_BUSY and are closed; one frees a place`, async () => {
    const held = [];
    for (let i = 0; i < LIMITS.maxConnections; i++) {
      const connection = await openSocket();
      connection.socket.write(healthz);
      await connection.waitFor('HTTP/1.1 200');
      held.push(connection);
    }
    const extra = await openSocket();
    extra.socket.write(healthz);
    await extra.closed;
    expect(extra.received()).toMatch(/^HTTP\/1\.1 503 /);
    expect(extra.received()).toContain('"quarryCode":"SERVER_BUSY"');
    expect(extra.received()).not.toContain('HTTP/1.1 200');
    await server.waitForLog((r) => r.msg === 'connection refused: too many open connections');

    held.pop()?.socket.destroy();
    expect(await servedWithin(5_000)).toBe(true);
    for (const connection of held) connection.socket.destroy();
    await Promise.all(held.map((connection) => connection.closed));
    // The server notices the closes within moments.
    expect(await servedWithin(5_000)).toBe(true);
  });
});

describe('slow clients', () => {
  it('a body dribbled at 1 byte per second gets 408 REQUEST_TIMEOUT in the tRPC shape, and the connection is closed', async () => {
    const body = JSON.stringify({ collection: 'notes', documents: [{ content: 'slow' }] });
    const connection = await openSocket();
    const started = performance.now();
    connection.socket.write(
      `POST /trpc/documents.ingest HTTP/1.1\r\nhost: quarry\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    const sent = await dribbleUntilClosed(connection, body);
    const elapsed = (await connection.closed) - started;
    expect(elapsed).toBeGreaterThanOrEqual(LIMITS.bodyTimeoutMs - 100);
    expect(elapsed).toBeLessThan(LIMITS.bodyTimeoutMs + 3_000);
    const response = connection.received();
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(response).toMatch(/connection: close/i);
    const json = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as {
      error: { message: string; data: { code: string; httpStatus: number; quarryCode: string } };
    };
    expect(json.error.data).toMatchObject({
      code: 'TIMEOUT',
      httpStatus: 408,
      quarryCode: 'REQUEST_TIMEOUT',
      path: 'documents.ingest',
    });
    expect(json.error.message).toContain('QUARRY_BODY_TIMEOUT_MS');
    expect(sent).toBeLessThan(body.length);
  });

  it('headers dribbled at 1 byte per second are cut off after QUARRY_HEADERS_TIMEOUT_MS', async () => {
    const connection = await openSocket();
    const started = performance.now();
    const headers = 'GET /healthz HTTP/1.1\r\nhost: quarry\r\nx-slow: 0123456789abcdef\r\n\r\n';
    const sent = await dribbleUntilClosed(connection, headers);
    // Node checks its timeouts every second (connectionsCheckingInterval).
    expect((await connection.closed) - started).toBeLessThan(LIMITS.headersTimeoutMs + 4_000);
    expect(connection.received()).toMatch(/^(HTTP\/1\.1 408 |$)/);
    expect(sent).toBeLessThan(headers.length);
  });

  it('1,000 aborted uploads log a bounded number of lines, and the suppressed ones are counted', async () => {
    const uploads = 1_000;
    const before = server.logs.length;
    const abortOne = async () => {
      const connection = await openSocket();
      // Expect: 100-continue makes the server say when the request has reached the handler.
      connection.socket.write(uploadHeaders('expect: 100-continue\r\n'));
      await connection.waitFor('HTTP/1.1 100 Continue');
      connection.socket.write('{"collection":');
      connection.socket.destroy();
      await connection.closed;
    };
    for (let started = 0; started < uploads; started += 4) {
      await Promise.all(Array.from({ length: 4 }, abortOne));
    }
    const lines = () => server.logs.slice(before);
    const counted = () =>
      lines().reduce(
        (sum, r) =>
          r.msg === 'request' && r.aborted === true
            ? sum + 1
            : r.key === 'request aborted'
              ? sum + Number(r.suppressed)
              : sum,
        0,
      );
    // The last window's summary comes when the window ends.
    const deadline = Date.now() + LIMITS.repeatWindowMs + 5_000;
    while (counted() < uploads && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(counted()).toBe(uploads);
    const summaries = lines().filter((r) => r.key === 'request aborted');
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(summaries[0]?.msg).toMatch(/^suppressed \d+ similar lines$/);
    const aborted = lines().filter((r) => r.msg === 'request' && r.aborted === true);
    // At most LIMITS.repeatLimit lines and one summary per window.
    expect(aborted.length + summaries.length).toBeLessThanOrEqual(
      (LIMITS.repeatLimit + 1) * (summaries.length + 1),
    );
    expect(aborted.length + summaries.length).toBeLessThan(100);
    expect(lines().filter((r) => r.level === 'error')).toEqual([]);
  });
});
