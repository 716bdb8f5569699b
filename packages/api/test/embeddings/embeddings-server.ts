import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  headers: IncomingMessage['headers'];
  body: { model: string; input: string[]; dimensions?: number };
}

export type Respond = (
  request: RecordedRequest,
  response: ServerResponse,
  requestNumber: number,
) => void;

/** A deterministic stand-in for a model: the vector depends only on the text. */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  return Array.from(
    { length: dimensions },
    (_, i) => (text.charCodeAt(i % Math.max(text.length, 1)) || 0) / 100 + i,
  );
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** Answers like a well-behaved /v1/embeddings endpoint, with `data` deliberately in reverse order. */
export function embeddingsResponse(request: RecordedRequest, dimensions: number): unknown {
  const data = request.body.input.map((text, index) => ({
    object: 'embedding',
    index,
    embedding: fakeEmbedding(text, dimensions),
  }));
  return {
    object: 'list',
    model: request.body.model,
    data: data.reverse(),
    usage: { prompt_tokens: 1, total_tokens: 1 },
  };
}

/** A real HTTP server on an ephemeral port that records every POST /v1/embeddings it receives. */
export async function startEmbeddingsServer(respond: Respond) {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        sendJson(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
        return;
      }
      const request: RecordedRequest = {
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedRequest['body'],
      };
      requests.push(request);
      respond(request, res, requests.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
