import { afterAll, beforeAll, expect, it } from 'vitest';
import { textSearchConfigs } from '@quarry/db';
import { COPY_FROM_ITEMS } from '../src/ingest';
import { createHarness, describeEachTarget, hashedBagOfWords, type Harness } from './harness';

const DIMENSIONS = 16;
const MODEL = 'test/bow-16';
// Enough documents for the COPY write path; the second ingest, of one, takes the statement path.
const copied = [
  'the running tides',
  ...Array.from({ length: COPY_FROM_ITEMS }, (_, i) => `filler note ${i}`),
];
const statement = 'run to the hills';

describeEachTarget()('text-search configuration per collection on $name', (target) => {
  let harness: Harness;
  const contents = async (
    collection: string,
    text: string,
    mode: 'keyword' | 'hybrid' = 'keyword',
  ) => {
    const { results } = await harness.as().search.query({ collection, mode, text, k: 50 });
    return results
      .filter((result) => mode === 'keyword' || result.keywordRank !== null)
      .map((result) => result.content)
      .sort();
  };

  beforeAll(async () => {
    harness = await createHarness(target, { providers: [hashedBagOfWords(MODEL, DIMENSIONS)] });
    for (const [name, textSearchConfig] of [
      ['plain', 'simple'],
      ['stems', 'english'],
    ] as const) {
      await harness.as().collections.create({
        name,
        dimensions: DIMENSIONS,
        embeddingModel: MODEL,
        textSearchConfig,
      });
      const bulk = await harness.as().documents.ingest({
        collection: name,
        documents: copied.map((content) => ({ content })),
      });
      const single = await harness.as().documents.ingest({
        collection: name,
        documents: [{ content: statement }],
      });
      // Both write paths are exercised, and each must copy the collection's configuration.
      expect([bulk.strategy, single.strategy]).toEqual(['copy', 'rows']);
    }
    await harness
      .as()
      .collections.create({ name: 'unset', dimensions: DIMENSIONS, embeddingModel: MODEL });
  });
  afterAll(() => harness?.close());

  it('shows the setting in create, get and list, english when not given', async () => {
    expect((await harness.as().collections.get({ name: 'plain' })).textSearchConfig).toBe('simple');
    expect((await harness.as().collections.get({ name: 'unset' })).textSearchConfig).toBe(
      'english',
    );
    const listed = await harness.as().collections.list();
    expect(
      Object.fromEntries(
        listed.map((collection) => [collection.name, collection.textSearchConfig]),
      ),
    ).toMatchObject({ plain: 'simple', stems: 'english', unset: 'english' });
  });

  it('finds a stop word in a simple collection, not in an english one', async () => {
    expect(await contents('plain', 'the')).toEqual([statement, 'the running tides']);
    expect(await contents('stems', 'the')).toEqual([]);
  });

  it('matches words as written in a simple collection: "run" does not find "running"', async () => {
    expect(await contents('plain', 'run')).toEqual([statement]);
    expect(await contents('plain', 'running')).toEqual(['the running tides']);
  });

  it('stems in an english collection: "run" finds "running" and "run"', async () => {
    expect(await contents('stems', 'run')).toEqual([statement, 'the running tides']);
    expect(await contents('stems', 'running')).toEqual([statement, 'the running tides']);
  });

  it("parses the OR fallback's terms with the collection's configuration", async () => {
    // No document holds every word, so the fallback answers, term by term.
    expect(await contents('plain', 'hills running')).toEqual([statement, 'the running tides']);
    expect(await contents('plain', 'runs hill')).toEqual([]);
    expect(await contents('stems', 'runs hill')).toEqual([statement, 'the running tides']);
  });

  it("ranks hybrid search's keyword side with the collection's configuration", async () => {
    expect(await contents('plain', 'the', 'hybrid')).toEqual([statement, 'the running tides']);
    expect(await contents('stems', 'the', 'hybrid')).toEqual([]);
  });

  it('refuses an unknown configuration with a 400 that names the allowed ones, creating nothing', async () => {
    const refusal = harness.as().collections.create({
      name: 'klingon',
      dimensions: DIMENSIONS,
      embeddingModel: MODEL,
      // @ts-expect-error: not one of the configurations
      textSearchConfig: 'klingon',
    });
    await expect(refusal).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining(
        `unknown text-search configuration 'klingon'; use one of: ${textSearchConfigs.join(', ')}`,
      ),
    });
    await expect(harness.as().collections.get({ name: 'klingon' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
