/**
 * A child process serving Quarry's tRPC router over node:http, the way a deployment would, for the
 * API-overhead measurement: `tsx api-server.ts <database-url>` prints {"port": n} on stdout once
 * listening. Queries go by POST (method override): a 1,536-dimension query vector in a GET URL
 * would exceed Node's 16 KB header limit.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { appRouter, createApiKeyVerifier, createContextFactory } from '@quarry/api';
import { createEmbeddingRegistry } from '@quarry/api/embeddings';
import { createDb } from '@quarry/db';

const url = process.argv[2];
if (!url) throw new Error('usage: api-server.ts <database-url>');

const database = await createDb({ driver: 'postgres', url, applicationName: 'quarry-bench-api' });
const createContext = createContextFactory(
  { database, embeddings: createEmbeddingRegistry([]) },
  createApiKeyVerifier([]),
);

function requestHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

const server = createServer((req, res) => {
  void (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(`http://127.0.0.1${req.url ?? '/'}`, {
      method: req.method,
      headers: requestHeaders(req),
      ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
    });
    const response = await fetchRequestHandler({
      endpoint: '/trpc',
      req: request,
      router: appRouter,
      allowMethodOverride: true,
      createContext: ({ req: fetchRequest }) => createContext({ headers: fetchRequest.headers }),
    });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(Buffer.from(await response.arrayBuffer()));
  })().catch((error: unknown) => {
    res.writeHead(500).end(String(error));
  });
});
// Bodies of a 1,000-document ingest with 1,536-dimension vectors run to tens of megabytes.
server.requestTimeout = 0;

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});

process.on('SIGTERM', () => {
  server.close();
  void database.close().finally(() => process.exit(0));
});
