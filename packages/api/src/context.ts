import type { Database } from '@quarry/db';
import { credentialFromHeaders, type ApiKeyVerifier, type Principal } from './auth';
import type { EmbeddingRegistry } from './embeddings';
import { defaultLimits, type Limits } from './limits';
import { replicaSetOf, type ReplicaSet } from './replicas';
import { createResponseBudget, type ResponseBudget } from './response-budget';

/** What the API needs from the outside world; the server builds it once and passes it in. */
export interface QuarryServices {
  /** The primary: every write, and reads that must see them. */
  database: Database;
  /**
   * Read replicas for searches, with their health (`createReplicaSet`); none means the primary
   * serves reads too. A plain array gets a set of its own, kept for as long as the array lives.
   */
  replicas?: ReplicaSet | readonly Database[];
  embeddings: EmbeddingRegistry;
  limits?: Partial<Limits>;
}

export interface Context {
  database: Database;
  replicas: ReplicaSet;
  embeddings: EmbeddingRegistry;
  limits: Limits;
  /** `undefined` when the request carried no valid credential. */
  principal: Principal | undefined;
  requestId: string | undefined;
  /** What this request's results may still add to the response: every call of a batch draws on it. */
  responseBudget: ResponseBudget;
}

/** The context without any transport: tests build it directly and call procedures through a caller. */
export function createContextInner(
  services: QuarryServices,
  principal: Principal | undefined,
  requestId?: string,
): Context {
  return {
    database: services.database,
    replicas: replicaSetOf(services.replicas ?? []),
    embeddings: services.embeddings,
    limits: { ...defaultLimits, ...services.limits },
    principal,
    requestId,
    responseBudget: createResponseBudget(),
  };
}

/** For HTTP adapters: resolves the request's API key against the configured keys. */
export function createContextFactory(services: QuarryServices, apiKeys: ApiKeyVerifier) {
  return ({ headers, requestId }: { headers: Headers; requestId?: string }): Context =>
    createContextInner(services, apiKeys.verify(credentialFromHeaders(headers)), requestId);
}
