import { initTRPC } from '@trpc/server';
import { z, ZodError } from 'zod';
import { QuarryError } from '@quarry/db';
import type { Principal, Scope } from './auth';
import type { Context } from './context';
import { quarryCodeOf, toTRPCError } from './errors';

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const zodError = error.cause instanceof ZodError ? z.flattenError(error.cause) : null;
    const isServerFault = shape.data.httpStatus >= 500 && error.code === 'INTERNAL_SERVER_ERROR';
    return {
      ...shape,
      message: isServerFault ? 'internal error' : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        quarryCode: quarryCodeOf(error) ?? (zodError ? 'INVALID_INPUT' : undefined),
        zodError,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Every procedure: domain and database errors become typed tRPC errors here, once. */
const mapErrors = t.middleware(async function mapDomainErrors({ next }) {
  const result = await next();
  // Errors tRPC raised on purpose (input validation) keep their code; anything else thrown by a
  // procedure arrives as INTERNAL_SERVER_ERROR with the original as its cause.
  if (!result.ok && result.error.code === 'INTERNAL_SERVER_ERROR' && result.error.cause) {
    throw toTRPCError(result.error.cause);
  }
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors);

/** The request's principal: any valid key. */
function assertKey(principal: Principal | undefined): Principal {
  if (!principal) {
    throw new QuarryError(
      'UNAUTHORIZED',
      'a valid API key is required: send it as "Authorization: Bearer <key>"',
    );
  }
  return principal;
}

/** The request's principal, if it holds `scope`; procedures and the HTTP streaming ingest ask the same way. */
export function assertScope(principal: Principal | undefined, scope: Scope): Principal {
  const key = assertKey(principal);
  if (!key.scopes.has(scope)) {
    throw new QuarryError('FORBIDDEN', `this API key lacks the '${scope}' scope`);
  }
  return key;
}

function requireScope(scope: Scope) {
  return publicProcedure.use(function hasScope({ ctx, next }) {
    return next({ ctx: { principal: assertScope(ctx.principal, scope) } });
  });
}

/** Any valid key, whatever its scopes: for asking what the key itself may do. */
export const keyProcedure = publicProcedure.use(function hasKey({ ctx, next }) {
  return next({ ctx: { principal: assertKey(ctx.principal) } });
});
export const readProcedure = requireScope('read');
export const writeProcedure = requireScope('write');
export const adminProcedure = requireScope('admin');

/**
 * Operations on a whole collection (create, new index parameters, delete) change what every tenant
 * in it sees, so they need an admin key that is not bound to a tenant. A tenant-bound admin key
 * administers its own tenant's documents only.
 */
export function canManageCollections(principal: Principal): boolean {
  return principal.scopes.has('admin') && principal.tenant === undefined;
}

export const collectionAdminProcedure = adminProcedure.use(function isUnbound({ ctx, path, next }) {
  if (!canManageCollections(ctx.principal)) {
    throw new QuarryError(
      'FORBIDDEN',
      `${path} changes a collection every tenant shares, so it needs an admin key not bound to a tenant; this key is bound to tenant '${ctx.principal.tenant}'`,
    );
  }
  return next();
});
