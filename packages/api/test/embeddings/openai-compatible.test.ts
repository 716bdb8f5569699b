import { QuarryError } from '@quarry/db';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenAICompatibleProvider, type OpenAICompatibleOptions } from '../../src/embeddings';
import {
  embeddingsResponse,
  fakeEmbedding,
  sendJson,
  startEmbeddingsServer,
  type Respond,
} from './embeddings-server';

const DIMENSIONS = 4;
let server: Awaited<ReturnType<typeof startEmbeddingsServer>> | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function providerAgainst(respond: Respond, options: Partial<OpenAICompatibleOptions> = {}) {
  server = await startEmbeddingsServer(respond);
  const provider = createOpenAICompatibleProvider({
    baseUrl: server.baseUrl,
    model: 'text-embedding-test',
    dimensions: DIMENSIONS,
    ...options,
  });
  return { provider, requests: server.requests };
}

const answer: Respond = (request, response) =>
  sendJson(response, 200, embeddingsResponse(request, DIMENSIONS));

async function embedError(promise: Promise<unknown>): Promise<QuarryError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(QuarryError);
  return error as QuarryError;
}

describe('createOpenAICompatibleProvider', () => {
  it('names its model openai-compatible/<model> and reports the configured dimensions', async () => {
    const { provider } = await providerAgainst(answer);
    expect(provider.model).toBe('openai-compatible/text-embedding-test');
    expect(provider.dimensions).toBe(DIMENSIONS);
  });

  it('returns one vector per input in input order, even when the server lists them out of order', async () => {
    const { provider } = await providerAgainst(answer);
    const texts = ['alpha', 'beta', 'gamma'];
    expect(await provider.embed(texts)).toEqual(
      texts.map((text) => fakeEmbedding(text, DIMENSIONS)),
    );
  });

  it('sends the model, the inputs, the dimensions, float encoding and the API key as a bearer token', async () => {
    const { provider, requests } = await providerAgainst(answer, {
      apiKey: 'sk-test',
      headers: { 'x-extra': 'yes' },
    });
    await provider.embed(['hello']);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body).toEqual({
      model: 'text-embedding-test',
      input: ['hello'],
      dimensions: DIMENSIONS,
      encoding_format: 'float',
    });
    expect(requests[0]!.headers.authorization).toBe('Bearer sk-test');
    expect(requests[0]!.headers['x-extra']).toBe('yes');
  });

  it('sends no Authorization header without an API key (a local server)', async () => {
    const { provider, requests } = await providerAgainst(answer);
    await provider.embed(['hello']);
    expect(requests[0]!.headers.authorization).toBeUndefined();
  });

  it('makes no request for an empty list of texts', async () => {
    const { provider, requests } = await providerAgainst(answer);
    expect(await provider.embed([])).toEqual([]);
    expect(requests).toHaveLength(0);
  });

  it('splits the inputs into requests of at most batchSize texts and joins the results in order', async () => {
    const { provider, requests } = await providerAgainst(answer, { batchSize: 2 });
    const texts = ['one', 'two', 'three', 'four', 'five'];
    const vectors = await provider.embed(texts);
    expect(requests.map((request) => request.body.input)).toEqual([
      ['one', 'two'],
      ['three', 'four'],
      ['five'],
    ]);
    expect(vectors).toEqual(texts.map((text) => fakeEmbedding(text, DIMENSIONS)));
  });

  it('retries a 429 after waiting at least the Retry-After the server sends', async () => {
    const { provider, requests } = await providerAgainst((request, response, requestNumber) => {
      if (requestNumber === 1)
        sendJson(
          response,
          429,
          { error: { message: 'Rate limit reached' } },
          { 'retry-after': '1' },
        );
      else answer(request, response, requestNumber);
    });
    const started = performance.now();
    const vectors = await provider.embed(['patience']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    expect(requests).toHaveLength(2);
    expect(vectors).toEqual([fakeEmbedding('patience', DIMENSIONS)]);
  });

  it('gives up on a server that keeps failing with 500 after maxRetries, quoting its error', async () => {
    const { provider, requests } = await providerAgainst(
      (_request, response) => sendJson(response, 500, { error: { message: 'model overloaded' } }),
      { maxRetries: 2 },
    );
    const error = await embedError(provider.embed(['x']));
    expect(requests).toHaveLength(3);
    expect(error.code).toBe('EMBEDDING_PROVIDER_FAILED');
    expect(error.message).toContain('after 3 attempts');
    expect(error.message).toContain('HTTP 500: model overloaded');
    expect(error.message).toContain(server!.baseUrl);
  });

  it('does not retry a 400 and passes the server message on', async () => {
    const { provider, requests } = await providerAgainst((_request, response) =>
      sendJson(response, 400, { error: { message: "'$.input' is invalid" } }),
    );
    const error = await embedError(provider.embed(['']));
    expect(requests).toHaveLength(1);
    expect(error.code).toBe('EMBEDDING_PROVIDER_FAILED');
    expect(error.message).toContain("HTTP 400: '$.input' is invalid");
  });

  it('points at the API key when the server answers 401', async () => {
    const { provider } = await providerAgainst((_request, response) =>
      sendJson(response, 401, { error: { message: 'Incorrect API key' } }),
    );
    const error = await embedError(provider.embed(['x']));
    expect(error.message).toContain('Incorrect API key');
    expect(error.message).toContain('Check the API key');
  });

  it('fails a request that gets no answer within timeoutMs', async () => {
    const { provider, requests } = await providerAgainst(() => {}, {
      timeoutMs: 100,
      maxRetries: 0,
    });
    const started = performance.now();
    const error = await embedError(provider.embed(['slow']));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(requests).toHaveLength(1);
    expect(error.code).toBe('EMBEDDING_PROVIDER_FAILED');
    expect(error.message).toContain('no response within 100 ms');
  });

  it('retries a request that timed out', async () => {
    const { provider, requests } = await providerAgainst(
      (request, response, requestNumber) => {
        if (requestNumber > 1) answer(request, response, requestNumber);
      },
      { timeoutMs: 100, maxRetries: 1 },
    );
    expect(await provider.embed(['second time lucky'])).toEqual([
      fakeEmbedding('second time lucky', DIMENSIONS),
    ]);
    expect(requests).toHaveLength(2);
  });

  it('refuses vectors whose dimension differs from the configured one, naming both', async () => {
    const { provider } = await providerAgainst((request, response) =>
      sendJson(response, 200, embeddingsResponse(request, 3)),
    );
    const error = await embedError(provider.embed(['x']));
    expect(error.code).toBe('EMBEDDING_PROVIDER_MISMATCH');
    expect(error.message).toContain('3-dimensional');
    expect(error.message).toContain(`expected ${DIMENSIONS}`);
  });

  it('refuses a response with fewer embeddings than inputs', async () => {
    const { provider } = await providerAgainst((request, response) =>
      sendJson(
        response,
        200,
        embeddingsResponse(
          { ...request, body: { ...request.body, input: request.body.input.slice(1) } },
          DIMENSIONS,
        ),
      ),
    );
    const error = await embedError(provider.embed(['a', 'b']));
    expect(error.code).toBe('EMBEDDING_PROVIDER_FAILED');
    expect(error.message).toContain('returned 1 embeddings for 2 inputs');
  });

  it('stops sending dimensions to a server that rejects the parameter', async () => {
    const { provider, requests } = await providerAgainst((request, response, requestNumber) => {
      if ('dimensions' in request.body) {
        sendJson(response, 400, {
          error: { message: 'This model does not support specifying dimensions.' },
        });
      } else {
        answer(request, response, requestNumber);
      }
    });
    expect(await provider.embed(['first'])).toEqual([fakeEmbedding('first', DIMENSIONS)]);
    await provider.embed(['second']);
    expect(requests.map((request) => 'dimensions' in request.body)).toEqual([true, false, false]);
  });

  it('stops without retrying when the caller aborts', async () => {
    const controller = new AbortController();
    // The server never answers; the caller gives up once the request has arrived.
    const { provider, requests } = await providerAgainst(() => controller.abort(), {
      maxRetries: 3,
    });
    const error = await embedError(provider.embed(['never mind'], { signal: controller.signal }));
    expect(error.message).toContain('aborted by the caller');
    expect(requests).toHaveLength(1);
  });

  it('fails at once when Retry-After is longer than maxRetryAfterMs', async () => {
    const { provider, requests } = await providerAgainst(
      (_request, response) =>
        sendJson(response, 429, { error: { message: 'quota' } }, { 'retry-after': '120' }),
      { maxRetryAfterMs: 1_000 },
    );
    const error = await embedError(provider.embed(['x']));
    expect(requests).toHaveLength(1);
    expect(error.message).toContain('retry after 120 s');
  });
});
