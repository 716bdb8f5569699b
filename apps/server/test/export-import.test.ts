import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeOnPostgres,
  postgresUrl,
  runCli,
  scratchDir,
  scratchPostgres,
  startServer,
  type ServerProcess,
} from './harness';

const keys = { admin: 'export-admin-key-0123456789', acme: 'export-acme-key-0123456789' };
const apiKeys = JSON.stringify([
  { key: keys.admin, name: 'admin', scopes: ['read', 'write', 'admin'] },
  { key: keys.acme, name: 'acme', scopes: ['read', 'write'], tenant: 'acme' },
]);

/** Components that need every bit of float32: a JSON round trip through float64 text must not touch them. */
function vectorFor(n: number): number[] {
  return Array.from({ length: 8 }, (_, i) => Math.fround(Math.sin(n * 7.31 + i) * (1 + n / 3)));
}

async function call<T>(server: ServerProcess, procedure: string, input: unknown): Promise<T> {
  const response = await fetch(new URL(`/trpc/${procedure}`, server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.admin}` },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as { result?: { data: T }; error?: { message: string } };
  if (!body.result) throw new Error(`${procedure}: ${response.status} ${body.error?.message}`);
  return body.result.data;
}

interface Line {
  id?: string;
  tenant?: string;
  externalId?: string;
  content: string;
  metadata: Record<string, unknown>;
  embedding: number[] | string | null;
  createdAt?: string;
  updatedAt?: string;
}

interface Settings {
  name: string;
  dimensions: number;
  metric: string;
  embeddingModel: string;
  hnsw: { m: number; efConstruction: number };
  textSearchConfig: string;
}

const records = (text: string) =>
  text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Line | { collection: Settings });

/** An export's documents: every line but the first, the collection's settings. */
const parse = (text: string): Line[] => {
  const [first, ...rest] = records(text);
  expect(first).toHaveProperty('collection');
  return rest as Line[];
};

/** What a round trip keeps: everything but the document ids and timestamps, in a stable order. */
const kept = (lines: Line[]) =>
  lines
    .map(({ tenant, externalId, content, metadata, embedding }) => ({
      tenant,
      externalId,
      content,
      metadata,
      embedding,
    }))
    .sort((a, b) => (`${a.tenant}\u0000${a.content}` < `${b.tenant}\u0000${b.content}` ? -1 : 1));

describeOnPostgres('export and import on the real server and the embedded database', () => {
  let database: Awaited<ReturnType<typeof scratchPostgres>>;
  let server: ServerProcess;
  const files = scratchDir('quarry-export');
  const cli = (args: string[]) =>
    runCli([...args, '--url', server.url.toString(), '--api-key', keys.admin]);
  const documents = Array.from({ length: 1_234 }, (_, n) => ({
    tenant: n % 3 === 0 ? 'acme' : 'default',
    content: `document ${n}: ${'words '.repeat(n % 17)}`,
    metadata: { n, party: n % 2 === 0 ? 'Democratic' : 'Republican', tags: [`t${n % 5}`] },
    embedding: vectorFor(n),
    ...(n % 4 === 0 ? {} : { externalId: `ext-${n}` }),
  }));

  beforeAll(async () => {
    database = await scratchPostgres(postgresUrl!);
    server = await startServer({ DATABASE_URL: database.url, QUARRY_API_KEYS: apiKeys });
    await server.waitForReady();
    await call(server, 'collections.create', {
      name: 'source',
      dimensions: 8,
      embeddingModel: 'external/8',
    });
    for (const tenant of ['acme', 'default']) {
      const mine = documents.filter((doc) => doc.tenant === tenant);
      for (let start = 0; start < mine.length; start += 400) {
        await call(server, 'documents.ingest', {
          collection: 'source',
          tenant,
          documents: mine.slice(start, start + 400).map(({ tenant: _tenant, ...doc }) => doc),
        });
      }
    }
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
    files.remove();
  });

  it('round-trips a collection through quarry export and import: count, contents, vectors bit for bit, external ids', async () => {
    const out = join(files.path, 'source.ndjson');
    const exported = await cli(['export', 'source', '--vectors', 'base64', '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/exported 1234 documents of 'source'/);
    const lines = parse(readFileSync(out, 'utf8'));
    expect(lines).toHaveLength(1_234);
    const byContent = new Map(documents.map((doc) => [doc.content, doc]));
    for (const line of lines) {
      const original = byContent.get(line.content)!;
      expect(line.tenant).toBe(original.tenant);
      expect(line.externalId).toBe(original.externalId);
      const bytes = Buffer.from(line.embedding as string, 'base64');
      expect(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, 8))).toEqual(
        original.embedding,
      );
    }

    expect(
      (await cli(['collections', 'create', 'copy', '--dimensions', '8', '--model', 'external/8']))
        .code,
    ).toBe(0);
    const imported = await cli(['import', 'copy', out]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/imported 1234 documents into 'copy': 1234 inserted/);
    const again = await cli(['export', 'copy', '--vectors', 'base64']);
    expect(again.code, again.stderr).toBe(0);
    const copied = parse(again.stdout);
    expect(copied).toHaveLength(1_234);
    expect(kept(copied)).toEqual(kept(lines));
    // Document ids and timestamps are the new collection's own (an ingest sets them).
    expect(copied.map((line) => line.id)).not.toContain(lines[0]!.id);
  }, 300_000);

  it('streams over HTTP with JSON vectors and a search filter, and a tenant-bound key gets only its tenant', async () => {
    const url = new URL('/api/collections/source/export', server.url);
    url.searchParams.set('filter', JSON.stringify({ key: 'party', op: 'eq', value: 'Democratic' }));
    const response = await fetch(url, { headers: { authorization: `Bearer ${keys.admin}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = parse(await response.text());
    expect(lines).toHaveLength(
      documents.filter((doc) => doc.metadata.party === 'Democratic').length,
    );
    for (const line of lines) {
      expect(line.metadata.party).toBe('Democratic');
      expect(line.embedding).toEqual(vectorFor(line.metadata.n as number));
    }

    const acme = await fetch(new URL('/api/collections/source/export', server.url), {
      headers: { authorization: `Bearer ${keys.acme}` },
    });
    const acmeLines = parse(await acme.text());
    expect(acmeLines).toHaveLength(documents.filter((doc) => doc.tenant === 'acme').length);
    expect(new Set(acmeLines.map((line) => line.tenant))).toEqual(new Set(['acme']));

    const other = await fetch(
      new URL('/api/collections/source/export?tenant=default', server.url),
      { headers: { authorization: `Bearer ${keys.acme}` } },
    );
    expect(other.status).toBe(403);
    expect(await other.text()).not.toMatch(/document/);
    const anonymous = await fetch(new URL('/api/collections/source/export', server.url));
    expect(anonymous.status).toBe(401);
    const badFilter = await fetch(
      new URL('/api/collections/source/export?filter={"key":"n","op":"near"}', server.url),
      { headers: { authorization: `Bearer ${keys.admin}` } },
    );
    expect(badFilter.status).toBe(400);
    const missing = await fetch(new URL('/api/collections/nope/export', server.url), {
      headers: { authorization: `Bearer ${keys.admin}` },
    });
    expect(missing.status).toBe(404);
  });

  it('moves a collection from the embedded database to PostgreSQL', async () => {
    const dataDir = join(files.path, 'embedded');
    const local = (args: string[]) => runCli([...args, '--data-dir', dataDir]);
    const seed = join(files.path, 'seed.ndjson');
    writeFileSync(
      seed,
      documents
        .slice(0, 300)
        .map((doc) => JSON.stringify(doc))
        .join('\n'),
    );
    const created = await local([
      'collections',
      'create',
      'lite',
      '--dimensions',
      '8',
      '--model',
      'external/8',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const filled = await local(['import', 'lite', seed]);
    expect(filled.code, filled.stderr).toBe(0);
    const fromLite = await local(['export', 'lite']);
    expect(fromLite.code, fromLite.stderr).toBe(0);
    const liteLines = parse(fromLite.stdout);
    expect(liteLines).toHaveLength(300);
    const moved = join(files.path, 'lite.ndjson');
    writeFileSync(moved, fromLite.stdout);

    await cli(['collections', 'create', 'from-lite', '--dimensions', '8', '--model', 'external/8']);
    const imported = await cli(['import', 'from-lite', moved]);
    expect(imported.code, imported.stderr).toBe(0);
    const onServer = await cli(['export', 'from-lite']);
    expect(kept(parse(onServer.stdout))).toEqual(kept(liteLines));
    expect(kept(liteLines)).toEqual(kept(documents.slice(0, 300).map((doc): Line => ({ ...doc }))));
    // Seven CLI runs, each opening the embedded database or the server afresh: slow on a busy machine.
  }, 400_000);

  it("imports into a collection that does not exist with the export's settings: a simple collection stays simple and finds the same stop words", async () => {
    await call(server, 'collections.create', {
      name: 'plain',
      dimensions: 8,
      embeddingModel: 'external/8',
      metric: 'l2',
      hnsw: { m: 8, efConstruction: 32 },
      textSearchConfig: 'simple',
    });
    const contents = ['the tide turns', 'a ship at anchor', 'to the harbour and back', 'ropes'];
    await call(server, 'documents.ingest', {
      collection: 'plain',
      documents: contents.map((content, n) => ({ content, embedding: vectorFor(n) })),
    });
    const out = join(files.path, 'plain.ndjson');
    const exported = await cli(['export', 'plain', '--out', out]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/exported 4 documents of 'plain'/);
    const [header] = records(readFileSync(out, 'utf8'));
    expect(header).toEqual({
      collection: {
        name: 'plain',
        dimensions: 8,
        metric: 'l2',
        embeddingModel: 'external/8',
        hnsw: { m: 8, efConstruction: 32 },
        textSearchConfig: 'simple',
      },
    });

    const imported = await cli(['import', 'plain-copy', out]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toMatch(
      /created collection 'plain-copy' with the export's settings: 8 dimensions, l2, model external\/8, keywords simple/,
    );
    expect(imported.stdout).toMatch(/imported 4 documents into 'plain-copy': 4 inserted/);
    const copy = await call<Settings>(server, 'collections.get', { name: 'plain-copy' });
    expect(copy).toMatchObject({
      ...(header as { collection: Settings }).collection,
      name: 'plain-copy',
    });

    const found = async (collection: string, text: string) =>
      (
        await call<{ results: Array<{ content: string }> }>(server, 'search.query', {
          collection,
          mode: 'keyword',
          text,
          k: 10,
        })
      ).results
        .map((result) => result.content)
        .sort();
    // 'the' is an English stop word: only a simple collection's keyword index holds it.
    expect(await found('plain', 'the')).toEqual(['the tide turns', 'to the harbour and back']);
    expect(await found('plain-copy', 'the')).toEqual(await found('plain', 'the'));
  }, 300_000);

  it("imports into an existing collection with its own settings, naming the export's that differ", async () => {
    const out = join(files.path, 'plain.ndjson');
    await call(server, 'collections.create', {
      name: 'english-copy',
      dimensions: 8,
      embeddingModel: 'external/8',
    });
    const imported = await cli(['import', 'english-copy', out]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain(
      "collection 'english-copy' keeps its own settings; the export's differ: metric l2 (here cosine); hnsw m 8, ef_construction 32 (here m 16, ef_construction 64); textSearchConfig simple (here english)",
    );
    expect(imported.stdout).toMatch(/imported 4 documents into 'english-copy': 4 inserted/);
    expect(
      (await call<Settings>(server, 'collections.get', { name: 'english-copy' })).textSearchConfig,
    ).toBe('english');
  }, 300_000);
});
