// One candidate HTTP layer serving the same tRPC router; argv[2] names it, argv[3] the port.
import { createServer } from 'node:http';
import { initTRPC } from '@trpc/server';
import { z } from 'zod';

const t = initTRPC.create();
const content = 'The quick brown fox jumps over the lazy dog. '.repeat(9);
const router = t.router({
  search: t.procedure
    .input(
      z.object({
        collection: z.string(),
        vector: z.array(z.number()).length(1536),
        k: z.number().int(),
      }),
    )
    .query(({ input }) => ({
      results: Array.from({ length: input.k }, (_, i) => ({
        id: `00000000-0000-4000-8000-00000000000${i}`,
        content,
        metadata: { source: 'bench', rank: i, tags: ['a', 'b'] },
        score: 1 - i / 100,
      })),
      mode: 'vector',
    })),
});
const createContext = () => ({});
const which = process.argv[2];
const port = Number(process.argv[3]);

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > 4_000_000) reject(new Error('big'));
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

if (which === 'handwritten') {
  const { fetchRequestHandler } = await import('@trpc/server/adapters/fetch');
  createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const body = await readBody(req);
    const headers = new Headers();
    for (const [k, vs] of Object.entries(req.headersDistinct))
      for (const v of vs ?? []) headers.append(k, v);
    const request = new Request(url, {
      method: req.method,
      headers,
      ...(body.length ? { body } : {}),
    });
    const response = await fetchRequestHandler({
      endpoint: '/trpc',
      req: request,
      router,
      createContext,
      allowMethodOverride: true,
      maxBatchSize: 50,
    });
    const payload = Buffer.from(await response.arrayBuffer());
    const h = {};
    response.headers.forEach((v, k) => {
      h[k] = v;
    });
    res.writeHead(response.status, { ...h, 'content-length': String(payload.length) });
    res.end(payload);
  }).listen(port, '127.0.0.1');
} else if (which === 'standalone') {
  const { createHTTPHandler } = await import('@trpc/server/adapters/standalone');
  const handler = createHTTPHandler({
    router,
    createContext,
    basePath: '/trpc/',
    allowMethodOverride: true,
    maxBatchSize: 50,
  });
  createServer(async (req, res) => {
    // As the real layer would: the body read with its own limits first, then handed over.
    if (req.method === 'POST') req.body = (await readBody(req)).toString('utf8');
    handler(req, res);
  }).listen(port, '127.0.0.1');
} else if (which === 'fastify') {
  const { default: Fastify } = await import('fastify');
  const { fastifyTRPCPlugin } = await import('@trpc/server/adapters/fastify');
  const app = Fastify({ bodyLimit: 4_000_000 });
  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: { router, createContext, allowMethodOverride: true, maxBatchSize: 50 },
  });
  await app.listen({ port, host: '127.0.0.1' });
} else if (which === 'hono') {
  const { Hono } = await import('hono');
  const { serve } = await import('@hono/node-server');
  const { trpcServer } = await import('@hono/trpc-server');
  const app = new Hono();
  app.use(
    '/trpc/*',
    trpcServer({ router, createContext, allowMethodOverride: true, maxBatchSize: 50 }),
  );
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
}
console.log('ready');
// CPU per request is what survives a shared, loaded machine: SIGUSR1 marks, SIGUSR2 reports.
let mark = process.cpuUsage();
process.on('SIGUSR1', () => {
  mark = process.cpuUsage();
});
process.on('SIGUSR2', () => {
  const u = process.cpuUsage(mark);
  console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000 }));
});
