import type {
  AppRouter as ServerRouter,
  RouterInputs as ServerInputs,
  RouterOutputs as ServerOutputs,
} from '@quarry/api';
import type { TRPCClientError } from '@trpc/client';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import {
  createQuarryClient,
  quarryCodeOf,
  type QuarryClient,
  type QuarryClientError,
  type RouterInputs,
  type RouterOutputs,
} from '../src/index';

/** Records what the client sends and answers like a tRPC server would for `collections.list`. */
function recordingFetch() {
  const requests: Array<{ url: string; headers: Headers; method: string; body: string }> = [];
  const fetchImpl: typeof fetch = (input, init) => {
    // As fetch does: an aborted signal fails the call before anything is sent.
    if (init?.signal?.aborted) return Promise.reject(init.signal.reason as Error);
    const request = new Request(input, init);
    requests.push({
      url: request.url,
      headers: request.headers,
      method: request.method,
      body: typeof init?.body === 'string' ? init.body : '',
    });
    const url = new URL(request.url);
    const calls = url.pathname.replace(/^.*\/trpc\//, '').split(',');
    const answers = calls.map((call) => ({
      result: {
        data:
          call === 'documents.ingest' ? { inserted: 1, updated: 0, unchanged: 0, ids: ['x'] } : [],
      },
    }));
    // A batch is answered with an array, one call with its answer.
    const body = url.searchParams.get('batch') === '1' ? answers : answers[0];
    return Promise.resolve(
      new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } }),
    );
  };
  return { requests, fetch: fetchImpl };
}

describe('createQuarryClient', () => {
  it('calls the /trpc endpoint under the given base URL with the API key as a bearer token', async () => {
    const recorder = recordingFetch();
    const client = createQuarryClient({
      url: 'http://quarry.internal:8080/',
      apiKey: 'k'.repeat(20),
      fetch: recorder.fetch,
    });
    await client.collections.list.query();
    expect(recorder.requests[0]?.url).toBe('http://quarry.internal:8080/trpc/collections.list');
    expect(recorder.requests[0]?.method).toBe('POST');
    expect(recorder.requests[0]?.headers.get('authorization')).toBe(`Bearer ${'k'.repeat(20)}`);
  });

  it('sends calls made together as one batch, and a call made alone at once, without a timer', async () => {
    const recorder = recordingFetch();
    const client = createQuarryClient({ url: 'http://q:1', fetch: recorder.fetch });
    const listed = await Promise.all([client.collections.list.query(), client.auth.whoami.query()]);
    expect(listed).toEqual([[], []]);
    expect(recorder.requests.map((request) => new URL(request.url).pathname)).toEqual([
      '/trpc/collections.list,auth.whoami',
    ]);
    // tRPC's batch link waits for setTimeout(0), at least a millisecond in Node: a call alone must not.
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      await expect(client.collections.list.query()).resolves.toEqual([]);
    } finally {
      vi.useRealTimers();
    }
    expect(recorder.requests.at(-1)?.url).toBe('http://q:1/trpc/collections.list');
  });

  it('a call cancelled before its batch leaves is not sent, and the one left goes alone', async () => {
    const recorder = recordingFetch();
    const client = createQuarryClient({ url: 'http://q:1', fetch: recorder.fetch });
    const controller = new AbortController();
    const cancelled = client.auth.whoami.query(undefined, { signal: controller.signal });
    const kept = client.collections.list.query();
    controller.abort();
    await expect(cancelled).rejects.toThrow();
    await expect(kept).resolves.toEqual([]);
    expect(recorder.requests.map((request) => request.url)).toEqual([
      'http://q:1/trpc/collections.list',
    ]);
  });

  it('accepts a URL that already ends in /trpc', async () => {
    const recorder = recordingFetch();
    await createQuarryClient({
      url: 'http://q:1/api/trpc',
      fetch: recorder.fetch,
    }).collections.list.query();
    expect(recorder.requests[0]?.url).toMatch(/^http:\/\/q:1\/api\/trpc\/collections\.list/);
  });

  it('with readYourWrites, reads right after a write ask for the primary; without it they never do', async () => {
    for (const readYourWrites of [true, false]) {
      const recorder = recordingFetch();
      const client = createQuarryClient({
        url: 'http://q:1',
        fetch: recorder.fetch,
        readYourWrites,
      });
      await client.collections.list.query();
      await client.documents.ingest.mutate({ collection: 'c', documents: [{ content: 'x' }] });
      await client.collections.list.query();
      const readFrom = recorder.requests.map((request) =>
        request.headers.get('x-quarry-read-from'),
      );
      expect(readFrom).toEqual(readYourWrites ? [null, null, 'primary'] : [null, null, null]);
    }
  });

  it('sends vectors as base64 float32 unless told to send numbers; one that is not a finite float32 goes as given', async () => {
    const sent = async (options: { vectors?: 'json' | 'base64' }, vector: number[]) => {
      const recorder = recordingFetch();
      const client = createQuarryClient({ url: 'http://q:1', fetch: recorder.fetch, ...options });
      await client.search.query.query({ collection: 'c', vector, k: 3 }).catch(() => undefined);
      await client.documents.ingest
        .mutate({ collection: 'c', documents: [{ content: 'x', embedding: vector }] })
        .catch(() => undefined);
      return recorder.requests.map(
        (request) => JSON.parse(request.body) as Record<string, unknown>,
      );
    };
    const vector = [0.5, -2, 1e-3];
    const base64 = Buffer.from(Float32Array.from(vector).buffer).toString('base64');
    const [search, ingest] = await sent({}, vector);
    expect(search).toMatchObject({ collection: 'c', vector: base64, k: 3 });
    expect(ingest).toMatchObject({ documents: [{ content: 'x', embedding: base64 }] });
    const decoded = new Float32Array(Uint8Array.from(Buffer.from(base64, 'base64')).buffer);
    expect(Array.from(decoded)).toEqual(Array.from(Float32Array.from(vector)));
    const [asNumbers] = await sent({ vectors: 'json' }, vector);
    expect(asNumbers).toMatchObject({ vector });
    // Beyond float32's range the server must see (and name) the number sent, not an Infinity.
    const [outOfRange] = await sent({}, [1, 1e39, 0]);
    expect(outOfRange).toMatchObject({ vector: [1, 1e39, 0] });
  });

  it('quarryCodeOf is undefined for errors that did not come from the API', () => {
    expect(quarryCodeOf(new Error('network down'))).toBeUndefined();
  });
});

describe('types a caller sees, inferred from AppRouter with no codegen', () => {
  it('search results carry similarity and metadata', () => {
    type SearchOutput = Awaited<ReturnType<QuarryClient['search']['query']['query']>>;
    expectTypeOf<SearchOutput>().toEqualTypeOf<RouterOutputs['search']['query']>();
    expectTypeOf<SearchOutput['results'][number]['similarity']>().toEqualTypeOf<number | null>();
    expectTypeOf<SearchOutput['results'][number]['metadata']>().toEqualTypeOf<
      Record<string, unknown>
    >();
  });

  it('ingest input requires a collection and documents with content', () => {
    type IngestInput = Parameters<QuarryClient['documents']['ingest']['mutate']>[0];
    expectTypeOf<{
      collection: string;
      documents: Array<{ content: string }>;
    }>().toExtend<IngestInput>();
    expectTypeOf<{ documents: Array<{ content: string }> }>().not.toExtend<IngestInput>();
  });

  it("has the server router's inputs, outputs and error data, without its context", () => {
    expectTypeOf<RouterInputs>().toEqualTypeOf<ServerInputs>();
    expectTypeOf<RouterOutputs>().toEqualTypeOf<ServerOutputs>();
    expectTypeOf<QuarryClientError['data']>().toEqualTypeOf<
      TRPCClientError<ServerRouter>['data']
    >();
  });

  it('error codes are the domain codes', () => {
    expectTypeOf(quarryCodeOf).returns.toExtend<string | undefined>();
    expectTypeOf<'DIMENSION_MISMATCH'>().toExtend<NonNullable<ReturnType<typeof quarryCodeOf>>>();
  });
});
