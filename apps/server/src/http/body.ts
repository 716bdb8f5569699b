import type { IncomingMessage } from 'node:http';

export type BodyResult =
  | { ok: true; body: Buffer }
  | { ok: false; reason: 'too_large' | 'timeout' | 'aborted'; receivedBytes: number };

/**
 * Reads the request body into memory, but never more than `maxBytes` and never for longer than
 * `deadlineMs`: a declared Content-Length over the limit is refused before a byte is read, a
 * chunked body is cut off as soon as it passes it, and a body still arriving at the deadline (a
 * client dribbling it, or one that stopped sending) is given up on. The caller answers 413 or 408;
 * the rest of the body is discarded, not parsed. A client that goes away mid-body is `aborted`:
 * nobody is left to answer.
 */
export function readBody(
  req: IncomingMessage,
  maxBytes: number,
  deadlineMs: number,
): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.resolve({ ok: false, reason: 'too_large', receivedBytes: 0 });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const give = (result: BodyResult) => {
      cleanup();
      chunks.length = 0;
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) {
        give({ ok: false, reason: 'too_large', receivedBytes: received });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body = Buffer.concat(chunks);
      cleanup();
      resolve({ ok: true, body });
    };
    const onAborted = () => give({ ok: false, reason: 'aborted', receivedBytes: received });
    const timer = setTimeout(
      () => give({ ok: false, reason: 'timeout', receivedBytes: received }),
      deadlineMs,
    );
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAborted);
      req.off('close', onAborted);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    // A reset or closed connection: Node reports it as an 'aborted' error, or only as 'close'.
    req.on('error', onAborted);
    req.on('close', onAborted);
  });
}
