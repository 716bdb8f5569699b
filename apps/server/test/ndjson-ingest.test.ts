import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQuarryClient } from '@quarry/client';
import { decodeBase64Vector, parseBase64Line, readLines } from '../src/http/ndjson-ingest';
import {
  apiKeysEnv,
  keys,
  postgresUrl,
  scratchDir,
  scratchPostgres,
  startServer,
  type ServerProcess,
} from './harness';

const DIMENSIONS = 4;

interface Answer {
  status: number;
  lines: Array<Record<string, Record<string, unknown>>>;
}

/** Components a float32 holds exactly, so JSON and base64 describe the same vector. */
function vectorFor(seed: number): number[] {
  return Array.from({ length: DIMENSIONS }, (_, i) => Math.fround(Math.sin(seed * 7 + i) / 3));
}

function base64Of(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  return bytes.toString('base64');
}

const line = (n: number, extra: Record<string, unknown> = {}) =>
  `${JSON.stringify({ content: `document ${n}`, externalId: `doc-${n}`, embedding: vectorFor(n), ...extra })}\n`;

function lines(from: number, to: number): string {
  let text = '';
  for (let n = from; n <= to; n++) text += line(n);
  return text;
}

/** Reads an NDJSON answer line by line, calling `onLine` as each arrives. */
function readAnswer(
  response: IncomingMessage,
  onLine: (line: Record<string, Record<string, unknown>>) => void = () => {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const parsed: Answer['lines'] = [];
    let buffered = '';
    response.setEncoding('utf8');
    response.on('data', (text: string) => {
      buffered += text;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const value = JSON.parse(buffered.slice(0, newline)) as Answer['lines'][number];
        buffered = buffered.slice(newline + 1);
        parsed.push(value);
        onLine(value);
      }
    });
    response.on('end', () => resolve({ status: response.statusCode ?? 0, lines: parsed }));
    response.on('error', reject);
  });
}

function open(
  server: ServerProcess,
  collection: string,
  query: Record<string, string>,
  options: { key?: string; contentType?: string } = {},
): { request: ClientRequest; response: Promise<IncomingMessage> } {
  const url = new URL(`/api/collections/${collection}/ingest`, server.url);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  const request = httpRequest(url, {
    method: 'POST',
    headers: {
      'content-type': options.contentType ?? 'application/x-ndjson',
      ...(options.key === undefined ? {} : { authorization: `Bearer ${options.key}` }),
    },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  return { request, response };
}

async function ingest(
  server: ServerProcess,
  collection: string,
  body: string,
  query: Record<string, string> = {},
  options: { key?: string; contentType?: string } = { key: keys.writer },
): Promise<Answer> {
  const { request, response } = open(server, collection, query, options);
  request.end(body);
  return readAnswer(await response);
}

for (const target of ['pglite', 'postgres'] as const) {
  const run = target === 'postgres' && !postgresUrl ? describe.skip : describe;
  run(`streaming NDJSON ingest on ${target}`, () => {
    let server: ServerProcess;
    let cleanup: () => Promise<void> = async () => {};
    let collectionNumber = 0;

    beforeAll(async () => {
      let env: Record<string, string>;
      if (target === 'postgres') {
        const database = await scratchPostgres(postgresUrl ?? '');
        env = { DATABASE_URL: database.url };
        cleanup = () => database.drop();
      } else {
        const data = scratchDir('quarry-ndjson');
        env = { QUARRY_DATA_DIR: join(data.path, 'db') };
        cleanup = () => Promise.resolve(data.remove());
      }
      server = await startServer({ ...env, QUARRY_API_KEYS: apiKeysEnv });
      await server.waitForReady();
    });

    afterAll(async () => {
      await server?.stop();
      await cleanup();
    });

    const admin = () => createQuarryClient({ url: server.url, apiKey: keys.admin });
    async function newCollection(): Promise<string> {
      const name = `stream-${++collectionNumber}`;
      await admin().collections.create.mutate({
        name,
        dimensions: DIMENSIONS,
        embeddingModel: 'external/test-4d',
      });
      return name;
    }
    const countIn = async (collection: string) =>
      (await admin().documents.count.query({ collection })).count;

    it('commits in chunks and reports each boundary, then the totals', async () => {
      const collection = await newCollection();
      const answer = await ingest(server, collection, lines(1, 10), { chunk: '4' });
      expect(answer.status).toBe(200);
      const committed = answer.lines.flatMap((l) => (l.committed ? [l.committed] : []));
      expect(committed.map((c) => [c.throughLine, c.documents, c.inserted])).toEqual([
        [4, 4, 4],
        [8, 4, 4],
        [10, 2, 2],
      ]);
      const done = answer.lines.at(-1)?.done;
      expect(done).toMatchObject({
        complete: true,
        throughLine: 10,
        documents: 10,
        inserted: 10,
        updated: 0,
        unchanged: 0,
        chunks: 3,
        // A new collection's index is built once, after the load.
        index: { action: 'deferred-rebuilt' },
      });
      expect(done?.ms).toMatchObject({
        load: expect.any(Number),
        untilSearchable: expect.any(Number),
      });
      expect(await countIn(collection)).toBe(10);

      // The same lines again change nothing; a changed one is an update.
      const again = await ingest(
        server,
        collection,
        lines(1, 3) + line(4, { metadata: { kind: 'changed' } }),
        { chunk: '4' },
      );
      expect(again.lines.at(-1)?.done).toMatchObject({ inserted: 0, unchanged: 3, updated: 1 });
    });

    it('a load into an empty collection that sends earlier chunks again counts them unchanged or updated', async () => {
      const collection = await newCollection();
      let changed = '';
      for (let n = 21; n <= 40; n++) changed += line(n, { metadata: { kind: 'changed' } });
      // Chunks of 40 are written by COPY; the second one's keys are all stored by the first.
      const answer = await ingest(
        server,
        collection,
        lines(1, 40) + lines(1, 20) + changed + lines(41, 80),
        {
          chunk: '40',
        },
      );
      const committed = answer.lines.flatMap((l) => (l.committed ? [l.committed] : []));
      expect(committed.map((c) => [c.throughLine, c.inserted, c.updated, c.unchanged])).toEqual([
        [40, 40, 0, 0],
        [80, 0, 20, 20],
        [120, 40, 0, 0],
      ]);
      expect(answer.lines.at(-1)?.done).toMatchObject({ complete: true, inserted: 80 });
      expect(await countIn(collection)).toBe(80);
    });

    it('a bad line in chunk 3 leaves chunks 1 and 2 stored and names the line and field', async () => {
      const collection = await newCollection();
      const body = lines(1, 9) + line(10, { embedding: [1, 2, 3] }) + lines(11, 14);
      const answer = await ingest(server, collection, body, { chunk: '4' });
      expect(answer.status).toBe(200);
      const committed = answer.lines.flatMap((l) => (l.committed ? [l.committed.throughLine] : []));
      expect(committed).toEqual([4, 8]);
      const error = answer.lines.find((l) => l.error)?.error;
      expect(error).toMatchObject({ line: 10, field: 'embedding', status: 400 });
      expect(String(error?.message)).toMatch(/line 10: .*expects 4 dimensions, got 3/);
      expect(answer.lines.at(-1)?.done).toMatchObject({ complete: false, throughLine: 8 });
      expect(await countIn(collection)).toBe(8);
    });

    it('refuses an unknown field by name, and nothing of its chunk is written', async () => {
      const collection = await newCollection();
      const body = lines(1, 2) + `${JSON.stringify({ content: 'x', id: 'legacy' })}\n`;
      const answer = await ingest(server, collection, body, { chunk: '4' });
      expect(answer.lines.find((l) => l.error)?.error).toMatchObject({ line: 3, field: 'id' });
      expect(await countIn(collection)).toBe(0);
    });

    it('a client cut off mid-chunk resumes after the last reported line', async () => {
      const collection = await newCollection();
      const { request, response } = open(server, collection, { chunk: '4' }, { key: keys.writer });
      // Two chunks, then a line and a half of the third: the body is still open when they commit,
      // so the server cannot be waiting for the whole body.
      request.write(lines(1, 8));
      const answered = await response;
      let reachedEight!: () => void;
      const eight = new Promise<void>((resolve) => (reachedEight = resolve));
      const seen: number[] = [];
      const reading = readAnswer(answered, (l) => {
        if (!l.committed) return;
        seen.push(Number(l.committed.throughLine));
        if (l.committed.throughLine === 8) reachedEight();
      }).catch(() => undefined);
      await eight;
      request.write(line(9) + line(10).slice(0, 20));
      request.destroy();
      await reading;
      expect(seen).toEqual([4, 8]);
      expect(await countIn(collection)).toBe(8);

      const resumed = await ingest(server, collection, lines(9, 12), {
        chunk: '4',
        firstLine: '9',
      });
      expect(resumed.lines.map((l) => Object.keys(l)[0])).toEqual(['committed', 'done']);
      expect(resumed.lines[0]?.committed).toMatchObject({ throughLine: 12, inserted: 4 });
      expect(await countIn(collection)).toBe(12);
    });

    it('stores a base64 float32 vector bit for bit like the same vector as a JSON array', async () => {
      const collection = await newCollection();
      const vector = [
        Math.fround(0.1),
        Math.fround(-2.5e-8),
        Math.fround(3.0e38),
        Math.fround(1 / 3),
      ];
      const body =
        `${JSON.stringify({ content: 'as json', externalId: 'json', embedding: vector })}\n` +
        `${JSON.stringify({ content: 'as base64', externalId: 'b64', embedding: base64Of(vector) })}\n`;
      const answer = await ingest(server, collection, body);
      expect(answer.lines.at(-1)?.done).toMatchObject({ complete: true, inserted: 2 });
      const listed = await admin().documents.list.query({ collection });
      const byId = new Map<string | null, number[] | null>();
      for (const { id, externalId } of listed.items) {
        const stored = await admin().documents.get.query({
          collection,
          id,
          includeEmbedding: true,
        });
        byId.set(externalId, stored.embedding);
      }
      expect(byId.get('b64')).toEqual(byId.get('json'));
      expect(byId.get('json')).toEqual(vector);
    });

    it('refuses a base64 vector with a NaN, or of the wrong length, naming the line', async () => {
      const collection = await newCollection();
      const nan = base64Of([1, Number.NaN, 0, 0]);
      const answer = await ingest(
        server,
        collection,
        `${JSON.stringify({ content: 'a', embedding: nan })}\n`,
      );
      expect(answer.lines[0]?.error).toMatchObject({ line: 1, status: 400 });
      expect(answer.lines[0]?.error?.field).toMatch(/^embedding/);
      const short = await ingest(
        server,
        collection,
        `${JSON.stringify({ content: 'a', embedding: base64Of([1, 2, 3]) })}\n`,
      );
      expect(short.lines[0]?.error).toMatchObject({ line: 1, field: 'embedding' });
      const odd = await ingest(
        server,
        collection,
        `${JSON.stringify({ content: 'a', embedding: 'AAAA' + 'AA==' })}\n`,
      );
      expect(odd.lines[0]?.error).toMatchObject({ line: 1, field: 'embedding' });
      expect(await countIn(collection)).toBe(0);
    });

    it('asks for a write key as documents.ingest does, before reading the body', async () => {
      const collection = await newCollection();
      const anonymous = await ingest(server, collection, lines(1, 1), {}, {});
      expect(anonymous.status).toBe(401);
      expect(anonymous.lines[0]?.error).toMatchObject({ quarryCode: 'UNAUTHORIZED' });
      const reader = await ingest(server, collection, lines(1, 1), {}, { key: keys.reader });
      expect(reader.status).toBe(403);
      const missing = await ingest(server, 'no-such-collection', lines(1, 1));
      expect(missing.status).toBe(404);
      const json = await ingest(
        server,
        collection,
        lines(1, 1),
        {},
        {
          key: keys.writer,
          contentType: 'application/json',
        },
      );
      expect(json.status).toBe(415);
      expect(await countIn(collection)).toBe(0);
    });
  });
}

describe('reading the body', () => {
  it('pulls from the request only as lines are consumed (a large body is never buffered)', async () => {
    let produced = 0;
    const line = Buffer.from(`${JSON.stringify({ content: 'x'.repeat(64 * 1024) })}\n`);
    function* body() {
      for (let i = 0; i < 10_000; i++) {
        produced++;
        yield line;
      }
    }
    const reader = readLines(
      Readable.from(body()),
      { maxLineBytes: 1024 * 1024, idleTimeoutMs: 5_000, firstLine: 1 },
      { bytes: 0 },
    );
    const first = await reader.next();
    const second = await reader.next();
    expect(first.done ? undefined : first.value.number).toBe(1);
    expect(second.done ? undefined : second.value.number).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // What a stream reads ahead (its high-water mark) and no more: 640 MB would be 10,000.
    expect(produced).toBeLessThan(40);
    await reader.return(undefined);
  });

  it('refuses a line longer than the limit without waiting for its end', async () => {
    function* endless() {
      for (;;) yield Buffer.alloc(1024, 'a');
    }
    const reader = readLines(
      Readable.from(endless()),
      { maxLineBytes: 10_000, idleTimeoutMs: 5_000, firstLine: 7 },
      { bytes: 0 },
    );
    await expect(reader.next()).rejects.toThrow(/line 7 is longer than 10000 bytes/);
  });
});

describe('base64 vectors', () => {
  it('decodes little-endian float32 components exactly', () => {
    const vector = [0.5, -1.25, 3, 1e-7];
    expect(Array.from(decodeBase64Vector(base64Of(vector)))).toEqual(vector.map(Math.fround));
  });

  it('refuses text with characters outside the alphabet, which the decoder would skip', () => {
    const valid = base64Of([1, 2, 3, 4]);
    for (const text of [
      `${valid.slice(0, 8)} ${valid.slice(9)}`,
      `*${valid.slice(1)}`,
      `${valid}AAAA`.slice(0, -1),
    ])
      expect(() => decodeBase64Vector(text), text).toThrow(/base64 of little-endian float32/);
  });
});

describe('lines with a base64 vector', () => {
  const vector = [0.5, -1.25, 3, 1e-7];
  const embedding = base64Of(vector);
  const read = (text: string) => {
    const fields = parseBase64Line(Buffer.from(text));
    return fields && { ...fields, embedding: Array.from(fields.embedding as Float32Array) };
  };
  const expected = (text: string) => ({
    ...(JSON.parse(text) as Record<string, unknown>),
    embedding: vector.map(Math.fround),
  });

  it('reads the other fields as JSON.parse does, wherever the vector stands', () => {
    for (const text of [
      `{"content":"a","externalId":"x","embedding":"${embedding}"}`,
      `{"embedding":"${embedding}","content":"a"}`,
      `{"content":"a", "embedding":"${embedding}" ,"metadata":{"k":[1,{"n":"}"}]}}`,
      `{"embedding":"${embedding}"}`,
      ` {"embedding":"${embedding}","content":"a"}`,
      `{"content":"a","embedding":"${embedding}"} `,
      // The key's text inside a string, and a nested key of the same name, are not the vector.
      `{"content":"say \\"embedding\\":\\"x","metadata":{"embedding":"no"},"embedding":"${embedding}"}`,
    ])
      expect(read(text), text).toEqual(expected(text));
  });

  it('leaves to JSON.parse what it does not take as it is', () => {
    for (const text of [
      `{"content":"a","embedding":[1,2]}`,
      `{"metadata":{"embedding":"${embedding}"}}`,
      `{"embedding":"${embedding}","embedding":"${embedding}"}`,
      `{"embedding":"${embedding.slice(0, 4)}\\/${embedding.slice(4)}"}`,
      `{"embedding" : "${embedding}"}`,
      `{,"embedding":"${embedding}"}`,
      `{"embedding":"${embedding}",}`,
      `{"a":1 "embedding":"${embedding}"}`,
      `{"a":1,"embedding":"${embedding}" "b":2}`,
      `{"a":1,"embedding":"${embedding.slice(1)}"}`,
      // Last (or first) in an object that is not the line's, or the key's text ending a key.
      `{"m":{"a":1,"embedding":"${embedding}"}`,
      `{"m":{"a":1,"embedding":"${embedding}"}} `,
      `{"x\\"embedding":"${embedding}"}`,
      `[{"embedding":"${embedding}","a":1}]`,
    ])
      expect(read(text), text).toBeUndefined();
  });
});
