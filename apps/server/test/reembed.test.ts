import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeOnPostgres,
  postgresUrl,
  runCli,
  scratchPostgres,
  startServer,
  type ServerProcess,
} from './harness';

const NEW_DIMENSIONS = 64;

/** The new model: a deterministic vector of the text (exact in float32, so compared bit for bit). */
function newModelVector(text: string): number[] {
  return Array.from({ length: NEW_DIMENSIONS }, (_, i) =>
    Math.fround(((text.charCodeAt(i % text.length) || 1) % 97) / 8 + (i % 7) / 4 + 1),
  );
}

/** An OpenAI-compatible /v1/embeddings that answers each request after `delayMs`, so a run takes a while. */
async function slowEmbeddings(delayMs: number) {
  let texts = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input: string[] };
      texts += body.input.length;
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            data: body.input.map((text, index) => ({ index, embedding: newModelVector(text) })),
          }),
        );
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    texts: () => texts,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function call<T>(server: ServerProcess, procedure: string, input: unknown): Promise<T> {
  const response = await fetch(new URL(`/trpc/${procedure}`, server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as { result?: { data: T }; error?: { message: string } };
  if (!body.result) throw new Error(`${procedure}: ${response.status} ${body.error?.message}`);
  return body.result.data;
}

interface Progress {
  state: string;
  total: number;
  done: number;
  embedded: number;
}

describeOnPostgres('re-embedding a collection on the real server, killed mid-way', () => {
  let database: Awaited<ReturnType<typeof scratchPostgres>>;
  let embeddings: Awaited<ReturnType<typeof slowEmbeddings>>;
  let server: ServerProcess | undefined;
  let env: Record<string, string>;
  const contents = Array.from(
    { length: 700 },
    (_, i) => `note ${i}: the river ${i % 13} passes the hill ${i % 29} near town ${i}`,
  );

  beforeAll(async () => {
    database = await scratchPostgres(postgresUrl!);
    embeddings = await slowEmbeddings(400);
    env = {
      DATABASE_URL: database.url,
      QUARRY_OPENAI_BASE_URL: embeddings.baseUrl,
      QUARRY_OPENAI_MODEL: 'slow-64',
      QUARRY_OPENAI_DIMENSIONS: String(NEW_DIMENSIONS),
    };
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await embeddings?.close();
    await database?.drop();
  });

  it('resumes after SIGKILL, keeps searching the old vectors until the switch, and misses no document', async () => {
    server = await startServer(env);
    await server.waitForReady();
    await call(server, 'collections.create', {
      name: 'notes',
      dimensions: 100,
      embeddingModel: 'quarry/wink-sg-100d',
    });
    for (let start = 0; start < contents.length; start += 250) {
      await call(server, 'documents.ingest', {
        collection: 'notes',
        documents: contents
          .slice(start, start + 250)
          .map((content, i) => ({ content, externalId: `n${start + i}` })),
      });
    }
    const started = await call<Progress>(server, 'reembed.start', {
      collection: 'notes',
      model: 'openai-compatible/slow-64',
      dimensions: NEW_DIMENSIONS,
    });
    expect(started).toMatchObject({ state: 'filling', total: 700, done: 0 });

    // Mid-way: some batches committed, not all.
    let progress = started;
    while (progress.done === 0) {
      progress = (await call<Progress>(server, 'reembed.progress', { collection: 'notes' }))!;
    }
    expect(progress.state).toBe('filling');
    expect(progress.done).toBeLessThan(700);
    // Searches use the old model's vectors: 100 dimensions, and the text is embedded offline.
    const hit = await call<{ results: Array<{ id: string }> }>(server, 'search.query', {
      collection: 'notes',
      text: 'river passes the hill',
      k: 3,
    });
    expect(hit.results).toHaveLength(3);
    const old = await call<{ embedding: number[] }>(server, 'documents.get', {
      collection: 'notes',
      id: hit.results[0]!.id,
      includeEmbedding: true,
    });
    expect(old.embedding).toHaveLength(100);

    await server.stop('SIGKILL');
    server = await startServer(env);
    await server.waitForReady();
    // Written while the job runs: a new document and a changed one.
    await call(server, 'documents.ingest', {
      collection: 'notes',
      documents: [
        { content: 'a late note about the valley', externalId: 'late' },
        { content: 'note 0 rewritten: the lake', externalId: 'n0' },
      ],
    });
    const finishedAt = Date.now() + 110_000;
    do {
      progress = (await call<Progress>(server, 'reembed.progress', { collection: 'notes' }))!;
      if (progress.state === 'done') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    } while (Date.now() < finishedAt);
    expect(progress).toMatchObject({ state: 'done', total: 701, done: 701 });
    // The restarted process finished the job the killed one began.
    await server.waitForLog((record) => record.msg === 're-embed switched', 1_000);
    // Committed batches are never embedded again: the batch cut off by SIGKILL and the two late
    // writes are the only extra calls.
    expect(progress.embedded).toBeGreaterThanOrEqual(701);
    expect(progress.embedded).toBeLessThanOrEqual(702);

    const collection = await call<{
      embeddingModel: string;
      dimensions: number;
      index: { valid: boolean } | null;
    }>(server, 'collections.get', { name: 'notes' });
    expect(collection).toMatchObject({
      embeddingModel: 'openai-compatible/slow-64',
      dimensions: NEW_DIMENSIONS,
      index: { valid: true },
    });
    // Every document has exactly the new model's vector of its current content.
    let cursor: string | undefined;
    let checked = 0;
    do {
      const page = await call<{
        items: Array<{ id: string }>;
        nextCursor: string | null;
      }>(server, 'documents.list', {
        collection: 'notes',
        limit: 200,
        ...(cursor ? { cursor } : {}),
      });
      for (const item of page.items) {
        const doc = await call<{ content: string; embedding: number[] }>(server, 'documents.get', {
          collection: 'notes',
          id: item.id,
          includeEmbedding: true,
        });
        expect(doc.embedding, doc.content).toEqual(newModelVector(doc.content));
        checked++;
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(checked).toBe(701);
    const after = await call<{ results: Array<{ content: string }> }>(server, 'search.query', {
      collection: 'notes',
      text: 'note 0 rewritten: the lake',
      k: 1,
    });
    expect(after.results[0]?.content).toBe('note 0 rewritten: the lake');
  });

  it('quarry reembed starts a job against the server and prints its progress to the end', async () => {
    await call(server!, 'collections.create', {
      name: 'small',
      dimensions: 100,
      embeddingModel: 'quarry/wink-sg-100d',
    });
    await call(server!, 'documents.ingest', {
      collection: 'small',
      documents: contents.slice(0, 20).map((content) => ({ content })),
    });
    const run = await runCli(
      [
        'reembed',
        'small',
        '--provider',
        'openai-compatible',
        '--model',
        'slow-64',
        '--dimensions',
        String(NEW_DIMENSIONS),
        '--url',
        server!.url.toString(),
      ],
      {},
    );
    expect(run.stderr + run.stdout).toMatch(/20\/20/);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/switched 'small' to openai-compatible\/slow-64 \(64 dimensions\)/);
  });
});
