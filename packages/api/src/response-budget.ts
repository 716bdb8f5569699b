import { QuarryError } from '@quarry/db';
import type { Limits } from './limits';

/**
 * The bytes a request's results have added to its response so far. One request (a tRPC batch
 * included: its calls share the context) may answer with at most `limits.maxResponseBytes`; past
 * that it is refused with a 400 that names the limit, instead of building a response too large to
 * serialise (V8 strings stop near 512 MB) or to hold in memory.
 */
export interface ResponseBudget {
  usedBytes: number;
}

export function createResponseBudget(): ResponseBudget {
  return { usedBytes: 0 };
}

/**
 * Adds each item's JSON size to the request's response, item by item, and refuses the request as
 * soon as the total passes the limit. `advice` says what to ask for instead ("a smaller limit").
 */
export function chargeResponse(
  ctx: { limits: Pick<Limits, 'maxResponseBytes'>; responseBudget: ResponseBudget },
  items: readonly unknown[],
  advice: string,
): void {
  const limit = ctx.limits.maxResponseBytes;
  let added = 0;
  for (const item of items) {
    added += Buffer.byteLength(JSON.stringify(item) ?? '');
    if (ctx.responseBudget.usedBytes + added > limit) {
      throw new QuarryError(
        'INVALID_INPUT',
        `the response would be larger than this server's limit of ${limit} bytes; ${advice}`,
      );
    }
  }
  // A refused call adds nothing: its results are not in the response.
  ctx.responseBudget.usedBytes += added;
}

/**
 * Characters of content that list and search return per document: `requested` (a client's
 * `contentMaxChars`), by default and at most the server's `contentPreviewChars`. Whole documents
 * come from `documents.get`, one at a time.
 */
export function contentPreviewChars(
  limits: Pick<Limits, 'contentPreviewChars'>,
  requested: number | undefined,
): number {
  if (requested !== undefined && requested > limits.contentPreviewChars) {
    throw new QuarryError(
      'INVALID_INPUT',
      `contentMaxChars is at most ${limits.contentPreviewChars} on this server, got ${requested}; read a whole document with documents.get`,
    );
  }
  return requested ?? limits.contentPreviewChars;
}
