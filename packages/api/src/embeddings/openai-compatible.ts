import { QuarryError } from '@quarry/db';
import OpenAI from 'openai';
import { z } from 'zod';
import type { EmbeddingProvider, EmbedOptions } from './provider';

export interface OpenAICompatibleOptions {
  /** Base URL including the version path, e.g. 'https://api.openai.com/v1' or 'http://localhost:11434/v1'; requests go to `${baseUrl}/embeddings`. */
  baseUrl: string;
  /** Model name as the server knows it, e.g. 'text-embedding-3-small' or 'nomic-embed-text'. */
  model: string;
  /** Dimensions every returned vector must have; also sent as `dimensions` (see the function doc). */
  dimensions: number;
  /** Sent as `Authorization: Bearer <apiKey>`; without it no Authorization header is sent. */
  apiKey?: string;
  /** Extra request headers, e.g. `{ 'api-key': key }` for Azure OpenAI. */
  headers?: Record<string, string>;
  /** Inputs per request (default 128). */
  batchSize?: number;
  /** Retries after a 408, 409, 429, a 5xx, a timeout or a network error (default 3), with the SDK's backoff. */
  maxRetries?: number;
  /** Per-request timeout in milliseconds (default 60 000). */
  timeoutMs?: number;
  /** Longest Retry-After the provider waits out; a longer one fails the call at once (default 60 000). */
  maxRetryAfterMs?: number;
  fetch?: typeof fetch;
}

const responseSchema = z.object({
  data: z.array(
    z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) }),
  ),
});

/** Reads Retry-After (seconds or an HTTP date) and OpenAI's `retry-after-ms`, as the SDK does. */
function retryAfterMs(headers: Headers): number | undefined {
  const milliseconds = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(milliseconds) && milliseconds >= 0)
    return milliseconds;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function hintForStatus(status: number | undefined): string {
  if (status === 401 || status === 403)
    return ' Check the API key (apiKey, or the headers option for Azure).';
  if (status === 404)
    return ' Check baseUrl (it should end with the API version, e.g. /v1) and the model name.';
  return '';
}

/** An HTTP error answer as the SDK reports it (its class is typed with `any` parts). */
interface HttpFailure {
  status: number | undefined;
  headers: Headers | undefined;
  /** The server's own words: OpenAI-style `{ error: { message } }`, else the SDK's message. */
  detail: string;
}

function httpFailure(error: unknown): HttpFailure | undefined {
  if (!(error instanceof OpenAI.APIError)) return undefined;
  const {
    status,
    headers,
    error: body,
    message,
  } = error as {
    status: unknown;
    headers: unknown;
    error: unknown;
    message: string;
  };
  const inner =
    typeof body === 'string' ? body : (body as { message?: unknown } | undefined)?.message;
  return {
    status: typeof status === 'number' ? status : undefined,
    headers: headers instanceof Headers ? headers : undefined,
    detail: typeof inner === 'string' && inner !== '' ? inner : message,
  };
}

/** Statuses the SDK retries by itself (unless the server says `x-should-retry: false`). */
const retriedStatus = (status: number | undefined) =>
  status === 408 || status === 409 || status === 429 || (status !== undefined && status >= 500);

/**
 * Embeds through the `/v1/embeddings` protocol spoken by OpenAI, Azure OpenAI (v1 API), Ollama,
 * vLLM and Hugging Face TEI, with the `openai` SDK (its retries with backoff and Retry-After,
 * timeouts, and the caller's abort signal).
 *
 * - Model id: `openai-compatible/<model>`, e.g. 'openai-compatible/text-embedding-3-small'. The
 *   server's address is not part of it: the same model behind another URL gives the same vectors.
 * - `dimensions` is sent with every request, which lets text-embedding-3 models shorten their
 *   vectors. A server that rejects the parameter (HTTP 400 naming `dimensions`, as OpenAI does for
 *   text-embedding-ada-002) is asked again without it, and the provider stops sending it.
 * - Vectors are asked for as JSON floats (`encoding_format: 'float'`), which every compatible
 *   server speaks (the SDK's default, base64, is OpenAI's own).
 * - Inputs go out in batches of `batchSize`, one batch after the other. A Retry-After longer than
 *   `maxRetryAfterMs` fails the call at once instead of being waited out.
 * - Every vector must have `dimensions` components (else EMBEDDING_PROVIDER_MISMATCH); results are
 *   ordered by their `index`.
 */
export function createOpenAICompatibleProvider(
  options: OpenAICompatibleOptions,
): EmbeddingProvider {
  const {
    model,
    dimensions,
    apiKey,
    batchSize = 128,
    maxRetries = 3,
    timeoutMs = 60_000,
    maxRetryAfterMs = 60_000,
  } = options;
  const baseURL = options.baseUrl.replace(/\/+$/, '');
  const url = `${baseURL}/embeddings`;
  const modelId = `openai-compatible/${model}`;
  for (const [name, value, minimum] of [
    ['dimensions', dimensions, 1],
    ['batchSize', batchSize, 1],
    ['maxRetries', maxRetries, 0],
    ['timeoutMs', timeoutMs, 1],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < minimum) {
      throw new QuarryError(
        'INVALID_INPUT',
        `${modelId}: ${name} must be an integer ≥ ${minimum}, got ${value}`,
      );
    }
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const client = new OpenAI({
    baseURL,
    // The SDK insists on a key; a local server without one gets no Authorization header at all.
    apiKey: apiKey ?? 'no-key',
    maxRetries,
    timeout: timeoutMs,
    defaultHeaders: { ...(apiKey ? {} : { authorization: null }), ...options.headers },
    // A Retry-After beyond maxRetryAfterMs is not worth waiting for: `x-should-retry: false`
    // makes the SDK give up on it at once.
    fetch: async (input, init) => {
      const response = await fetchImpl(input, init);
      const wait =
        response.status === 429 || response.status === 503
          ? retryAfterMs(response.headers)
          : undefined;
      if (wait === undefined || wait <= maxRetryAfterMs) return response;
      const headers = new Headers(response.headers);
      headers.set('x-should-retry', 'false');
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers,
      });
    },
  });
  let sendDimensions = true;

  function failure(error: unknown, attempts: number): QuarryError {
    const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    if (error instanceof OpenAI.APIConnectionTimeoutError) {
      return new QuarryError(
        'EMBEDDING_PROVIDER_FAILED',
        `${modelId} at ${url} failed after ${tries}: no response within ${timeoutMs} ms (timeoutMs).`,
        { cause: error },
      );
    }
    if (error instanceof OpenAI.APIConnectionError) {
      const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
      return new QuarryError(
        'EMBEDDING_PROVIDER_FAILED',
        `${modelId} at ${url} failed after ${tries}: network error (${error.message}${cause}).`,
        { cause: error },
      );
    }
    const http = httpFailure(error);
    if (http) {
      const wait = http.headers ? retryAfterMs(http.headers) : undefined;
      if (http.status === 429 && wait !== undefined && wait > maxRetryAfterMs) {
        return new QuarryError(
          'EMBEDDING_PROVIDER_FAILED',
          `${modelId} at ${url} is rate limited and asks to retry after ${Math.ceil(wait / 1000)} s ` +
            `(longer than maxRetryAfterMs ${maxRetryAfterMs}) after ${tries}: HTTP 429: ${http.detail}`,
          { cause: error },
        );
      }
      return new QuarryError(
        'EMBEDDING_PROVIDER_FAILED',
        `${modelId} at ${url} failed after ${tries}: HTTP ${http.status}: ${http.detail}.${hintForStatus(http.status)}`,
        { cause: error },
      );
    }
    return new QuarryError(
      'EMBEDDING_PROVIDER_FAILED',
      `${modelId} at ${url} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }

  async function embedBatch(
    batch: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<number[][]> {
    let response: unknown;
    try {
      response = await client.embeddings.create(
        {
          model,
          input: [...batch],
          encoding_format: 'float',
          ...(sendDimensions ? { dimensions } : {}),
        },
        signal ? { signal } : {},
      );
    } catch (error) {
      if (error instanceof OpenAI.APIUserAbortError || signal?.aborted) {
        throw new QuarryError(
          'EMBEDDING_PROVIDER_FAILED',
          `${modelId}: embedding was aborted by the caller`,
          { cause: signal?.reason ?? error },
        );
      }
      const http = httpFailure(error);
      if (http?.status === 400 && sendDimensions && /dimension/i.test(http.detail)) {
        sendDimensions = false; // a change of request, not a retry of the same one
        return embedBatch(batch, signal);
      }
      const retried =
        error instanceof OpenAI.APIConnectionError ||
        (http !== undefined &&
          retriedStatus(http.status) &&
          http.headers?.get('x-should-retry') !== 'false');
      throw failure(error, retried ? maxRetries + 1 : 1);
    }
    const parsed = responseSchema.safeParse(response);
    if (!parsed.success) {
      throw new QuarryError(
        'EMBEDDING_PROVIDER_FAILED',
        `${modelId} at ${url} answered with something other than an embeddings response (${z.prettifyError(parsed.error)})`,
      );
    }
    return orderedVectors(parsed.data.data, batch.length);
  }

  function orderedVectors(
    data: { index: number; embedding: number[] }[],
    expectedCount: number,
  ): number[][] {
    if (data.length !== expectedCount) {
      throw new QuarryError(
        'EMBEDDING_PROVIDER_FAILED',
        `${modelId} at ${url} returned ${data.length} embeddings for ${expectedCount} inputs`,
      );
    }
    const vectors = new Array<number[] | undefined>(expectedCount);
    for (const { index, embedding } of data) {
      if (index >= expectedCount || vectors[index]) {
        throw new QuarryError(
          'EMBEDDING_PROVIDER_FAILED',
          `${modelId} at ${url} returned index ${index} out of range or twice (${expectedCount} inputs)`,
        );
      }
      if (embedding.length !== dimensions) {
        throw new QuarryError(
          'EMBEDDING_PROVIDER_MISMATCH',
          `${modelId} at ${url} returned a ${embedding.length}-dimensional vector, expected ${dimensions}. ` +
            `Set dimensions to ${embedding.length} or use a model that produces ${dimensions}.`,
        );
      }
      vectors[index] = embedding;
    }
    return vectors as number[][];
  }

  return {
    model: modelId,
    dimensions,
    async embed(texts: readonly string[], embedOptions: EmbedOptions = {}) {
      const embeddings: number[][] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        embeddings.push(
          ...(await embedBatch(texts.slice(start, start + batchSize), embedOptions.signal)),
        );
      }
      return embeddings;
    },
  };
}
