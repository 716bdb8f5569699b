import { QuarryError } from '@quarry/db';
import type { Principal } from './auth';

export const DEFAULT_TENANT = 'default';

/**
 * The tenant a request acts on. A key bound to a tenant always acts on that tenant and may not name
 * another. An unbound key reads across all tenants unless it names one, and writes to the
 * 'default' tenant unless it names one.
 */
export function resolveTenant(
  principal: Principal,
  requested: string | undefined,
  purpose: 'read',
): string | undefined;
export function resolveTenant(
  principal: Principal,
  requested: string | undefined,
  purpose: 'write',
): string;
export function resolveTenant(
  principal: Principal,
  requested: string | undefined,
  purpose: 'read' | 'write',
): string | undefined {
  if (principal.tenant !== undefined) {
    if (requested !== undefined && requested !== principal.tenant) {
      throw new QuarryError(
        'FORBIDDEN',
        `this API key is bound to tenant '${principal.tenant}' and cannot act on tenant '${requested}'`,
      );
    }
    return principal.tenant;
  }
  return requested ?? (purpose === 'write' ? DEFAULT_TENANT : undefined);
}
