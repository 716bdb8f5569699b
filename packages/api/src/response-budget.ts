import { QuarryError } from '@quarry/db';
import type { Limits } from './limits';

/**
 * The bytes a request's results have added to its response so far. One request (a tRPC batch
 * included: its calls share the context) may answer with at most `limits.maxResponseBytes`; past
 * that it is refused with a 400 that names the limit, instead of building a response too large to
 * serialise (V8 strings stop near 512 MB) or to hold in memory.
 */
export interface ResponseBudget {
  /** Bytes of the items measured exactly. */
  usedBytes: number;
  /** Items charged by their size bound only, and the sum of those bounds. */
  unmeasured: Array<readonly unknown[]>;
  unmeasuredBound: number;
}

export function createResponseBudget(): ResponseBudget {
  return { usedBytes: 0, unmeasured: [], unmeasuredBound: 0 };
}

/**
 * An upper bound of `Buffer.byteLength(JSON.stringify(value))` without building the string: each
 * UTF-16 unit of a string as 6 bytes (the longest escape, `\u001f`; a surrogate pair's 4 UTF-8
 * bytes are within its 12), a number as 24, an undefined member as if present. Undefined when the
 * value has a shape this does not follow (toJSON other than a Date's, bigint): measure it exactly.
 */
function jsonBytesBound(value: unknown): number | undefined {
  switch (typeof value) {
    case 'string':
      return value.length * 6 + 2;
    case 'number':
      return 24;
    case 'boolean':
    case 'undefined':
      return 5;
    case 'object': {
      if (value === null) return 4;
      if (value instanceof Date) return 26;
      if (Array.isArray(value)) {
        let total = 2;
        for (const item of value) {
          const bound = jsonBytesBound(item);
          if (bound === undefined) return undefined;
          total += bound + 1;
        }
        return total;
      }
      if ('toJSON' in value) return undefined;
      let total = 2;
      for (const [key, item] of Object.entries(value)) {
        const bound = jsonBytesBound(item);
        if (bound === undefined) return undefined;
        total += key.length * 6 + 2 + 1 + bound + 1;
      }
      return total;
    }
    default:
      return undefined;
  }
}

/**
 * Adds each item's JSON size to the request's response, item by item, and refuses the request as
 * soon as the total passes the limit. `advice` says what to ask for instead ("a smaller limit").
 * Items are serialised to measure them only when their size bound could pass the limit: a search's
 * ten results are far below it, and tRPC serialises them once more to answer.
 */
export function chargeResponse(
  ctx: { limits: Pick<Limits, 'maxResponseBytes'>; responseBudget: ResponseBudget },
  items: readonly unknown[],
  advice: string,
): void {
  const limit = ctx.limits.maxResponseBytes;
  const budget = ctx.responseBudget;
  const bound = jsonBytesBound(items);
  if (bound !== undefined && budget.usedBytes + budget.unmeasuredBound + bound <= limit) {
    budget.unmeasured.push(items);
    budget.unmeasuredBound += bound;
    return;
  }
  // Near the limit: what earlier calls added is measured exactly too, so the refusal is exact.
  for (const earlier of budget.unmeasured) {
    for (const item of earlier) budget.usedBytes += Buffer.byteLength(JSON.stringify(item) ?? '');
  }
  budget.unmeasured = [];
  budget.unmeasuredBound = 0;
  let added = 0;
  for (const item of items) {
    added += Buffer.byteLength(JSON.stringify(item) ?? '');
    if (budget.usedBytes + added > limit) {
      throw new QuarryError(
        'INVALID_INPUT',
        `the response would be larger than this server's limit of ${limit} bytes; ${advice}`,
      );
    }
  }
  // A refused call adds nothing: its results are not in the response.
  budget.usedBytes += added;
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
