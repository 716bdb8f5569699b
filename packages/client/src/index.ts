import type { AppRouter as ServerRouter } from '@quarry/api';
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  TRPCClientError,
  type TRPCClient,
  type TRPCLink,
} from '@trpc/client';
import type {
  AnyTRPCRouter,
  inferRouterInputs,
  inferRouterOutputs,
  TRPCBuiltRouter,
} from '@trpc/server';
import { observable } from '@trpc/server/observable';
import { vectorsAsBase64Link } from './vectors.js';

export interface QuarryClientOptions {
  /** The server's base URL, e.g. 'http://127.0.0.1:8080' (the API lives under /trpc). */
  url: string | URL;
  /** Sent as `Authorization: Bearer <apiKey>`; omit for a server with open access. */
  apiKey?: string;
  /**
   * A custom fetch (tests, proxies, instrumentation). Without one, calls go through node:http in
   * Node (see node-fetch.ts) and the global fetch elsewhere.
   */
  fetch?: typeof fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /**
   * After a successful write, read from the primary instead of a replica for this many
   * milliseconds, so a search right after an ingest sees what was written despite replica lag.
   * `true` means 10 s; the server must allow it (it always does: the header only narrows where reads go).
   */
  readYourWrites?: boolean | number;
  /** Calls per batched HTTP request; keep it at or below the server's QUARRY_MAX_BATCH_CALLS (default 50). */
  maxBatchCalls?: number;
  /**
   * How vectors (a search's query vector, ingested embeddings) travel: 'base64' (the default) as
   * base64 of little-endian float32, a quarter of the bytes of 'json' and nothing to parse; 'json'
   * as arrays of numbers.
   */
  vectors?: 'base64' | 'json';
}

/**
 * A client of `TRouter` as a client sees it: every procedure with its input, output and error
 * shape, but not the server's request context (database handles, embedding providers), whose types
 * live in server-only packages. The router type is written out here, not named, so that the
 * declarations of `createQuarryClient` spell the whole API out: the published package then needs
 * nothing from `@quarry/api`, which is never published.
 */
function createRouterClient<TRouter extends AnyTRPCRouter>(
  links: TRPCLink<TRouter>[],
): TRPCClient<
  TRPCBuiltRouter<
    {
      ctx: object;
      meta: TRouter['_def']['_config']['$types']['meta'];
      errorShape: TRouter['_def']['_config']['$types']['errorShape'];
      transformer: TRouter['_def']['_config']['$types']['transformer'];
    },
    TRouter['_def']['record']
  >
> {
  return createTRPCClient({ links });
}

/**
 * Calls gathered until the current event-loop turn ends (its microtasks included): a call made
 * alone goes at once by `single`, calls made together go by `batch`, as one request. tRPC's
 * httpBatchLink alone waits for `setTimeout(0)`, which Node runs no sooner than a millisecond
 * later: every call, batched or not, took 1.7-2 ms longer (a search p50 6.0-6.5 against 4.6 ms
 * through this client, on one machine against a local server). Batches still wait for it.
 */
function gatheringLink<TRouter extends AnyTRPCRouter>(
  single: TRPCLink<TRouter>,
  batch: TRPCLink<TRouter>,
): TRPCLink<TRouter> {
  const nextTurn: (run: () => void) => void =
    typeof setImmediate === 'function' ? (run) => setImmediate(run) : (run) => setTimeout(run, 0);
  return (runtime) => {
    const alone = single(runtime);
    const together = batch(runtime);
    /** A call waiting for the turn to end: started then, unless cancelled before. */
    interface Waiting {
      start: (link: typeof alone) => void;
      cancelled: boolean;
      aborted: () => boolean;
    }
    let gathered: Waiting[] | undefined;
    return (call) =>
      observable((observer) => {
        let unsubscribe = () => {
          waiting.cancelled = true;
        };
        const waiting: Waiting = {
          start: (link) => {
            const subscription = link(call).subscribe(observer);
            unsubscribe = () => subscription.unsubscribe();
          },
          cancelled: false,
          aborted: () => call.op.signal?.aborted === true,
        };
        if (!gathered) {
          const calls: Waiting[] = [];
          gathered = calls;
          nextTurn(() => {
            gathered = undefined;
            // A call given up while waiting (unsubscribed, or its signal aborted) is not counted:
            // one call left goes alone. An aborted call still runs, alone, to fail as an aborted
            // fetch does, before sending anything.
            const live = calls.filter((entry) => !entry.cancelled && !entry.aborted());
            const link = live.length === 1 ? alone : together;
            for (const entry of calls) {
              if (entry.cancelled) continue;
              entry.start(live.includes(entry) ? link : alone);
            }
          });
        }
        gathered.push(waiting);
        return () => unsubscribe();
      });
  };
}

const READ_FROM_PRIMARY_HEADER = 'x-quarry-read-from';

/** The API's base URL with the tRPC endpoint, whether or not the caller included it. */
function trpcEndpoint(url: string | URL): string {
  const parsed = new URL(url);
  if (!parsed.pathname.replace(/\/+$/, '').endsWith('/trpc')) {
    parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/trpc`;
  }
  return parsed.toString().replace(/\/+$/, '');
}

/**
 * A typed client for Quarry: every procedure, input and output is inferred from the server's
 * `AppRouter` type, so there is no code generation and a breaking API change fails to compile.
 *
 * ```ts
 * const quarry = createQuarryClient({ url: 'http://127.0.0.1:8080', apiKey: process.env.QUARRY_API_KEY });
 * await quarry.documents.ingest.mutate({ collection: 'docs', documents: [{ content: 'hello' }] });
 * const { results } = await quarry.search.query.query({ collection: 'docs', text: 'greeting', k: 5 });
 * ```
 */
export function createQuarryClient(options: QuarryClientOptions) {
  const windowMs =
    options.readYourWrites === true
      ? 10_000
      : typeof options.readYourWrites === 'number'
        ? options.readYourWrites
        : 0;
  let primaryUntil = 0;

  // Notes the time of every successful mutation, for read-your-writes.
  const rememberWrites: TRPCLink<ServerRouter> =
    () =>
    ({ op, next }) =>
      observable((observer) =>
        next(op).subscribe({
          next(value) {
            if (op.type === 'mutation' && windowMs > 0) primaryUntil = Date.now() + windowMs;
            observer.next(value);
          },
          error: (error) => observer.error(error),
          complete: () => observer.complete(),
        }),
      );

  const http = {
    url: trpcEndpoint(options.url),
    // Queries go as POST too: a query vector (1,536 numbers) does not fit in a URL.
    methodOverride: 'POST' as const,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    headers() {
      const headers: Record<string, string> = { ...options.headers };
      if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
      if (Date.now() < primaryUntil) headers[READ_FROM_PRIMARY_HEADER] = 'primary';
      return headers;
    },
  };
  return createRouterClient<ServerRouter>([
    rememberWrites,
    ...(options.vectors === 'json' ? [] : [vectorsAsBase64Link<ServerRouter>()]),
    gatheringLink(
      httpLink(http),
      httpBatchLink({ ...http, maxItems: options.maxBatchCalls ?? 50 }),
    ),
  ]);
}

export type QuarryClient = ReturnType<typeof createQuarryClient>;
/** The server's router as this client sees it: every procedure, without the server's context. */
export type AppRouter = QuarryClient extends TRPCClient<infer TRouter> ? TRouter : never;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type QuarryClientError = TRPCClientError<AppRouter>;

export function isQuarryClientError(error: unknown): error is QuarryClientError {
  return error instanceof TRPCClientError;
}

/** The domain code of a failed call ('DIMENSION_MISMATCH', 'COLLECTION_NOT_FOUND', ...), when it has one. */
export function quarryCodeOf(
  error: unknown,
): NonNullable<QuarryClientError['data']>['quarryCode'] | undefined {
  return isQuarryClientError(error) ? error.data?.quarryCode : undefined;
}
