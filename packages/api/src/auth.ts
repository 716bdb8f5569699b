import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

export const scopes = ['read', 'write', 'admin'] as const;
export type Scope = (typeof scopes)[number];

export const apiKeyConfigSchema = z.object({
  key: z.string().min(16, 'API keys must be at least 16 characters'),
  name: z.string().min(1).optional(),
  scopes: z.array(z.enum(scopes)).min(1),
  /** A key bound to a tenant sees and changes only that tenant's documents. */
  tenant: z.string().min(1).optional(),
});
export type ApiKeyConfig = z.infer<typeof apiKeyConfigSchema>;

export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  tenant: string | undefined;
}

/** With no keys configured, Quarry is open (local development); the server says so at start. */
export const openAccess: Principal = {
  name: 'open-access',
  scopes: new Set(scopes),
  tenant: undefined,
};

const digest = (value: string) => createHash('sha256').update(value).digest();

export interface ApiKeyVerifier {
  /** `undefined`: the credential matched no key. */
  verify(presented: string | undefined): Principal | undefined;
  readonly open: boolean;
}

export function createApiKeyVerifier(keys: readonly ApiKeyConfig[]): ApiKeyVerifier {
  const known = keys.map((key, index) => ({
    digest: digest(key.key),
    principal: {
      name: key.name ?? `key-${index + 1}`,
      scopes: new Set(key.scopes),
      tenant: key.tenant,
    } satisfies Principal,
  }));
  return {
    open: known.length === 0,
    verify(presented) {
      if (known.length === 0) return openAccess;
      if (!presented) return undefined;
      const presentedDigest = digest(presented);
      // Compare against every key in constant time per key, so timing says nothing about which.
      let match: Principal | undefined;
      for (const candidate of known) {
        if (timingSafeEqual(candidate.digest, presentedDigest)) match = candidate.principal;
      }
      return match;
    },
  };
}

/** `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export function credentialFromHeaders(headers: Headers): string | undefined {
  const authorization = headers.get('authorization');
  if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  return headers.get('x-api-key') ?? undefined;
}
