import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createQuarryClient, isQuarryClientError, quarryCodeOf } from '../src/node';
import { nodeFetch } from '../src/node-fetch';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const servers: Server[] = [];

/** A real HTTP server on a free port, answering each request with `handle`. */
async function serve(handle: Handler): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, body, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

afterEach(async () => {
  vi.restoreAllMocks();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('the client in Node', () => {
  it('sends calls through node:http, not the global fetch, with the body and headers a fetch would send', async () => {
    const seen: Array<{
      url?: string;
      method?: string;
      auth?: string;
      type?: string;
      body: string;
    }> = [];
    const { url } = await serve((req, body, res) => {
      seen.push({
        url: req.url,
        method: req.method,
        auth: req.headers.authorization,
        type: req.headers['content-type'],
        body,
      });
      answer(res, 200, { result: { data: { inserted: 1, updated: 0, unchanged: 0, ids: ['a'] } } });
    });
    const globalFetch = vi.spyOn(globalThis, 'fetch');
    const client = createQuarryClient({ url, apiKey: 'k'.repeat(20) });
    const result = await client.documents.ingest.mutate({
      collection: 'docs',
      documents: [{ content: 'héllo' }],
    });
    expect(result.ids).toEqual(['a']);
    expect(globalFetch).not.toHaveBeenCalled();
    expect(seen).toEqual([
      {
        url: '/trpc/documents.ingest',
        method: 'POST',
        auth: `Bearer ${'k'.repeat(20)}`,
        type: 'application/json',
        body: JSON.stringify({ collection: 'docs', documents: [{ content: 'héllo' }] }),
      },
    ]);
  });

  it("reads an error answer as the API's typed error, with its domain code", async () => {
    const { url } = await serve((_req, _body, res) =>
      answer(res, 400, {
        error: {
          message: "collection 'docs' expects 3 dimensions, got 2",
          code: -32600,
          data: { code: 'BAD_REQUEST', httpStatus: 400, quarryCode: 'DIMENSION_MISMATCH' },
        },
      }),
    );
    const failure = await createQuarryClient({ url })
      .search.query.query({ collection: 'docs', vector: [1, 2] })
      .catch((error: unknown) => error);
    expect(isQuarryClientError(failure)).toBe(true);
    expect(quarryCodeOf(failure)).toBe('DIMENSION_MISMATCH');
    expect((failure as Error).message).toBe("collection 'docs' expects 3 dimensions, got 2");
  });

  it('sends a call again on a new connection when a kept-alive one was closed under it', async () => {
    const served = new WeakSet<Socket>();
    let connections = 0;
    let dropped = 0;
    const { url, server } = await serve((req, _body, res) => {
      // The second request on a connection finds it closed, as one a server has just timed out.
      if (served.has(req.socket)) {
        dropped++;
        req.socket.destroy();
        return;
      }
      served.add(req.socket);
      answer(res, 200, { result: { data: [] } });
    });
    server.on('connection', () => connections++);
    const client = createQuarryClient({ url });
    await client.collections.list.query();
    await expect(client.collections.list.query()).resolves.toEqual([]);
    expect({ dropped, connections }).toEqual({ dropped: 1, connections: 2 });
  });

  it('reads an answer compressed although not asked to be, as fetch would', async () => {
    let acceptEncoding: string | undefined = 'unset';
    const { url } = await serve((req, _body, res) => {
      acceptEncoding = req.headers['accept-encoding'];
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(JSON.stringify({ result: { data: [] } })));
    });
    await expect(createQuarryClient({ url }).collections.list.query()).resolves.toEqual([]);
    expect(acceptEncoding).toBeUndefined();
  });

  it('stops a call when its signal aborts', async () => {
    const { url } = await serve(() => undefined); // never answers
    const controller = new AbortController();
    const pending = createQuarryClient({ url }).collections.list.query(undefined, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({
      name: 'TRPCClientError',
      cause: { name: 'AbortError' },
    });
  });

  it('fails as fetch does when nothing listens', async () => {
    const { url, server } = await serve(() => undefined);
    await new Promise((resolve) => server.close(resolve));
    const failure = await createQuarryClient({ url })
      .collections.list.query()
      .catch((error: unknown) => error);
    expect(isQuarryClientError(failure)).toBe(true);
    expect((failure as Error).message).toBe('fetch failed');
    expect((failure as { cause?: { cause?: { code?: string } } }).cause?.cause?.code).toBe(
      'ECONNREFUSED',
    );
  });

  it('hands what node:http does not send to the global fetch', async () => {
    const globalFetch = vi
      .spyOn(globalThis, 'fetch')
      .mockResolvedValue(new Response('{}', { status: 200 }));
    const blob = new Blob(['x']);
    await nodeFetch('http://127.0.0.1:1/trpc/x', { method: 'POST', body: blob });
    await nodeFetch('data:text/plain,hello');
    expect(
      globalFetch.mock.calls.map(([input]) =>
        typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
      ),
    ).toEqual(['http://127.0.0.1:1/trpc/x', 'data:text/plain,hello']);
  });
});
