import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCaller, createContextInner } from '../src/index';
import { describeEachTarget, createHarness, principal, type Harness } from './harness';

/** `auth.whoami`: what a client may offer the caller, the same rule the procedures enforce. */
describeEachTarget(['pglite'])('auth.whoami on $name', (target) => {
  let harness: Harness;
  const admin = principal(['read', 'write', 'admin']);
  const reader = principal(['read']);
  const boundAdmin = principal(['admin', 'read', 'write'], 'acme');

  beforeAll(async () => {
    harness = await createHarness(target);
  });
  afterAll(() => harness?.close());

  /** Whether `who` could really create (and so change) a collection, asked of the procedure itself. */
  async function createsCollection(who: typeof admin, name: string): Promise<boolean> {
    return harness
      .as(who)
      .collections.create({ name, dimensions: 3, embeddingModel: 'external' })
      .then(
        () => true,
        () => false,
      );
  }

  it('an unbound admin key may manage collections, and can', async () => {
    expect(await harness.as(admin).auth.whoami()).toEqual({
      name: admin.name,
      scopes: ['read', 'write', 'admin'],
      tenant: null,
      tenantBound: false,
      canManageCollections: true,
    });
    expect(await createsCollection(admin, 'by-admin')).toBe(true);
  });

  it('a read key may only read, and cannot manage collections', async () => {
    expect(await harness.as(reader).auth.whoami()).toEqual({
      name: reader.name,
      scopes: ['read'],
      tenant: null,
      tenantBound: false,
      canManageCollections: false,
    });
    expect(await createsCollection(reader, 'by-reader')).toBe(false);
  });

  it('a tenant-bound admin key is told its own tenant, and cannot manage collections', async () => {
    expect(await harness.as(boundAdmin).auth.whoami()).toEqual({
      name: boundAdmin.name,
      scopes: ['read', 'write', 'admin'],
      tenant: 'acme',
      tenantBound: true,
      canManageCollections: false,
    });
    expect(await createsCollection(boundAdmin, 'by-acme')).toBe(false);
  });

  it('a request without a valid key is unauthorized', async () => {
    const anonymous = createCaller(createContextInner(harness.services, undefined));
    await expect(anonymous.auth.whoami()).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });
});
