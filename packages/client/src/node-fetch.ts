import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';

/**
 * Idle connections are closed after this long: below Node's server default keep-alive timeout
 * (5 s), so a request is not sent on a connection the server is about to close.
 */
const IDLE_SOCKET_MS = 4_000;

const agents = {
  'http:': new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  'https:': new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
};

/**
 * The client's fetch in Node: the request made with node:http over keep-alive connections, the
 * answer read whole and handed back as a `Response`. Node's own fetch (undici) cost 0.5-0.8 ms more
 * per call, and twice the CPU, than node:http for a search (a 1,536-number vector in, ten results
 * out) against a local server. Anything else a fetch can be given (a `Request`, a streamed body,
 * another scheme) goes to the global fetch.
 */
export const nodeFetch: typeof fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined;
  const body = init?.body;
  const protocol = url?.slice(0, url.indexOf(':') + 1);
  if (
    url === undefined ||
    (protocol !== 'http:' && protocol !== 'https:') ||
    !(body === undefined || body === null || typeof body === 'string')
  ) {
    return fetch(input, init);
  }
  return send(url, protocol, init ?? {}, body ?? undefined, true);
};

function send(
  url: string,
  protocol: 'http:' | 'https:',
  init: RequestInit,
  body: string | undefined,
  mayRetry: boolean,
): Promise<Response> {
  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  const headers: Record<string, string> = {};
  new Headers(init.headers).forEach((value, name) => (headers[name] = value));
  if (body !== undefined) {
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise<Response>((resolve, reject) => {
    const make = protocol === 'https:' ? httpsRequest : httpRequest;
    const request = make(
      url,
      { method: init.method ?? 'GET', headers, agent: agents[protocol] },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error) => {
          done();
          reject(fetchFailed(error));
        });
        response.on('end', () => {
          done();
          const status = response.statusCode ?? 0;
          const responseHeaders = new Headers();
          const raw = response.rawHeaders;
          for (let i = 0; i + 1 < raw.length; i += 2) responseHeaders.append(raw[i]!, raw[i + 1]!);
          const noBody = status === 204 || status === 304 || init.method === 'HEAD';
          let content: Buffer | null = null;
          try {
            content = noBody
              ? null
              : decoded(Buffer.concat(chunks), response.headers['content-encoding']);
          } catch (error) {
            reject(fetchFailed(error));
            return;
          }
          resolve(
            new Response(content, {
              status,
              statusText: response.statusMessage ?? '',
              headers: responseHeaders,
            }),
          );
        });
      },
    );
    const onAbort = () => {
      request.destroy();
      reject(abortReason(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    request.on('error', (error: NodeJS.ErrnoException) => {
      done();
      if (signal?.aborted) return; // rejected by onAbort
      // A kept-alive connection the server closed as this request went out: the request never
      // reached it, so it is sent once more on a new connection (as Node's documentation advises).
      if (mayRetry && request.reusedSocket && error.code === 'ECONNRESET') {
        resolve(send(url, protocol, init, body, false));
        return;
      }
      reject(fetchFailed(error));
    });
    request.end(body);
  });
}

/** What fetch rejects with when the request or its answer fails: "fetch failed", the cause under it. */
function fetchFailed(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}

/** What fetch rejects with when its signal aborts: the signal's reason, an AbortError by default. */
function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error
    ? signal.reason
    : new DOMException('This operation was aborted', 'AbortError');
}

/**
 * The body as sent, for a server or proxy that compressed it although not asked to (no
 * accept-encoding is sent): fetch decodes these three itself.
 */
function decoded(body: Buffer, encoding: string | undefined): Buffer {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    case 'br':
      return brotliDecompressSync(body);
    default:
      return body;
  }
}
