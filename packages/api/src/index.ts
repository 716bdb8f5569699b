import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from './root';
import { appRouter } from './root';
import { createCallerFactory } from './trpc';

export { appRouter, type AppRouter };
export const createCaller = createCallerFactory(appRouter);
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export {
  createContextFactory,
  createContextInner,
  type Context,
  type QuarryServices,
} from './context';
export {
  apiKeyConfigSchema,
  createApiKeyVerifier,
  openAccess,
  scopes,
  type ApiKeyConfig,
  type ApiKeyVerifier,
  type Principal,
  type Scope,
} from './auth';
export { contentHash } from './content-hash';
export {
  ingestDocuments,
  withDeferredIndex,
  type IndexReport,
  type IngestItem,
  type IngestOptions,
  type IngestResult,
  type IngestStrategy,
  type StoredQueryItem,
} from './ingest';
export { ingestItemSchema } from './ingest-input';
export { defaultLimits, HARD_LIMITS, limitsSchema, type Limits } from './limits';
export { isDatabaseUnavailable } from './errors';
export {
  createReplicaSet,
  DEFAULT_REPLICA_BACKOFF,
  onReplica,
  replicaSetOf,
  type ReplicaBackoff,
  type ReplicaSet,
  type ReplicaStatus,
} from './replicas';
export type { SearchInput, SearchMode } from './search/input';
export type { SearchResponse, SearchResult, SearchStats, VectorStrategy } from './search/execute';
export {
  openIngestStream,
  streamErrorOf,
  type IngestStream,
  type StreamError,
} from './ingest-stream';
