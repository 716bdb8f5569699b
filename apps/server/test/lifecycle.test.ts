import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { createQuarryClient } from '@quarry/client';
import { createDb, migrate } from '@quarry/db';
import {
  describeOnPostgres,
  postgresUrl,
  scratchDir,
  scratchPostgres,
  spawnNode,
  startServer,
  type ServerProcess,
} from './harness';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(server: ServerProcess): ServerProcess {
  cleanups.push(async () => {
    await server.stop('SIGKILL');
  });
  return server;
}

async function exitOf(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const child = spawnNode('src/main.ts', [], env);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stderr };
}

describe('bad configuration', () => {
  it('exits non-zero and names the variable', async () => {
    const { code, stderr } = await exitOf({ PORT: 'eighty' });
    expect(code).not.toBe(0);
    expect(stderr).toContain('PORT: must be a whole number (got "eighty")');
  });

  it('names the exact entry of a bad API key list without echoing the key', async () => {
    const { code, stderr } = await exitOf({
      QUARRY_API_KEYS: JSON.stringify([
        { key: 'a-secret-that-is-long-enough', scopes: ['delete'] },
      ]),
    });
    expect(code).not.toBe(0);
    expect(stderr).toContain('QUARRY_API_KEYS[0].scopes[0]');
    expect(stderr).not.toContain('a-secret-that-is-long-enough');
  });

  it('reports every bad variable at once', async () => {
    const { stderr } = await exitOf({
      PORT: '-1',
      CORS_ORIGINS: 'https://ok.example.com,not a url',
      STATEMENT_TIMEOUT_MS: 'soon',
    });
    expect(stderr).toMatch(/PORT:/);
    expect(stderr).toMatch(/CORS_ORIGINS\[1\]:/);
    expect(stderr).toMatch(/STATEMENT_TIMEOUT_MS:/);
  });
});

/** Opens a POST whose body is only half sent; `finish` sends the rest and resolves with the response. */
function halfSentIngest(url: URL, body: string) {
  const req = httpRequest(new URL('/trpc/documents.ingest', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
  });
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
  });
  const half = Math.floor(body.length / 2);
  req.write(body.slice(0, half));
  return { finish: () => (req.end(body.slice(half)), response) };
}

/** A server on a scratch embedded database with one ingest into `collection` half sent. */
async function serverWithIngestInFlight(collection: string) {
  const data = scratchDir(`quarry-${collection}`);
  cleanups.push(() => data.remove());
  const env = { QUARRY_DATA_DIR: join(data.path, 'db') };
  const server = track(await startServer(env));
  await server.waitForReady();
  await createQuarryClient({ url: server.url }).collections.create.mutate({
    name: collection,
    dimensions: 3,
    embeddingModel: 'external/3d',
  });
  const inFlight = halfSentIngest(
    server.url,
    JSON.stringify({
      collection,
      documents: [{ content: 'finished during shutdown', embedding: [1, 0, 0] }],
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 300)); // the request line and headers have arrived
  return { env, server, inFlight };
}

describe('graceful shutdown on the embedded database', () => {
  it('SIGTERM stops accepting, finishes the request in flight, then exits 0 with the write persisted', async () => {
    const { env, server, inFlight } = await serverWithIngestInFlight('drain');
    server.child.kill('SIGTERM');
    await server.waitForLog((record) => record.msg.startsWith('shutting down'), 10_000);

    await expect(fetch(new URL('/healthz', server.url))).rejects.toThrow();
    expect(server.child.exitCode).toBeNull();

    const response = await inFlight.finish();
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ result: { data: { inserted: 1 } } });
    expect(await server.exited).toBe(0);
    expect(server.logs.find((record) => record.msg === 'stopped')).toMatchObject({
      unfinishedRequests: 0,
    });

    const again = track(await startServer(env));
    await again.waitForReady();
    const { count } = await createQuarryClient({ url: again.url }).documents.count.query({
      collection: 'drain',
    });
    expect(count).toBe(1);
  });

  it('the same signal again within a second (a parent relaying the Ctrl-C) does not cut the drain short', async () => {
    const { server, inFlight } = await serverWithIngestInFlight('relayed');
    server.child.kill('SIGINT');
    await server.waitForLog((record) => record.msg.startsWith('shutting down'), 10_000);
    server.child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(server.child.exitCode).toBeNull();

    expect((await inFlight.finish()).status).toBe(200);
    expect(await server.exited).toBe(0);
    expect(server.logs.map((record) => record.msg)).not.toContain(
      'second signal: exiting without waiting',
    );
  });

  it('a second process on the same data directory is refused while the first runs', async () => {
    const data = scratchDir('quarry-lock');
    cleanups.push(() => data.remove());
    const env = { QUARRY_DATA_DIR: join(data.path, 'db') };
    const first = track(await startServer(env));
    const second = await exitOf({
      ...env,
      PORT: '0',
      QUARRY_LOG_FORMAT: 'json',
      QUARRY_DEMO: 'false',
    });
    expect(second.code).toBe(1);
    expect(first.child.exitCode).toBeNull();
  });
});

describeOnPostgres('on PostgreSQL', () => {
  async function scratch() {
    const database = await scratchPostgres(postgresUrl ?? '');
    cleanups.push(() => database.drop());
    return database;
  }

  it('/readyz stays 503 until the migrations are applied, then turns 200', async () => {
    const database = await scratch();
    const server = track(
      await startServer({ DATABASE_URL: database.url, QUARRY_AUTO_MIGRATE: 'false' }),
    );
    await server.waitForReady();
    const before = await fetch(new URL('/readyz', server.url));
    expect(before.status).toBe(503);
    const readiness = (await before.json()) as {
      ready: boolean;
      checks: Record<string, { ok: boolean; detail: string }>;
    };
    expect(readiness).toMatchObject({
      ready: false,
      checks: { database: { ok: true }, migrations: { ok: false } },
    });
    expect(readiness.checks.migrations?.detail).toMatch(/^0 of \d+ migrations applied/);

    const migrator = await createDb({ driver: 'postgres', url: database.url });
    await migrate(migrator);
    await migrator.close();

    const after = await fetch(new URL('/readyz', server.url));
    expect(after.status).toBe(200);
  });

  it('STATEMENT_TIMEOUT_MS cancels a request stuck in the database: 408 with STATEMENT_TIMEOUT', async () => {
    const database = await scratch();
    const server = track(
      await startServer({ DATABASE_URL: database.url, STATEMENT_TIMEOUT_MS: '500' }),
    );
    await server.waitForReady();
    const client = createQuarryClient({ url: server.url });
    await client.collections.create.mutate({
      name: 'slow',
      dimensions: 3,
      embeddingModel: 'external/3d',
    });
    const blocker = postgres(database.url, { max: 1, onnotice: () => {} });
    await blocker`begin`;
    await blocker`lock table documents in access exclusive mode`;
    cleanups.push(async () => {
      await blocker`rollback`;
      await blocker.end();
    });
    const started = performance.now();
    const response = await fetch(new URL('/trpc/documents.ingest', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        collection: 'slow',
        documents: [{ content: 'never stored', embedding: [1, 0, 0] }],
      }),
    });
    const elapsed = performance.now() - started;
    expect(response.status).toBe(408);
    expect(
      ((await response.json()) as { error: { data: { quarryCode: string } } }).error.data
        .quarryCode,
    ).toBe('STATEMENT_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(500);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('SIGTERM waits for a query blocked in the database, then exits 0', async () => {
    const database = await scratch();
    const server = track(await startServer({ DATABASE_URL: database.url }));
    await server.waitForReady();
    const client = createQuarryClient({ url: server.url });
    await client.collections.create.mutate({
      name: 'blocked',
      dimensions: 3,
      embeddingModel: 'external/3d',
    });

    const blocker = postgres(database.url, { max: 1, onnotice: () => {} });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    cleanups.push(() => (release(), blocker.end()));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holding = blocker.begin(async (tx) => {
      await tx`lock table documents in access exclusive mode`;
      locked();
      await released;
    });
    await lockTaken;

    const ingest = client.documents.ingest.mutate({
      collection: 'blocked',
      documents: [{ content: 'waits for the lock', embedding: [0, 1, 0] }],
    });
    const probe = postgres(database.url, { max: 1, onnotice: () => {} });
    cleanups.push(() => probe.end());
    for (let waited = 0; ; waited += 50) {
      const rows =
        await probe`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and application_name like 'quarry-server%'`;
      if (rows.length > 0) break;
      if (waited > 20_000) throw new Error('the ingest never waited on the lock');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    server.child.kill('SIGTERM');
    await server.waitForLog((record) => record.msg.startsWith('shutting down'), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(server.child.exitCode).toBeNull();

    release();
    await holding;
    await expect(ingest).resolves.toMatchObject({ inserted: 1 });
    expect(await server.exited).toBe(0);
  });
});
