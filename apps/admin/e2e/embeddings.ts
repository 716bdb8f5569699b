import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A second embedding model for the test server, so a collection can be re-embedded from the
 * dashboard: an OpenAI-compatible `/v1/embeddings` on loopback (the server's
 * `QUARRY_OPENAI_*` settings point at it) that answers each request after `delayMs`, so a
 * re-embed takes seconds and its progress and cancellation can be seen.
 */
export const REEMBED_MODEL = 'e2e-64';
export const REEMBED_DIMENSIONS = 64;

/** The same text gives the same vector: a seeded xorshift over an FNV-1a hash of the text. */
export function stubVector(text: string): number[] {
  let seed = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) seed = Math.imul(seed ^ text.charCodeAt(i), 0x01000193);
  return Array.from({ length: REEMBED_DIMENSIONS }, () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    // Never zero: every vector has a direction (cosine needs one).
    return ((seed >>> 0) / 0xffffffff) * 2 - 1 || 0.5;
  });
}

export interface EmbeddingsStub {
  /** For QUARRY_OPENAI_BASE_URL, e.g. http://127.0.0.1:41000/v1 */
  baseUrl: string;
  close(): Promise<void>;
}

export async function startEmbeddingsStub(delayMs: number): Promise<EmbeddingsStub> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input: string[] };
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            model: REEMBED_MODEL,
            data: body.input.map((text, index) => ({
              object: 'embedding',
              index,
              embedding: stubVector(text),
            })),
          }),
        );
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
