import { request as httpRequest } from 'node:http';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQuarryClient, quarryCodeOf } from '@quarry/client';
import {
  apiKeysEnv,
  keys,
  runScript,
  scratchDir,
  startServer,
  type ServerProcess,
} from './harness';

const MAX_BODY_BYTES = 64 * 1024;
const MAX_BATCH_CALLS = 5;
const ALLOWED_ORIGIN = 'https://app.example.com';

let server: ServerProcess;
let data: ReturnType<typeof scratchDir>;
let dist: ReturnType<typeof scratchDir>;

async function call(path: string, init: RequestInit & { key?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.key) headers.set('authorization', `Bearer ${init.key}`);
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const response = await fetch(new URL(path, server.url), { ...init, headers });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: json as {
      error?: { message: string; data: { quarryCode?: string; code: string; httpStatus: number } };
      result?: { data: unknown };
    },
  };
}

beforeAll(async () => {
  data = scratchDir('quarry-http');
  dist = scratchDir('quarry-admin-dist');
  mkdirSync(join(dist.path, 'assets'));
  writeFileSync(
    join(dist.path, 'index.html'),
    '<!doctype html><title>Quarry admin</title><div id="root"></div>',
  );
  writeFileSync(join(dist.path, 'assets', 'app-1234.js'), 'console.log("admin")');
  server = await startServer({
    QUARRY_DATA_DIR: join(data.path, 'db'),
    QUARRY_API_KEYS: apiKeysEnv,
    QUARRY_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    QUARRY_MAX_BATCH_CALLS: String(MAX_BATCH_CALLS),
    CORS_ORIGINS: ALLOWED_ORIGIN,
    QUARRY_ADMIN_DIST: dist.path,
  });
  await server.waitForReady();
  const admin = createQuarryClient({ url: server.url, apiKey: keys.admin });
  await admin.collections.create.mutate({
    name: 'notes',
    dimensions: 3,
    embeddingModel: 'external/test-3d',
  });
});

afterAll(async () => {
  await server?.stop();
  data?.remove();
  dist?.remove();
});

describe('health and readiness', () => {
  it('GET /healthz answers 200 while the process is up', async () => {
    const response = await call('/healthz');
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({ status: 'ok' });
  });

  it('GET /readyz is 200 and shows the database, migrations and pgvector checks once started', async () => {
    const response = await call('/readyz');
    expect(response.status).toBe(200);
    expect(response.json).toMatchObject({
      ready: true,
      checks: { database: { ok: true }, migrations: { ok: true }, extension: { ok: true } },
    });
  });
});

describe('the typed client over real HTTP', () => {
  it('ingests and searches, with results typed from AppRouter', async () => {
    const writer = createQuarryClient({ url: server.url, apiKey: keys.writer });
    const ingested = await writer.documents.ingest.mutate({
      collection: 'notes',
      documents: [
        { content: 'north', embedding: [0, 1, 0], metadata: { direction: 'north' } },
        { content: 'east', embedding: [1, 0, 0], metadata: { direction: 'east' } },
      ],
    });
    expect(ingested.inserted).toBe(2);
    const reader = createQuarryClient({ url: server.url, apiKey: keys.reader });
    const { results } = await reader.search.query.query({
      collection: 'notes',
      vector: [0.1, 0.9, 0],
      k: 1,
    });
    expect(results.map((result) => result.content)).toEqual(['north']);
  });

  it('searches with a 1,536-dimension query vector, too long for a URL', async () => {
    const admin = createQuarryClient({ url: server.url, apiKey: keys.admin });
    await admin.collections.create.mutate({
      name: 'wide',
      dimensions: 1536,
      embeddingModel: 'external/1536d',
    });
    const vector = Array.from({ length: 1536 }, (_, i) => Math.sin(i + 0.5));
    await admin.documents.ingest.mutate({
      collection: 'wide',
      documents: [{ content: 'wide', embedding: vector }],
    });
    const { results } = await admin.search.query.query({ collection: 'wide', vector, k: 1 });
    expect(results[0]?.similarity).toBeCloseTo(1, 5);
  });

  it('reports a domain error code on the thrown error', async () => {
    const writer = createQuarryClient({ url: server.url, apiKey: keys.writer });
    const error = await writer.documents.ingest
      .mutate({ collection: 'notes', documents: [{ content: 'bad', embedding: [1, 2] }] })
      .catch((e: unknown) => e);
    expect(quarryCodeOf(error)).toBe('DIMENSION_MISMATCH');
  });
});

describe('the example service', () => {
  it('creates its collection, ingests notes and finds the physics note about floating ice first', async () => {
    const run = await runScript('examples/ingest-and-search.ts', ['why does ice float'], {
      QUARRY_URL: server.url.toString(),
      QUARRY_API_KEY: keys.admin,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('ingested: 4 new');
    const firstResult = run.stdout.split('\n').find((line) => line.startsWith('  '));
    expect(firstResult).toContain('ice');
  });
});

describe('plain HTTP without a tRPC client', () => {
  it('POST with a wrong-dimension vector is a 400 whose error names the code and the dimensions', async () => {
    const response = await call('/trpc/documents.ingest', {
      method: 'POST',
      key: keys.writer,
      body: JSON.stringify({
        collection: 'notes',
        documents: [{ content: 'x', embedding: [1, 2] }],
      }),
    });
    expect(response.status).toBe(400);
    expect(response.json.error?.data).toMatchObject({
      code: 'BAD_REQUEST',
      httpStatus: 400,
      quarryCode: 'DIMENSION_MISMATCH',
    });
    expect(response.json.error?.message).toBe(
      "collection 'notes' expects 3 dimensions, got 2 (documents[0].embedding)",
    );
  });

  it('stores a metadata key named __proto__ over HTTP like any other, and refuses an id field naming it', async () => {
    // Raw JSON text: a JavaScript object literal would make __proto__ the prototype, not a key.
    const ingested = await call('/trpc/documents.ingest', {
      method: 'POST',
      key: keys.writer,
      body: '{"collection":"notes","documents":[{"content":"prototype over http","embedding":[1,0,0],"metadata":{"__proto__":"p","kind":"P1"}}]}',
    });
    expect(ingested.status).toBe(200);
    const [id] = (ingested.json.result?.data as { ids: string[] }).ids;
    const input = encodeURIComponent(JSON.stringify({ collection: 'notes', id }));
    const stored = await call(`/trpc/documents.get?input=${input}`, { key: keys.reader });
    expect(stored.status).toBe(200);
    expect(stored.text).toContain('"metadata":{"kind":"P1","__proto__":"p"}');
    // The tests below count the collection's documents: this one goes again.
    const removed = await call('/trpc/documents.delete', {
      method: 'POST',
      key: keys.writer,
      body: JSON.stringify({ collection: 'notes', ids: [id] }),
    });
    expect(removed.json.result?.data).toMatchObject({ deleted: 1 });

    const withId = await call('/trpc/documents.ingest', {
      method: 'POST',
      key: keys.writer,
      body: JSON.stringify({
        collection: 'notes',
        documents: [{ id: 'doc-1', content: 'keyed by id', embedding: [0, 1, 0] }],
      }),
    });
    expect(withId.status).toBe(400);
    expect(withId.json.error?.message).toContain("unknown field 'id'");
  });

  it('a body that is not valid UTF-8 is a 400 and nothing is stored', async () => {
    const before = await call(
      `/trpc/documents.count?input=${encodeURIComponent(JSON.stringify({ collection: 'notes' }))}`,
      { key: keys.reader },
    );
    const valid = Buffer.from(
      JSON.stringify({
        collection: 'notes',
        documents: [{ content: 'caf\u00e9 latin-1', embedding: [1, 0, 0] }],
      }),
    );
    // 'é' as the single Latin-1 byte 0xE9 instead of its two UTF-8 bytes.
    const latin1 = Buffer.from(valid.toString('utf8'), 'latin1');
    const response = await call('/trpc/documents.ingest', {
      method: 'POST',
      key: keys.writer,
      body: latin1,
    });
    expect(response.status).toBe(400);
    expect(response.json.error?.message).toBe('the request body is not valid UTF-8');
    const after = await call(
      `/trpc/documents.count?input=${encodeURIComponent(JSON.stringify({ collection: 'notes' }))}`,
      { key: keys.reader },
    );
    expect(after.json.result?.data).toEqual(before.json.result?.data);
  });

  it('GET with the input in the query string runs a query procedure', async () => {
    const input = encodeURIComponent(JSON.stringify({ collection: 'notes' }));
    const response = await call(`/trpc/documents.count?input=${input}`, { key: keys.reader });
    expect(response.status).toBe(200);
    expect(response.json.result?.data).toEqual({ count: 2 });
  });

  it('an unknown collection is a 404 with COLLECTION_NOT_FOUND', async () => {
    const input = encodeURIComponent(JSON.stringify({ name: 'missing' }));
    const response = await call(`/trpc/collections.get?input=${input}`, { key: keys.reader });
    expect(response.status).toBe(404);
    expect(response.json.error?.data.quarryCode).toBe('COLLECTION_NOT_FOUND');
  });

  it('a POST body that is not JSON is a 400 BAD_REQUEST in the API error envelope', async () => {
    const response = await call('/trpc/search.query', {
      method: 'POST',
      key: keys.reader,
      body: '{"collection": "notes", "vector": [1, 0,',
    });
    expect(response.status).toBe(400);
    expect(response.json.error?.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
    expect(response.json.error?.message).toMatch(/JSON/);
  });

  it('a JSON body led by a byte order mark is read without it', async () => {
    const response = await call('/trpc/search.query', {
      method: 'POST',
      key: keys.reader,
      body: '\ufeff' + JSON.stringify({ collection: 'notes', vector: [1, 0, 0], k: 1 }),
    });
    // Not read without it, the body would be no JSON at all: a 400.
    expect(response.status).toBe(200);
    expect(response.json.result?.data).toMatchObject({ results: expect.any(Array) });
  });

  it('a POST body of another media type than JSON is refused with 415', async () => {
    const response = await call('/trpc/search.query', {
      method: 'POST',
      key: keys.reader,
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ collection: 'notes', vector: [1, 0, 0], k: 1 }),
    });
    expect(response.status).toBe(415);
    expect(response.json.error?.data).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it('invalid input is a 400 with INVALID_INPUT and the field errors', async () => {
    const response = await call(
      '/trpc/search.query?input=' +
        encodeURIComponent(JSON.stringify({ collection: 'notes', k: 0 })),
      { key: keys.reader },
    );
    expect(response.status).toBe(400);
    expect(response.json.error?.data).toMatchObject({
      quarryCode: 'INVALID_INPUT',
      zodError: { fieldErrors: { k: [expect.any(String)] } },
    });
  });
});

describe('API keys', () => {
  const count = `/trpc/documents.count?input=${encodeURIComponent(JSON.stringify({ collection: 'notes' }))}`;

  it('a request without a key gets 401 UNAUTHORIZED', async () => {
    const response = await call(count);
    expect(response.status).toBe(401);
    expect(response.json.error?.data.quarryCode).toBe('UNAUTHORIZED');
  });

  it('an unknown key gets 401', async () => {
    const response = await call(count, { key: 'not-a-configured-key-at-all' });
    expect(response.status).toBe(401);
  });

  it('the x-api-key header works as well as Authorization: Bearer', async () => {
    const response = await call(count, { headers: { 'x-api-key': keys.reader } });
    expect(response.status).toBe(200);
  });

  it('a read-only key gets 403 FORBIDDEN on ingest', async () => {
    const response = await call('/trpc/documents.ingest', {
      method: 'POST',
      key: keys.reader,
      body: JSON.stringify({
        collection: 'notes',
        documents: [{ content: 'x', embedding: [1, 2, 3] }],
      }),
    });
    expect(response.status).toBe(403);
    expect(response.json.error?.data.quarryCode).toBe('FORBIDDEN');
  });
});

describe('request limits', () => {
  const oversize = () =>
    JSON.stringify({
      collection: 'notes',
      documents: [{ content: 'x'.repeat(MAX_BODY_BYTES), embedding: [1, 2, 3] }],
    });

  it('a body over QUARRY_MAX_BODY_BYTES gets 413 PAYLOAD_TOO_LARGE and nothing is stored', async () => {
    const response = await call('/trpc/documents.ingest', {
      method: 'POST',
      key: keys.writer,
      body: oversize(),
    });
    expect(response.status).toBe(413);
    expect(response.json.error?.data.quarryCode).toBe('PAYLOAD_TOO_LARGE');
    const counted = await call(
      `/trpc/documents.count?input=${encodeURIComponent(JSON.stringify({ collection: 'notes' }))}`,
      { key: keys.reader },
    );
    expect(counted.json.result?.data).toEqual({ count: 2 });
  });

  it('a chunked body without Content-Length is cut off at the limit with 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(new URL('/trpc/documents.ingest', server.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${keys.writer}`,
          'transfer-encoding': 'chunked',
        },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      const body = oversize();
      for (let offset = 0; offset < body.length; offset += 8_192)
        req.write(body.slice(offset, offset + 8_192));
      req.end();
    });
    expect(status).toBe(413);
  });

  it(`a batch of more than ${MAX_BATCH_CALLS} calls is refused with 400`, async () => {
    const paths = Array.from({ length: MAX_BATCH_CALLS + 1 }, () => 'collections.list').join(',');
    const response = await call(`/trpc/${paths}?batch=1&input=${encodeURIComponent('{}')}`, {
      key: keys.reader,
    });
    expect(response.status).toBe(400);
    expect(response.text).toContain('Batch call exceeds maximum size');
  });

  it(`a batch of ${MAX_BATCH_CALLS} calls is answered`, async () => {
    const paths = Array.from({ length: MAX_BATCH_CALLS }, () => 'collections.list').join(',');
    const response = await call(`/trpc/${paths}?batch=1&input=${encodeURIComponent('{}')}`, {
      key: keys.reader,
    });
    expect(response.status).toBe(200);
    expect(response.json).toHaveLength(MAX_BATCH_CALLS);
  });
});

describe('CORS', () => {
  it('a preflight from a configured origin is allowed', async () => {
    const response = await call('/trpc/search.query', {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
  });

  it('a preflight from any other origin is refused', async () => {
    const response = await call('/trpc/search.query', {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a call from a configured origin is allowed, may read x-request-id and varies by Origin', async () => {
    const response = await call('/trpc/search.query', {
      method: 'POST',
      key: keys.reader,
      headers: { origin: ALLOWED_ORIGIN },
      body: JSON.stringify({ collection: 'notes', vector: [1, 0, 0], k: 1 }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('a call without an Origin says it varies by Origin and keeps its body', async () => {
    const response = await call('/trpc/search.query', {
      method: 'POST',
      key: keys.reader,
      body: JSON.stringify({ collection: 'notes', vector: [1, 0, 0], k: 1 }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toBe('x-request-id');
    expect(response.headers.get('vary')).toContain('Origin');
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(response.headers.get('content-length')).toBe(String(Buffer.byteLength(response.text)));
    expect(response.json.result?.data).toMatchObject({ results: expect.any(Array) });
  });

  it('a simple request from another origin gets no Access-Control-Allow-Origin', async () => {
    const response = await call('/healthz', { headers: { origin: 'https://evil.example.com' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('request ids and the request log', () => {
  it('echoes a given x-request-id and logs one JSON line for the request with it', async () => {
    const response = await call('/healthz', { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('trace-abc-123');
    const record = await server.waitForLog(
      (r) => r.msg === 'request' && r.requestId === 'trace-abc-123',
      5_000,
    );
    expect(record).toMatchObject({ method: 'GET', path: '/healthz', status: 200 });
    expect(record.durationMs).toBeTypeOf('number');
    expect(server.logs.filter((r) => r.requestId === 'trace-abc-123')).toHaveLength(1);
  });

  it('generates a request id when none is given, and logs the procedure, key name and error code', async () => {
    const response = await call('/trpc/documents.ingest', {
      method: 'POST',
      key: keys.writer,
      body: JSON.stringify({ collection: 'nope', documents: [{ content: 'x' }] }),
    });
    const id = response.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const record = await server.waitForLog((r) => r.msg === 'request' && r.requestId === id, 5_000);
    expect(record).toMatchObject({
      procedures: ['documents.ingest'],
      principal: 'writer',
      status: 404,
      errors: [
        { procedure: 'documents.ingest', code: 'NOT_FOUND', quarryCode: 'COLLECTION_NOT_FOUND' },
      ],
    });
  });

  it('never logs the query string, which may carry a search text', async () => {
    const response = await call(
      `/trpc/documents.count?input=${encodeURIComponent(JSON.stringify({ collection: 'secret-name' }))}`,
      { key: keys.reader },
    );
    const record = await server.waitForLog(
      (r) => r.requestId === response.headers.get('x-request-id'),
      5_000,
    );
    expect(JSON.stringify(record)).not.toContain('secret-name');
  });
});

describe('the admin dashboard from the same origin', () => {
  it('serves index.html at / and for unknown app routes', async () => {
    for (const path of ['/', '/collections/notes']) {
      const response = await call(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/html');
      expect(response.text).toContain('Quarry admin');
    }
  });

  it('serves built assets with their content type and a long cache lifetime', async () => {
    const response = await call('/assets/app-1234.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/javascript');
    expect(response.headers.get('cache-control')).toContain('immutable');
  });

  it('a missing asset is a 404, not index.html', async () => {
    expect((await call('/assets/missing.js')).status).toBe(404);
  });

  it('paths cannot escape the dashboard directory', async () => {
    const response = await call('/..%2f..%2f..%2fetc%2fpasswd');
    expect(response.text).not.toContain('root:');
  });

  it('says how to build the dashboard when it is not built', async () => {
    rmSync(join(dist.path, 'index.html'));
    try {
      const response = await call('/');
      expect(response.status).toBe(200);
      expect(response.text).toContain("dashboard isn't built");
      expect(response.text).toContain('--filter @quarry/admin build');
    } finally {
      writeFileSync(
        join(dist.path, 'index.html'),
        '<!doctype html><title>Quarry admin</title><div id="root"></div>',
      );
    }
  });
});
