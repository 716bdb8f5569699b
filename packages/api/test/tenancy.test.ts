import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, principal, testTargets, type Harness } from './harness';

/**
 * The tenancy matrix: a key bound to tenant "acme" must never read, count, list, search, inspect or
 * delete tenant "globex"'s documents, through any procedure.
 */
describe.each(testTargets())('tenancy on $name', (target) => {
  let harness: Harness;
  let globexIds: string[] = [];
  const acme = principal(['read', 'write'], 'acme');
  const acmeAdmin = principal(['read', 'write', 'admin'], 'acme');
  const probe = [1, 0.5, 0.25];

  beforeAll(async () => {
    harness = await createHarness(target);
    await harness.as().collections.create({ name: 'shared', dimensions: 3, embeddingModel: 'external' });
    globexIds = (
      await harness.as().documents.ingest({
        collection: 'shared',
        tenant: 'globex',
        documents: [
          { content: 'globex secret plan', embedding: [1, 0.5, 0.25], metadata: { kind: 'secret' } },
          { content: 'globex other plan', embedding: [0.9, 0.5, 0.3], metadata: { kind: 'other' } },
        ],
      })
    ).ids;
    await harness.as(acme).documents.ingest({ collection: 'shared', documents: [{ content: 'acme own plan', embedding: [0, 1, 0], metadata: { kind: 'own' } }] });
  });
  afterAll(() => harness?.close());

  it('writes of a bound key land in its own tenant', async () => {
    const { items } = await harness.as().documents.list({ collection: 'shared', tenant: 'acme' });
    expect(items.map((i) => i.content)).toEqual(['acme own plan']);
  });

  it('search sees only its tenant, in every mode', async () => {
    for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
      const { results } = await harness.as(acme).search.query({ collection: 'shared', mode, text: 'plan', vector: probe, k: 10 });
      expect(results.map((r) => r.tenant)).toEqual(results.map(() => 'acme'));
      expect(results.some((r) => r.content.includes('globex'))).toBe(false);
    }
    const exact = await harness.as(acme).search.query({ collection: 'shared', vector: probe, k: 10, exact: true });
    expect(exact.results.map((r) => r.content)).toEqual(['acme own plan']);
  });

  it('naming the other tenant is refused', async () => {
    await expect(harness.as(acme).search.query({ collection: 'shared', vector: probe, tenant: 'globex' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(harness.as(acme).documents.list({ collection: 'shared', tenant: 'globex' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(harness.as(acme).documents.ingest({ collection: 'shared', tenant: 'globex', documents: [{ content: 'x', embedding: probe }] })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('get, more-like-this and inspect do not reveal the other tenant documents', async () => {
    const id = globexIds[0]!;
    await expect(harness.as(acme).documents.get({ collection: 'shared', id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(harness.as(acme).search.query({ collection: 'shared', likeDocumentId: id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(harness.as(acme).search.inspectDocument({ collection: 'shared', vector: probe, documentId: id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('list, count and collection stats count only its tenant', async () => {
    expect((await harness.as(acme).documents.count({ collection: 'shared' })).count).toBe(1);
    expect((await harness.as(acme).documents.list({ collection: 'shared' })).items).toHaveLength(1);
    const listed = (await harness.as(acme).collections.list()).find((c) => c.name === 'shared');
    expect(listed?.documentCount).toBe(1);
    expect((await harness.as(acme).collections.get({ name: 'shared' })).documentCount).toBe(1);
  });

  it('delete by ids, by filter or all touches nothing of the other tenant', async () => {
    expect((await harness.as(acme).documents.delete({ collection: 'shared', ids: globexIds })).deleted).toBe(0);
    expect((await harness.as(acme).documents.delete({ collection: 'shared', filter: { key: 'kind', op: 'eq', value: 'secret' } })).deleted).toBe(0);
    await expect(harness.as(acmeAdmin).collections.delete({ name: 'shared', confirm: 'shared' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await harness.as(acme).documents.delete({ collection: 'shared', all: true })).deleted).toBe(1);
    expect((await harness.as().documents.count({ collection: 'shared', tenant: 'globex' })).count).toBe(2);
  });

  it('an unauthenticated caller is refused with a hint', async () => {
    const { createCaller, createContextInner } = await import('../src/index');
    const anonymous = createCaller(createContextInner(harness.services, undefined));
    await expect(anonymous.search.query({ collection: 'shared', vector: probe })).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'a valid API key is required: send it as "Authorization: Bearer <key>"',
    });
  });
});
