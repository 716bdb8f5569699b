import { HARD_LIMITS } from '@quarry/api';
import { hostileFilterArb, hostileQueryTextArb, seededMetadata } from '@quarry/api/testing';
import { matchesFilter, type MetadataFilter } from '@quarry/api/filter';
import { fingerprintSql } from '@quarry/db/testing';
import fc from 'fast-check';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  keys,
  postgresUrl,
  scratchPostgres,
  startServer,
  type ServerProcess,
} from '../test/harness';
import { recordTrial } from './report';
import { reliabilitySetting } from './workload';

/**
 * Hostile input over real HTTP against the real server on the real PostgreSQL: fast-check runs of
 * filters, vectors, query text and batches, and hand-made malformed requests. Every response must
 * be a 4xx in the tRPC error shape or a correct answer, never a 5xx; a refused request must leave
 * the database (read directly with postgres.js) exactly as it was. The fast version of the
 * properties runs in packages/api/test/hostile.properties.test.ts.
 */

const RUNS = reliabilitySetting('HOSTILE_RUNS', 300);
const SUITE = 'Hostile input';
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_INGEST_BATCH = 100;
const MAX_BATCH_CALLS = 50;
const TENANT_KEY = 'tenant-acme-key-0123456789abcdef';

interface Reply {
  status: number;
  body: unknown;
  text: string;
}

/** A tRPC error envelope: `{ error: { message, code, data: { code, httpStatus } } }`, one per call in a batch. */
function isErrorEnvelope(value: unknown, status: number): boolean {
  const error = (
    value as {
      error?: {
        message?: unknown;
        code?: unknown;
        data?: { code?: unknown; httpStatus?: unknown };
      };
    } | null
  )?.error;
  return (
    typeof error?.message === 'string' &&
    typeof error.code === 'number' &&
    typeof error.data?.code === 'string' &&
    error.data.httpStatus === status
  );
}

describe.skipIf(!postgresUrl)('hostile input over HTTP against the real server', () => {
  let scratch: Awaited<ReturnType<typeof scratchPostgres>>;
  let server: ServerProcess;
  let sql: postgres.Sql;
  let seededIds: string[] = [];

  async function send(
    path: string,
    init: RequestInit & { key?: string | null } = {},
  ): Promise<Reply> {
    const headers = new Headers(init.headers);
    if (init.key !== null) headers.set('authorization', `Bearer ${init.key ?? keys.admin}`);
    if (init.body !== undefined && !headers.has('content-type'))
      headers.set('content-type', 'application/json');
    const response = await fetch(new URL(path, server.url), { ...init, headers });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  }

  const call = (procedure: string, input: unknown, key = keys.admin) =>
    send(`/trpc/${procedure}`, { method: 'POST', body: JSON.stringify(input), key });

  async function fingerprint() {
    const [row] = await sql.unsafe(fingerprintSql);
    return row;
  }

  /**
   * The invariant of every hostile request: a 2xx answer (checked by the caller), or a 4xx in the
   * tRPC error shape that changed nothing. Returns the reply; throws on a 5xx, another shape, or a change.
   */
  async function hostile(request: () => Promise<Reply>): Promise<Reply> {
    const before = await fingerprint();
    const reply = await request();
    if (reply.status >= 200 && reply.status < 300) return reply;
    if (reply.status < 400 || reply.status >= 500)
      throw new Error(`status ${reply.status}: ${reply.text.slice(0, 300)}`);
    const envelopes = Array.isArray(reply.body) ? reply.body : [reply.body];
    if (!envelopes.every((envelope) => isErrorEnvelope(envelope, reply.status)))
      throw new Error(`${reply.status} without a tRPC error shape: ${reply.text.slice(0, 300)}`);
    expect(await fingerprint()).toEqual(before);
    return reply;
  }

  const data = <T>(reply: Reply) => (reply.body as { result: { data: T } }).result.data;
  const accepted = (reply: Reply) => reply.status === 200;

  /** Runs a property `RUNS` times, records the trial with real counts (shrinking runs included), and fails on a counterexample. */
  async function property<T>(
    scenario: string,
    arbitrary: fc.Arbitrary<T>,
    predicate: (value: T) => Promise<void>,
    runs = RUNS,
  ) {
    let attempts = 0;
    let survived = 0;
    const started = performance.now();
    const details = await fc.check(
      fc.asyncProperty(arbitrary, async (value) => {
        attempts++;
        await predicate(value);
        survived++;
      }),
      { numRuns: runs },
    );
    const notes = details.failed
      ? [
          `${String(details.errorInstance).slice(0, 300)}; counterexample after ${details.numRuns} runs and ${details.numShrinks} shrinks: ${JSON.stringify(details.counterexample)?.slice(0, 300)}`,
        ]
      : [];
    recordTrial({
      suite: SUITE,
      scenario,
      attempts,
      survived,
      metrics: {
        'runs asked': runs,
        seconds: Math.round((performance.now() - started) / 100) / 10,
      },
      notes,
    });
    if (details.failed) throw new Error(notes[0]);
  }

  beforeAll(async () => {
    scratch = await scratchPostgres(postgresUrl ?? '');
    sql = postgres(scratch.url, { max: 2, onnotice: () => {} });
    server = await startServer({
      DATABASE_URL: scratch.url,
      QUARRY_API_KEYS: JSON.stringify([
        { key: keys.admin, name: 'admin', scopes: ['read', 'write', 'admin'] },
        { key: TENANT_KEY, name: 'acme', scopes: ['read', 'write'], tenant: 'acme' },
      ]),
      QUARRY_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      QUARRY_MAX_INGEST_BATCH: String(MAX_INGEST_BATCH),
      QUARRY_MAX_BATCH_CALLS: String(MAX_BATCH_CALLS),
    });
    await server.waitForReady();
    for (const [name, dimensions] of [
      ['small', 3],
      ['wide', 2001],
      ['filtered', 2],
      ['batches', 2],
    ] as const) {
      expect(
        (
          await call('collections.create', {
            name,
            dimensions,
            metric: name === 'wide' ? 'l2' : 'cosine',
            embeddingModel: 'external',
          })
        ).status,
      ).toBe(200);
    }
    const ingested = await call('documents.ingest', {
      collection: 'filtered',
      tenant: 'acme',
      documents: seededMetadata.map((metadata, i) => ({
        content: `plan number ${i}`,
        metadata,
        embedding: [1, i],
      })),
    });
    seededIds = data<{ ids: string[] }>(ingested).ids;
    await call('documents.ingest', {
      collection: 'filtered',
      tenant: 'globex',
      documents: seededMetadata.map((metadata, i) => ({
        content: `globex plan ${i}`,
        metadata,
        embedding: [1, i],
      })),
    });
  });

  afterAll(async () => {
    await server?.stop();
    await sql?.end();
    await scratch?.drop();
  });

  it('filters from well-formed to garbage: a 4xx that changes nothing, or exactly the reference evaluator selection', async () => {
    const filter = hostileFilterArb({ overHttp: true });
    await property(
      'Filters from well-formed to garbage (count, list, search by a tenant key)',
      filter,
      async (candidate) => {
        let expected: boolean[] | undefined;
        try {
          expected = seededMetadata.map((metadata) =>
            matchesFilter(metadata, candidate as MetadataFilter),
          );
        } catch {
          expected = undefined;
        }
        const expectedIds = seededIds.filter((_, i) => expected?.[i]).sort();
        const count = await hostile(() =>
          call('documents.count', { collection: 'filtered', filter: candidate }, TENANT_KEY),
        );
        expect(accepted(count)).toBe(expected !== undefined);
        if (!accepted(count)) return;
        expect(data<{ count: number }>(count).count).toBe(expectedIds.length);
        const listed = await hostile(() =>
          call(
            'documents.list',
            { collection: 'filtered', filter: candidate, limit: 100 },
            TENANT_KEY,
          ),
        );
        expect(
          data<{ items: Array<{ id: string }> }>(listed)
            .items.map((item) => item.id)
            .sort(),
        ).toEqual(expectedIds);
        const search = await hostile(() =>
          call(
            'search.query',
            {
              collection: 'filtered',
              mode: 'hybrid',
              text: 'plan',
              vector: [1, 0],
              k: 50,
              exact: true,
              filter: candidate,
            },
            TENANT_KEY,
          ),
        );
        expect(
          data<{ results: Array<{ id: string }> }>(search)
            .results.map((r) => r.id)
            .sort(),
        ).toEqual(expectedIds);
      },
    );
  });

  it('vectors with non-finite, overflowing, wrongly and hugely sized components, as JSON text', async () => {
    // Number literals as the wire carries them: 1e400 parses to Infinity, NaN is not JSON at all.
    const literalArb = fc.oneof(
      { arbitrary: fc.double({ min: -10, max: 10, noNaN: true }).map(String), weight: 6 },
      {
        arbitrary: fc.constantFrom(
          '1e400',
          '-1e400',
          'NaN',
          'Infinity',
          'null',
          '"1"',
          '3.5e38',
          '3.4e38',
          '65504',
          '65505',
          '1e-400',
          '-0',
          '1e5',
          'true',
        ),
        weight: 2,
      },
    );
    const specArb = fc
      .constantFrom(['small', 3] as const, ['wide', 2001] as const)
      .chain(([collection, dimensions]) =>
        fc.record({
          collection: fc.constant(collection),
          dimensions: fc.constant(dimensions),
          length: fc.oneof(
            { arbitrary: fc.constant(dimensions), weight: 6 },
            {
              arbitrary: fc.constantFrom(
                0,
                1,
                dimensions - 1,
                dimensions + 1,
                HARD_LIMITS.vectorDimensions + 1,
                100_000,
              ),
              weight: 2,
            },
          ),
          overrides: fc.array(fc.tuple(fc.nat(), literalArb), { maxLength: 3 }),
        }),
      );
    await property(
      'Vectors as JSON text (non-finite, overflow, wrong and huge dimensions): ingest and search',
      specArb,
      async (spec) => {
        const components = new Array<string>(spec.length).fill('0.25');
        for (const [index, literal] of spec.overrides)
          if (spec.length > 0) components[index % spec.length] = literal;
        const values = components.map((literal) => {
          try {
            return JSON.parse(literal) as unknown;
          } catch {
            return undefined;
          }
        });
        const max = spec.dimensions > 2000 ? 65_504 : 3.4028234663852886e38;
        // 'small' uses cosine distance, which a vector that is zero in float32 does not have.
        const zero =
          spec.collection === 'small' &&
          values.every((x) => typeof x === 'number' && Math.fround(Math.fround(x) ** 2) === 0);
        const valid =
          spec.length === spec.dimensions &&
          values.every((x) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= max) &&
          !zero;
        const vector = `[${components.join(',')}]`;
        const search = await hostile(() =>
          send('/trpc/search.query', {
            method: 'POST',
            body: `{"collection":"${spec.collection}","k":3,"exact":true,"vector":${vector}}`,
          }),
        );
        expect(accepted(search)).toBe(valid);
        const ingest = await hostile(() =>
          send('/trpc/documents.ingest', {
            method: 'POST',
            body: `{"collection":"${spec.collection}","documents":[{"content":"vector","embedding":${vector}}]}`,
          }),
        );
        expect(accepted(ingest)).toBe(valid);
        if (accepted(ingest))
          await call('documents.delete', { collection: spec.collection, all: true });
      },
    );
  });

  it('keyword and hybrid text of any Unicode and operators, by a tenant key', async () => {
    const acmeIds = new Set(seededIds);
    await property(
      'Keyword and hybrid query text of any Unicode and operators (tenant key)',
      fc.tuple(hostileQueryTextArb, fc.constantFrom('keyword', 'hybrid')),
      async ([text, mode]) => {
        // JSON.stringify sends a lone surrogate as its \ud800 escape: the server sees it, and refuses it.
        const valid =
          text.length >= 1 &&
          text.length <= HARD_LIMITS.queryTextChars &&
          !text.includes('\u0000') &&
          !/\p{Surrogate}/u.test(text);
        const reply = await hostile(() =>
          call(
            'search.query',
            { collection: 'filtered', mode, text, vector: [1, 0], k: 20 },
            TENANT_KEY,
          ),
        );
        expect(accepted(reply)).toBe(valid);
        if (!accepted(reply)) return;
        for (const result of data<{ results: Array<{ id: string }> }>(reply).results)
          expect(acmeIds.has(result.id)).toBe(true);
      },
    );
  });

  it('batches of any size and content: refused whole with a 4xx, or all written', async () => {
    const itemArb = fc.record({
      content: fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom('', '\u0000', 'x'.repeat(20_000)),
      ),
      embedding: fc.oneof(
        { arbitrary: fc.constant([0.5, 0.5]), weight: 9 },
        { arbitrary: fc.constant([1]), weight: 1 },
      ),
    });
    const batchArb = fc.oneof(
      fc.array(itemArb, { minLength: 1, maxLength: 40 }),
      fc
        .integer({ min: MAX_INGEST_BATCH - 2, max: HARD_LIMITS.batchDocuments + 10 })
        .map((n) =>
          Array.from({ length: n }, (_, i) => ({ content: `bulk ${i}`, embedding: [0.5, 0.5] })),
        ),
    );
    await property(
      'Ingest batches of any size and content (up to 10,010 documents, 20,000-character contents)',
      batchArb,
      async (documents) => {
        const valid =
          documents.length <= MAX_INGEST_BATCH &&
          documents.every(
            (d) =>
              d.content.length > 0 && !d.content.includes('\u0000') && d.embedding.length === 2,
          );
        const before = (await fingerprint())?.documents as number;
        const reply = await hostile(() =>
          call('documents.ingest', { collection: 'batches', documents }),
        );
        expect(accepted(reply)).toBe(valid);
        if (!accepted(reply)) return;
        const distinct = new Set(documents.map((d) => d.content)).size;
        expect((await fingerprint())?.documents).toBe(before + distinct);
        await call('documents.delete', { collection: 'batches', all: true });
      },
      Math.max(20, Math.round(RUNS / 5)),
    );
  });

  it('malformed requests: bad JSON, wrong content types, oversized bodies, huge batches, deep nesting', async () => {
    const deepArray = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    const deepNot = (depth: number) =>
      `${'{"not":'.repeat(depth)}{"key":"kind","op":"exists"}${'}'.repeat(depth)}`;
    const ingestBody = (metadata: string) =>
      `{"collection":"batches","documents":[{"content":"deep","embedding":[1,0],"metadata":{"d":${metadata}}}]}`;
    const requests: Array<[string, () => Promise<Reply>]> = [
      [
        'truncated JSON',
        () =>
          send('/trpc/documents.ingest', {
            method: 'POST',
            body: '{"collection":"batches","documents":[{"content":"x"',
          }),
      ],
      [
        'not JSON',
        () => send('/trpc/documents.ingest', { method: 'POST', body: 'collection=batches' }),
      ],
      [
        'NaN literal',
        () =>
          send('/trpc/search.query', {
            method: 'POST',
            body: '{"collection":"small","vector":[NaN,1,1]}',
          }),
      ],
      [
        'invalid UTF-8',
        () =>
          send('/trpc/documents.ingest', {
            method: 'POST',
            body: Buffer.concat([
              Buffer.from('{"collection":"batches","documents":[{"content":"'),
              Buffer.from([0xff, 0xfe, 0xc3]),
              Buffer.from('","embedding":[1,0]}]}'),
            ]),
          }),
      ],
      [
        'a JSON array as input',
        () => send('/trpc/documents.count', { method: 'POST', body: '[1,2,3]' }),
      ],
      ['an empty body', () => send('/trpc/documents.ingest', { method: 'POST', body: '' })],
      [
        'text/plain',
        () =>
          send('/trpc/documents.ingest', {
            method: 'POST',
            body: '{"collection":"batches","documents":[{"content":"x","embedding":[1,0]}]}',
            headers: { 'content-type': 'text/plain' },
          }),
      ],
      [
        'multipart/form-data',
        () =>
          send('/trpc/documents.ingest', {
            method: 'POST',
            body: '--b\r\ncontent-disposition: form-data; name="x"\r\n\r\n1\r\n--b--',
            headers: { 'content-type': 'multipart/form-data; boundary=b' },
          }),
      ],
      [
        'form-urlencoded',
        () =>
          send('/trpc/documents.ingest', {
            method: 'POST',
            body: 'a=1',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
      ],
      [
        'body over the limit',
        () =>
          send('/trpc/documents.ingest', {
            method: 'POST',
            body: `{"collection":"batches","documents":[{"content":"${'x'.repeat(MAX_BODY_BYTES)}","embedding":[1,0]}]}`,
          }),
      ],
      [
        'chunked body over the limit',
        () =>
          send('/trpc/documents.ingest', {
            method: 'POST',
            body: new Blob([
              `{"collection":"batches","documents":[{"content":"${'y'.repeat(MAX_BODY_BYTES + 10)}"}]}`,
            ]).stream(),
            duplex: 'half',
          }),
      ],
      [
        'batch of 1,000 calls',
        () =>
          send(
            `/trpc/${Array.from({ length: 1_000 }, () => 'documents.count').join(',')}?batch=1`,
            {
              method: 'POST',
              body: JSON.stringify(
                Object.fromEntries(
                  Array.from({ length: 1_000 }, (_, i) => [i, { collection: 'batches' }]),
                ),
              ),
            },
          ),
      ],
      [
        'batch naming unknown procedures',
        () =>
          send('/trpc/documents.drop,collections.truncate?batch=1', { method: 'POST', body: '{}' }),
      ],
      ['unknown procedure', () => send('/trpc/documents.drop', { method: 'POST', body: '{}' })],
      [
        'query input not JSON',
        () => send('/trpc/documents.count?input=%7Bnope', { method: 'GET' }),
      ],
      [
        'mutation by GET',
        () =>
          send(
            `/trpc/documents.delete?input=${encodeURIComponent('{"collection":"batches","all":true}')}`,
            { method: 'GET' },
          ),
      ],
      [
        'PUT',
        () => send('/trpc/documents.count', { method: 'PUT', body: '{"collection":"batches"}' }),
      ],
      [
        'no API key',
        () =>
          send('/trpc/documents.delete', {
            method: 'POST',
            body: '{"collection":"batches","all":true}',
            key: null,
          }),
      ],
      [
        'ids array of 10,001 uuids',
        () =>
          call('documents.delete', {
            collection: 'batches',
            ids: Array.from(
              { length: HARD_LIMITS.batchDocuments + 1 },
              () => '00000000-0000-4000-8000-000000000000',
            ),
          }),
      ],
      [
        'filter nested 10,000 levels',
        () =>
          send('/trpc/documents.delete', {
            method: 'POST',
            body: `{"collection":"filtered","filter":${deepNot(10_000)}}`,
          }),
      ],
      [
        'filter nested 60,000 levels',
        () =>
          send('/trpc/documents.count', {
            method: 'POST',
            body: `{"collection":"filtered","filter":${deepNot(60_000)}}`,
          }),
      ],
      [
        'metadata nested 65 levels',
        () => send('/trpc/documents.ingest', { method: 'POST', body: ingestBody(deepArray(64)) }),
      ],
      [
        'metadata nested 100,000 levels',
        () =>
          send('/trpc/documents.ingest', { method: 'POST', body: ingestBody(deepArray(100_000)) }),
      ],
    ];
    const repetitions = Math.max(1, Math.round(RUNS / 100));
    const failures: string[] = [];
    let survived = 0;
    for (let round = 0; round < repetitions; round++) {
      for (const [name, request] of requests) {
        try {
          const reply = await hostile(request);
          if (accepted(reply)) throw new Error(`accepted: ${reply.text.slice(0, 200)}`);
          survived++;
        } catch (error) {
          failures.push(`${name}: ${(error as Error).message.slice(0, 300)}`);
        }
      }
    }
    expect(
      await call('documents.count', { collection: 'batches' }).then((reply) => reply.status),
    ).toBe(200);
    recordTrial({
      suite: SUITE,
      scenario: `Malformed HTTP requests (${requests.length} kinds × ${repetitions})`,
      attempts: requests.length * repetitions,
      survived,
      notes: [...new Set(failures)],
    });
    expect(failures).toEqual([]);
  });
});
