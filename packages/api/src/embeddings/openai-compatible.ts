import { QuarryError } from '@quarry/db';
import { z } from 'zod';
import type { EmbeddingProvider, EmbedOptions } from './provider';

export interface OpenAICompatibleOptions {
  /** Base URL including the version path, e.g. 'https://api.openai.com/v1' or 'http://localhost:11434/v1'; requests go to `${baseUrl}/embeddings`. */
  baseUrl: string;
  /** Model name as the server knows it, e.g. 'text-embedding-3-small' or 'nomic-embed-text'. */
  model: string;
  /** Dimensions every returned vector must have; also sent as `dimensions` (see the function doc). */
  dimensions: number;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Extra request headers, e.g. `{ 'api-key': key }` for Azure OpenAI. */
  headers?: Record<string, string>;
  /** Inputs per request (default 128). */
  batchSize?: number;
  /** Retries after a 429, a 5xx, a timeout or a network error (default 3). */
  maxRetries?: number;
  /** Per-request timeout in milliseconds (default 60 000). */
  timeoutMs?: number;
  /** First retry delay in milliseconds, doubled per retry with jitter (default 500). */
  initialRetryDelayMs?: number;
  /** Longest Retry-After the provider waits out; a longer one fails the call at once (default 60 000). */
  maxRetryAfterMs?: number;
  fetch?: typeof fetch;
}

const responseSchema = z.object({
  data: z.array(
    z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) }),
  ),
});

const MAX_RETRY_DELAY_MS = 30_000;

/** What one request ended with; `retryable` failures are tried again until retries run out. */
type Attempt =
  | { ok: true; vectors: number[][] }
  | {
      ok: false;
      retryable: boolean;
      reason: string;
      retryAfterMs?: number;
      status?: number;
      body?: string;
    };

/** Reads Retry-After (seconds or an HTTP date) and OpenAI's `retry-after-ms`. */
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

/** The server's own words: OpenAI-style `{ error: { message } }`, else the start of the body. */
function errorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as {
      error?: { message?: unknown } | string;
      message?: unknown;
      detail?: unknown;
    };
    const message =
      typeof parsed.error === 'string'
        ? parsed.error
        : (parsed.error?.message ?? parsed.message ?? parsed.detail);
    if (typeof message === 'string' && message !== '') return message;
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim().replace(/\s+/g, ' ');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(empty body)';
}

function hintForStatus(status: number): string {
  if (status === 401 || status === 403)
    return ' Check the API key (apiKey, or the headers option for Azure).';
  if (status === 404)
    return ' Check baseUrl (it should end with the API version, e.g. /v1) and the model name.';
  return '';
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Embeds through the `/v1/embeddings` protocol spoken by OpenAI, Azure OpenAI (v1 API), Ollama,
 * vLLM and Hugging Face TEI.
 *
 * - Model id: `openai-compatible/<model>`, e.g. 'openai-compatible/text-embedding-3-small'. The
 *   server's address is not part of it: the same model behind another URL gives the same vectors.
 * - `dimensions` is sent with every request, which lets text-embedding-3 models shorten their
 *   vectors. A server that rejects the parameter (HTTP 400 naming `dimensions`, as OpenAI does for
 *   text-embedding-ada-002) is asked again without it, and the provider stops sending it.
 * - Inputs go out in batches of `batchSize`, one batch after the other. 429, 5xx, timeouts and
 *   network errors are retried with exponential backoff and jitter, waiting at least the server's
 *   Retry-After; any other 4xx fails at once.
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
    initialRetryDelayMs = 500,
    maxRetryAfterMs = 60_000,
  } = options;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const url = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
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
  let sendDimensions = true;

  async function attempt(
    batch: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<Attempt> {
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let body: string;
    try {
      response = await fetchImpl(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify({ model, input: batch, ...(sendDimensions ? { dimensions } : {}) }),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      body = await response.text();
    } catch (error) {
      if (signal?.aborted) throw error;
      if (timeout.aborted)
        return {
          ok: false,
          retryable: true,
          reason: `no response within ${timeoutMs} ms (timeoutMs)`,
        };
      const cause =
        error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      return {
        ok: false,
        retryable: true,
        reason: `network error (${error instanceof Error ? error.message : String(error)}${cause})`,
      };
    }
    if (!response.ok) {
      const { status } = response;
      return {
        ok: false,
        retryable: status === 429 || status >= 500,
        reason: `HTTP ${status}: ${errorDetail(body)}`,
        status,
        body,
        ...(status === 429 || status === 503
          ? { retryAfterMs: retryAfterMs(response.headers) }
          : {}),
      };
    }
    let parsed: z.infer<typeof responseSchema>;
    try {
      parsed = responseSchema.parse(JSON.parse(body));
    } catch (error) {
      const detail = error instanceof z.ZodError ? z.prettifyError(error) : 'the body is not JSON';
      throw new QuarryError(
        'EMBEDDING_PROVIDER_FAILED',
        `${modelId} at ${url} answered with something other than an embeddings response (${detail}): ${errorDetail(body)}`,
      );
    }
    return { ok: true, vectors: orderedVectors(parsed.data, batch.length) };
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

  async function embedBatch(
    batch: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<number[][]> {
    for (let retry = 0; ; retry++) {
      const result = await attempt(batch, signal);
      if (result.ok) return result.vectors;
      if (
        result.status === 400 &&
        sendDimensions &&
        result.body !== undefined &&
        /dimension/i.test(result.body)
      ) {
        sendDimensions = false;
        retry--; // a change of request, not a retry of the same one
        continue;
      }
      const attempts = `${retry + 1} attempt${retry === 0 ? '' : 's'}`;
      if (!result.retryable || retry >= maxRetries) {
        throw new QuarryError(
          'EMBEDDING_PROVIDER_FAILED',
          `${modelId} at ${url} failed after ${attempts}: ${result.reason}.${result.status ? hintForStatus(result.status) : ''}`,
        );
      }
      if (result.retryAfterMs !== undefined && result.retryAfterMs > maxRetryAfterMs) {
        throw new QuarryError(
          'EMBEDDING_PROVIDER_FAILED',
          `${modelId} at ${url} is rate limited and asks to retry after ${Math.ceil(result.retryAfterMs / 1000)} s ` +
            `(longer than maxRetryAfterMs ${maxRetryAfterMs}) after ${attempts}: ${result.reason}`,
        );
      }
      // Exponential backoff with "equal jitter": half fixed, half random, so clients spread out.
      const backoff = Math.min(MAX_RETRY_DELAY_MS, initialRetryDelayMs * 2 ** retry);
      await sleep(
        Math.max(result.retryAfterMs ?? 0, backoff / 2 + Math.random() * (backoff / 2)),
        signal,
      );
    }
  }

  return {
    model: modelId,
    dimensions,
    async embed(texts: readonly string[], embedOptions: EmbedOptions = {}) {
      const { signal } = embedOptions;
      const embeddings: number[][] = [];
      try {
        for (let start = 0; start < texts.length; start += batchSize) {
          embeddings.push(...(await embedBatch(texts.slice(start, start + batchSize), signal)));
        }
      } catch (error) {
        if (error instanceof QuarryError || !signal?.aborted) throw error;
        throw new QuarryError(
          'EMBEDDING_PROVIDER_FAILED',
          `${modelId}: embedding was aborted by the caller`,
          { cause: signal.reason },
        );
      }
      return embeddings;
    },
  };
}
