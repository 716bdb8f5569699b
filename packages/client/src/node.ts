/**
 * The client as Node resolves `@quarry/client` (the `node` condition of its exports): the same
 * API, whose calls go through node:http (see node-fetch.ts) unless a `fetch` is given.
 */
import { createQuarryClient as createWithFetch, type QuarryClientOptions } from './index.js';
import { nodeFetch } from './node-fetch.js';

// Emitted as is by `npm run build`: Node needs the extension of a relative import.
export * from './index.js';

export function createQuarryClient(options: QuarryClientOptions) {
  return createWithFetch({ ...options, fetch: options.fetch ?? nodeFetch });
}
