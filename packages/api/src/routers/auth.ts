import type { TRPCRouterRecord } from '@trpc/server';
import { scopes } from '../auth';
import { canManageCollections, keyProcedure } from '../trpc';

export const authRouter = {
  /**
   * What the caller's own key may do, so a client can offer only what it will be allowed: its
   * scopes, its own tenant if bound to one, and whether it may change whole collections.
   */
  whoami: keyProcedure.query(({ ctx: { principal } }) => ({
    name: principal.name,
    scopes: scopes.filter((scope) => principal.scopes.has(scope)),
    tenant: principal.tenant ?? null,
    tenantBound: principal.tenant !== undefined,
    canManageCollections: canManageCollections(principal),
  })),
} satisfies TRPCRouterRecord;
