import { QueryClient, type UseQueryResult } from '@tanstack/react-query';
import {
  createTRPCClient,
  httpBatchLink,
  TRPCClientError,
  type TRPCClientErrorLike,
} from '@trpc/client';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '@quarry/api';
import { readApiKey } from './api-key';

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/** Same origin only: the server that serves this dashboard serves the API at /trpc. */
export function createApiClient() {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: '/trpc',
        // Queries go as POST, as the typed client sends them: a pasted query vector of 1,536
        // numbers is about 34 KB, which a URL cannot carry (the server answers 431).
        methodOverride: 'POST',
        headers() {
          const key = readApiKey();
          return key ? { authorization: `Bearer ${key}` } : {};
        },
      }),
    ],
  });
}

/** Errors the API answered with (bad input, missing key) do not get better by asking again. */
function isRetryable(failureCount: number, error: unknown): boolean {
  if (error instanceof TRPCClientError) {
    const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
    if (status !== undefined && status < 500) return false;
  }
  return failureCount < 2;
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: isRetryable, refetchOnWindowFocus: false, staleTime: 15_000 },
    },
  });
}

/** What a failed API call rejects with. */
export type ApiError = TRPCClientErrorLike<AppRouter>;
/** A query's state as components receive it from the page that ran it. */
export type ApiQuery<TData> = UseQueryResult<TData, ApiError>;
