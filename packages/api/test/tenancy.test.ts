import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { appRouter, contentHash, createCaller, createContextInner } from '../src/index';
import type { MetadataFilter } from '../src/filter';
import { describeEachTarget, createHarness, principal, type Harness } from './harness';

type Caller = ReturnType<Harness['as']>;

/**
 * The tenancy matrix: a key bound to tenant "acme" (with every scope) must never see, count or
 * delete anything of tenant "globex", through any procedure. Every procedure of the router has a
 * case here; one added without a case fails the first test.
 */
describeEachTarget()('tenancy on $name', (target) => {
  let harness: Harness;
  let acme: Caller;
  let globexIds: string[] = [];
  const probe = [1, 0.5, 0.25];
  /** Documents of globex: the secret, its neighbour, and one in a collection acme has nothing in. */
  const globexDocuments = [
    {
      content: 'globex secret plan',
      embedding: [1, 0.5, 0.25],
      externalId: 'plan-1',
      metadata: { kind: 'secret', globexOnly: true },
    },
    {
      content: 'globex other plan',
      embedding: [0.9, 0.5, 0.3],
      metadata: { kind: 'other', globexOnly: 'yes' },
    },
  ];
  const secretTexts = ['globex', 'secret', 'globexOnly', 'plan-1'];
  const globexFilter: MetadataFilter = { key: 'kind', op: 'in', values: ['secret', 'other'] };

  beforeAll(async () => {
    harness = await createHarness(target);
    acme = harness.as(principal(['read', 'write', 'admin'], 'acme'));
    await harness
      .as()
      .collections.create({ name: 'shared', dimensions: 3, embeddingModel: 'external' });
    await harness
      .as()
      .collections.create({ name: 'quiet', dimensions: 3, embeddingModel: 'external' });
    globexIds = (
      await harness
        .as()
        .documents.ingest({ collection: 'shared', tenant: 'globex', documents: globexDocuments })
    ).ids;
    globexIds.push(
      ...(
        await harness.as().documents.ingest({
          collection: 'quiet',
          tenant: 'globex',
          documents: [{ content: 'globex alone', embedding: probe, metadata: { globexOnly: 1 } }],
        })
      ).ids,
    );
    await acme.documents.ingest({
      collection: 'shared',
      documents: [{ content: 'acme own plan', embedding: [0, 1, 0], metadata: { kind: 'own' } }],
    });
  });
  afterAll(() => harness?.close());

  /** Everything of globex, read with an unbound key: it must be the same after every case. */
  async function globexState() {
    return Promise.all(
      ['shared', 'quiet'].map(async (name) => ({
        name,
        documents: (
          await harness.as().documents.list({ collection: name, tenant: 'globex', limit: 500 })
        ).items,
        keys: await harness.as().search.metadataKeys({ collection: name, tenant: 'globex' }),
      })),
    );
  }

  /** Acme's own documents in a collection, read with an unbound key: the reference for acme's counts. */
  async function acmeCount(collection: string) {
    return (await harness.as().documents.count({ collection, tenant: 'acme' })).count;
  }

  /** No globex id, content or metadata key in anything acme is answered. */
  function revealsNothing(answer: unknown) {
    const text = JSON.stringify(answer);
    for (const secret of [...globexIds, ...secretTexts]) expect(text).not.toContain(secret);
  }

  const searchModes = ['vector', 'keyword', 'hybrid'] as const;

  const cases: Record<string, () => Promise<void>> = {
    'auth.whoami': async () => {
      // The key's own tenant, and nothing of any other.
      const me = await acme.auth.whoami();
      expect(me).toMatchObject({ tenant: 'acme', tenantBound: true, canManageCollections: false });
      revealsNothing(me);
    },
    'collections.create': async () => {
      await expect(
        acme.collections.create({ name: 'acme-made', dimensions: 3, embeddingModel: 'external' }),
      ).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringContaining('needs an admin key not bound to a tenant'),
      });
      expect((await harness.as().collections.list()).map((c) => c.name)).not.toContain('acme-made');
    },
    'collections.list': async () => {
      const listed = await acme.collections.list();
      for (const unbound of await harness.as().collections.list()) {
        expect(unbound.tenant).toBeNull();
        expect(unbound.index).not.toBeNull();
      }
      for (const collection of listed) {
        expect(collection.documentCount).toBe(await acmeCount(collection.name));
        // The index's size and state count every tenant's rows; the count is acme's, and says so.
        expect(collection.index).toBeNull();
        expect(collection.tenant).toBe('acme');
      }
      expect(listed.find((c) => c.name === 'shared')?.documentCount).toBeGreaterThan(0);
      revealsNothing(listed);
    },
    'collections.get': async () => {
      for (const name of ['shared', 'quiet']) {
        const detail = await acme.collections.get({ name });
        expect(detail.documentCount).toBe(await acmeCount(name));
        // The table's and the index's figures (live rows, sizes) count every tenant's documents.
        expect(detail.table).toBeNull();
        expect(detail.index).toBeNull();
        revealsNothing(detail);
      }
    },
    'collections.updateIndex': async () => {
      // Weaker parameters would lower every tenant's recall, with no sign of it in their answers.
      const before = await harness.as().collections.get({ name: 'quiet' });
      await expect(
        acme.collections.updateIndex({ name: 'quiet', hnsw: { m: 2, efConstruction: 4 } }),
      ).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringContaining('changes a collection every tenant shares'),
      });
      const after = await harness.as().collections.get({ name: 'quiet' });
      expect({ hnsw: after.hnsw, index: after.index?.name }).toEqual({
        hnsw: before.hnsw,
        index: before.index?.name,
      });
    },
    'collections.delete': async () => {
      for (const name of ['shared', 'quiet']) {
        await expect(acme.collections.delete({ name, confirm: name })).rejects.toMatchObject({
          code: 'FORBIDDEN',
          message: expect.stringContaining('needs an admin key not bound to a tenant'),
        });
      }
    },
    'collections.cluster': async () => {
      // Shards and their row counts span every tenant.
      for (const name of ['shared', 'quiet']) {
        await expect(acme.collections.cluster({ name })).rejects.toMatchObject({
          code: 'FORBIDDEN',
          message: expect.stringContaining('needs an admin key not bound to a tenant'),
        });
      }
    },
    'reembed.start': async () => {
      // A new model for a collection every tenant shares would change their search results too.
      await expect(
        acme.reembed.start({ collection: 'quiet', model: 'external', dimensions: 3 }),
      ).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringContaining('needs an admin key not bound to a tenant'),
      });
      expect(await harness.as().reembed.progress({ collection: 'quiet' })).toBeNull();
    },
    'reembed.progress': async () => {
      // Its counts are every tenant's documents.
      for (const collection of ['shared', 'quiet']) {
        await expect(acme.reembed.progress({ collection })).rejects.toMatchObject({
          code: 'FORBIDDEN',
        });
      }
    },
    'reembed.cancel': async () => {
      await expect(acme.reembed.cancel({ collection: 'quiet' })).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringContaining('needs an admin key not bound to a tenant'),
      });
    },
    'documents.ingest': async () => {
      // The same external id and content as globex's document make a new document of acme's own.
      const { ids } = await acme.documents.ingest({
        collection: 'shared',
        documents: [{ ...globexDocuments[0]!, metadata: { kind: 'copy' } }],
      });
      expect(globexIds).not.toContain(ids[0]);
      expect((await harness.as().documents.get({ collection: 'shared', id: ids[0]! })).tenant).toBe(
        'acme',
      );
      await acme.documents.delete({ collection: 'shared', ids });
      await expect(
        acme.documents.ingest({
          collection: 'shared',
          tenant: 'globex',
          documents: [{ content: 'x', embedding: probe }],
        }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    },
    'documents.stored': async () => {
      // Globex's documents, asked about by acme: none is acme's, so none is stored for it.
      const items = globexDocuments.map(({ content, ...rest }) => ({
        ...rest,
        contentHash: contentHash(content),
      }));
      for (const collection of ['shared', 'quiet'])
        expect(await acme.documents.stored({ collection, items })).toEqual({ stored: [] });
      expect(
        (await harness.as().documents.stored({ collection: 'shared', tenant: 'globex', items }))
          .stored,
      ).toHaveLength(2);
      await expect(
        acme.documents.stored({ collection: 'shared', tenant: 'globex', items }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    },
    'documents.get': async () => {
      for (const id of globexIds) {
        for (const collection of ['shared', 'quiet']) {
          await expect(acme.documents.get({ collection, id })).rejects.toMatchObject({
            code: 'NOT_FOUND',
          });
        }
      }
      await expect(
        acme.documents.get({ collection: 'shared', id: globexIds[0]!, tenant: 'globex' }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    },
    'documents.list': async () => {
      for (const collection of ['shared', 'quiet']) {
        const { items } = await acme.documents.list({ collection, limit: 500 });
        expect(items.map((item) => item.tenant)).toEqual(items.map(() => 'acme'));
        expect(items).toHaveLength(await acmeCount(collection));
        expect((await acme.documents.list({ collection, filter: globexFilter })).items).toEqual([]);
      }
      await expect(
        acme.documents.list({ collection: 'shared', tenant: 'globex' }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    },
    'documents.count': async () => {
      for (const collection of ['shared', 'quiet']) {
        expect((await acme.documents.count({ collection })).count).toBe(
          await acmeCount(collection),
        );
        expect((await acme.documents.count({ collection, filter: globexFilter })).count).toBe(0);
      }
      await expect(
        acme.documents.count({ collection: 'shared', tenant: 'globex' }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    },
    'documents.delete': async () => {
      expect(await acme.documents.delete({ collection: 'shared', ids: globexIds })).toEqual({
        deleted: 0,
        ids: [],
      });
      expect(await acme.documents.delete({ collection: 'shared', filter: globexFilter })).toEqual({
        deleted: 0,
        ids: [],
      });
      expect(
        await acme.documents.delete({
          collection: 'shared',
          createdAfter: '2000-01-01T00:00:00Z',
          filter: { key: 'globexOnly', op: 'exists' },
        }),
      ).toEqual({ deleted: 0, ids: [] });
      expect(await acme.documents.delete({ collection: 'quiet', all: true })).toEqual({
        deleted: 0,
        ids: [],
      });
      await expect(
        acme.documents.delete({ collection: 'shared', tenant: 'globex', all: true }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
      // Acme's own: deleted, and put back for the cases after this one.
      const own = (await acme.documents.list({ collection: 'shared' })).items;
      expect((await acme.documents.delete({ collection: 'shared', all: true })).deleted).toBe(
        own.length,
      );
      await acme.documents.ingest({
        collection: 'shared',
        documents: own.map(({ content, metadata }) => ({
          content,
          metadata,
          embedding: [0, 1, 0],
        })),
      });
    },
    'search.query': async () => {
      const acmeOwn = await acmeCount('shared');
      for (const mode of searchModes) {
        for (const exact of [false, true]) {
          const { results, stats } = await acme.search.query({
            collection: 'shared',
            mode,
            text: 'globex secret plan',
            vector: probe,
            k: 10,
            exact,
          });
          expect(results.map((r) => r.tenant)).toEqual(results.map(() => 'acme'));
          expect(results.length).toBeLessThanOrEqual(acmeOwn);
          if (stats.matchedRows !== null) expect(stats.matchedRows).toBeLessThanOrEqual(acmeOwn);
          revealsNothing(results);
          expect(
            (
              await acme.search.query({
                collection: 'shared',
                mode,
                text: 'plan',
                vector: probe,
                filter: globexFilter,
                exact,
              })
            ).results,
          ).toEqual([]);
        }
      }
      for (const id of globexIds) {
        await expect(
          acme.search.query({ collection: 'shared', likeDocumentId: id }),
        ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      }
      await expect(
        acme.search.query({ collection: 'shared', vector: probe, tenant: 'globex' }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
      // Plans count every tenant's rows (index scans, estimates, rows removed by the filter).
      for (const mode of searchModes) {
        await expect(
          acme.search.query({
            collection: 'shared',
            mode,
            text: 'plan',
            vector: probe,
            explain: true,
          }),
        ).rejects.toMatchObject({
          code: 'FORBIDDEN',
          message: expect.stringContaining('explain needs an API key not bound to a tenant'),
        });
      }
    },
    'search.inspectDocument': async () => {
      for (const id of globexIds) {
        await expect(
          acme.search.inspectDocument({ collection: 'shared', vector: probe, documentId: id }),
        ).rejects.toMatchObject({ code: 'NOT_FOUND' });
      }
      // Globex's documents are nearer the probe than acme's: they must not count towards its rank.
      const [own] = (await acme.documents.list({ collection: 'shared' })).items;
      const inspected = await acme.search.inspectDocument({
        collection: 'shared',
        vector: probe,
        documentId: own!.id,
      });
      const exact = await acme.search.query({
        collection: 'shared',
        vector: probe,
        exact: true,
        k: 10,
      });
      expect(inspected.exactRank).toBe(exact.results.findIndex((r) => r.id === own!.id) + 1);
    },
    'search.metadataKeys': async () => {
      for (const collection of ['shared', 'quiet']) {
        const keys = await acme.search.metadataKeys({ collection });
        const reference = await harness.as().search.metadataKeys({ collection, tenant: 'acme' });
        expect(keys).toEqual(reference);
        revealsNothing(keys);
      }
      await expect(
        acme.search.metadataKeys({ collection: 'shared', tenant: 'globex' }),
      ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    },
  };

  it('has a case for every procedure of the router', () => {
    expect(Object.keys(cases).sort()).toEqual(Object.keys(appRouter._def.procedures).sort());
  });

  for (const [procedure, run] of Object.entries(cases)) {
    it(`${procedure}: a key bound to another tenant sees, counts and deletes nothing of globex's`, async () => {
      const before = await globexState();
      await run();
      expect(await globexState()).toEqual(before);
    });
  }

  it('any search by the bound key, in any mode and with any filter, returns only its own documents', async () => {
    const before = await globexState();
    const filterArb: fc.Arbitrary<MetadataFilter | undefined> = fc.option(
      fc.oneof(
        fc.record({
          key: fc.constantFrom('kind', 'globexOnly', 'missing'),
          op: fc.constant('exists' as const),
        }),
        fc.record({
          key: fc.constant('kind'),
          op: fc.constantFrom('eq' as const, 'ne' as const),
          value: fc.constantFrom('secret', 'other', 'own'),
        }),
        fc.record({
          not: fc.record({
            key: fc.constant('kind'),
            op: fc.constant('eq' as const),
            value: fc.constantFrom('secret', 'own'),
          }),
        }),
      ),
      { nil: undefined },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          mode: fc.constantFrom(...searchModes),
          text: fc.constantFrom(
            'plan',
            'globex secret',
            'acme own plan',
            'other OR secret',
            '"secret plan"',
          ),
          // Not zero as pgvector stores it: the collection uses cosine distance.
          vector: fc
            .array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 3, maxLength: 3 })
            .filter((vector) => vector.some((x) => Math.fround(Math.fround(x) ** 2) !== 0)),
          k: fc.integer({ min: 1, max: 20 }),
          exact: fc.boolean(),
          filter: filterArb,
        }),
        async (input) => {
          const { results } = await acme.search.query({ collection: 'shared', ...input });
          expect(results.filter((r) => r.tenant !== 'acme')).toEqual([]);
          revealsNothing(results);
        },
      ),
      { numRuns: 25 },
    );
    expect(await globexState()).toEqual(before);
  });

  /** An answer or the error instead, with the one figure that is the request's own: its duration. */
  async function settled(call: () => Promise<unknown>): Promise<unknown> {
    try {
      const answer = await call();
      if (answer && typeof answer === 'object' && 'stats' in answer) {
        const { stats, ...rest } = answer as { stats: Record<string, unknown> };
        return { ...rest, stats: { ...stats, tookMs: 'the request’s own' } };
      }
      return answer;
    } catch (error) {
      const { code, message } = error as { code?: string; message?: string };
      return { error: { code, message } };
    }
  }

  /** Every read the bound key can make, by procedure: one entry for each query of the router. */
  async function acmeView(): Promise<Record<string, unknown>> {
    const [own] = (await acme.documents.list({ collection: 'shared' })).items;
    const query = { collection: 'shared', text: 'globex secret plan', vector: probe, k: 10 };
    const searches: unknown[] = [];
    for (const mode of searchModes) {
      for (const exact of [false, true]) {
        for (const explain of [false, true]) {
          searches.push(await settled(() => acme.search.query({ ...query, mode, exact, explain })));
        }
        searches.push(
          await settled(() =>
            acme.search.query({ ...query, mode, exact, filter: { key: 'kind', op: 'exists' } }),
          ),
          await settled(() =>
            acme.search.query({ ...query, mode, exact, minSimilarity: 0.5, k: 1 }),
          ),
        );
      }
    }
    for (const id of [own!.id, globexIds[0]!]) {
      searches.push(
        await settled(() => acme.search.query({ collection: 'shared', likeDocumentId: id })),
      );
    }
    const each = <T>(values: readonly T[], call: (value: T) => Promise<unknown>) =>
      Promise.all(values.map((value) => settled(() => call(value))));
    return {
      'auth.whoami': await settled(() => acme.auth.whoami()),
      'collections.list': await settled(() => acme.collections.list()),
      'collections.get': await each(['shared', 'quiet'], (name) => acme.collections.get({ name })),
      'documents.get': await each([own!.id, globexIds[0]!], (id) =>
        acme.documents.get({ collection: 'shared', id, includeEmbedding: true }),
      ),
      'documents.list': await each(['shared', 'quiet'], (collection) =>
        acme.documents.list({ collection, limit: 1 }),
      ),
      'documents.stored': await settled(() =>
        acme.documents.stored({
          collection: 'shared',
          items: [own!, { content: globexDocuments[0]!.content }].map(({ content }) => ({
            contentHash: createHash('md5').update(content).digest('hex'),
          })),
        }),
      ),
      'documents.count': await each([undefined, globexFilter], (filter) =>
        acme.documents.count({ collection: 'shared', filter }),
      ),
      'search.query': searches,
      'search.inspectDocument': await each([own!.id, globexIds[0]!], (documentId) =>
        acme.search.inspectDocument({ ...query, documentId }),
      ),
      'search.metadataKeys': await each(['shared', 'quiet'], (collection) =>
        acme.search.metadataKeys({ collection }),
      ),
      'collections.cluster': await each(['shared', 'quiet'], (name) =>
        acme.collections.cluster({ name }),
      ),
      'reembed.progress': await each(['shared', 'quiet'], (collection) =>
        acme.reembed.progress({ collection }),
      ),
    };
  }

  it("nothing the bound key is answered changes when another tenant's data or the index does", async () => {
    const reads = Object.entries(appRouter._def.procedures)
      .filter(
        ([, procedure]) =>
          (procedure as unknown as { _def: { type: string } })._def.type === 'query',
      )
      .map(([path]) => path);
    const before = await acmeView();

    // A thousand documents of globex's, with the words acme searches for and vectors near its probe.
    const many = Array.from({ length: 1000 }, (_, i) => ({
      content: `globex plan ${i}: own acme secret plan, kind ${i % 7}`,
      embedding: [1, 0.5 + (i % 10) / 100, 0.25],
      metadata: { kind: i % 2 ? 'own' : 'secret', n: i },
    }));
    await harness
      .as()
      .documents.ingest({ collection: 'shared', tenant: 'globex', documents: many });
    expect(await acmeView()).toEqual(before);

    // The index rebuilt with other parameters by an unbound admin key: only the parameters show.
    const { hnsw } = await harness.as().collections.get({ name: 'shared' });
    const rebuilt = { m: hnsw.m === 4 ? 6 : 4, efConstruction: 24 };
    await harness.as().collections.updateIndex({ name: 'shared', hnsw: rebuilt });
    // Compared as the client receives them, in JSON; before, with the new parameters.
    const asJson = (view: Record<string, unknown>) =>
      JSON.parse(JSON.stringify(view)) as Record<string, Array<{ name?: string; hnsw?: unknown }>>;
    const expected = asJson(before);
    for (const described of [...expected['collections.list']!, ...expected['collections.get']!])
      if (described.name === 'shared') described.hnsw = rebuilt;
    expect(asJson(await acmeView())).toEqual(expected);
    await harness.as().collections.updateIndex({ name: 'shared', hnsw });
    expect(Object.keys(before).sort()).toEqual(reads.sort());
  });

  it('an unauthenticated caller is refused with a hint', async () => {
    const anonymous = createCaller(createContextInner(harness.services, undefined));
    await expect(
      anonymous.search.query({ collection: 'shared', vector: probe }),
    ).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
      message: 'a valid API key is required: send it as "Authorization: Bearer <key>"',
    });
  });
});
