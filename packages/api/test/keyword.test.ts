import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitKeywordQuery } from '../src/search/keyword-query';
import { HYBRID_DEFAULTS } from '../src/search/fuse';
import {
  createHarness,
  describeEachTarget,
  hashedBagOfWords,
  planShape,
  principal,
  type Harness,
} from './harness';

describe('splitKeywordQuery', () => {
  it('keeps phrases whole, exclusions apart, and drops or', () => {
    expect(splitKeywordQuery('space "moon landing" or rockets -soviet -"cold war"')).toEqual({
      terms: ['space', 'moon landing', 'rockets'],
      excluded: '-soviet -"cold war"',
    });
    expect(splitKeywordQuery('"unbalanced phrase')).toEqual({
      terms: ['unbalanced phrase'],
      excluded: '',
    });
    expect(splitKeywordQuery('a a A - -- ""')).toEqual({
      terms: ['a', 'A', '-'],
      excluded: '--',
    });
  });
});

const DIMENSIONS = 16;
// Filler makes "nation" and "great" common, so rare words weigh more than common ones.
const filler = Array.from({ length: 40 }, (_, i) => `the great nation and its people, note ${i}`);
const named = {
  all: 'space exploration will take us to the moon',
  moon: 'the moon rose over the great nation',
  exploration: 'exploration of the west by the great nation',
  phrase: 'the cold war ended and the moon was reached',
  apart: 'war is cold comfort for the moon',
};

describeEachTarget()('keyword search on $name', (target) => {
  let harness: Harness;
  const idOf = new Map<string, string>();
  const search = (text: string, extra: Record<string, unknown> = {}) =>
    harness.as().search.query({ collection: 'kw', mode: 'keyword', text, k: 10, ...extra });
  const names = (results: Array<{ id: string }>) => {
    const byId = new Map([...idOf].map(([name, id]) => [id, name]));
    return results.map((result) => byId.get(result.id) ?? 'filler');
  };

  beforeAll(async () => {
    harness = await createHarness(target, {
      providers: [hashedBagOfWords('test/bow-16', DIMENSIONS)],
    });
    await harness.as().collections.create({
      name: 'kw',
      dimensions: DIMENSIONS,
      embeddingModel: 'test/bow-16',
    });
    const entries = Object.entries(named);
    const { ids } = await harness.as().documents.ingest({
      collection: 'kw',
      tenant: 'acme',
      documents: [
        ...entries.map(([name, content]) => ({ content, externalId: name })),
        ...filler.map((content) => ({ content })),
      ],
    });
    entries.forEach(([name], index) => idOf.set(name, ids[index]!));
  });
  afterAll(() => harness?.close());

  it('answers each search by its own words, exclusions and tenant, also in a shape searched before', async () => {
    // The statement of a shape (number of terms, exclusions or not, tenant or not) is built once
    // and given each search's values: a value kept from an earlier search would show here.
    for (let round = 0; round < 2; round++) {
      expect(new Set(names((await search('moon space -war')).results))).toEqual(
        new Set(['all', 'moon']),
      );
      expect(names((await search('west exploration -moon')).results)).toEqual(['exploration']);
      const asTenant = (tenant: string) =>
        harness
          .as(principal(['read'], tenant))
          .search.query({ collection: 'kw', mode: 'keyword', text: 'moon space -war', k: 10 });
      expect(new Set(names((await asTenant('acme')).results))).toEqual(new Set(['all', 'moon']));
      expect((await asTenant('globex')).results).toEqual([]);
    }
  });

  it('answers a natural-language query by the words it shares, the passage with all of them first', async () => {
    const { results } = await search('space exploration moon');
    const found = names(results);
    expect(found[0]).toBe('all');
    // Every passage with any of the words, none without.
    expect(new Set(found)).toEqual(new Set(['all', 'moon', 'exploration', 'phrase', 'apart']));
    expect(results.map((r) => r.score)).toEqual(
      [...results.map((r) => r.score)].sort((a, b) => b - a),
    );
  });

  it('ranks a rare word above a common one', async () => {
    // "great" is in most rows, "exploration" in two: the one with the rare word comes first.
    const { results } = await search('great exploration');
    expect(names(results).slice(0, 2).sort()).toEqual(['all', 'exploration']);
  });

  it('answers by every word when at least k rows have them all', async () => {
    const { results } = await search('great nation', { k: 5 });
    expect(results).toHaveLength(5);
    for (const r of results) expect(r.content).toMatch(/great nation/);
  });

  it('answers the keyword half of a hybrid search by every word when they fill its page, without the fallback', async () => {
    // "moon" and "war" are both in two passages: a page of two. The hybrid search asks for more
    // candidates (40) than that, and the strict matches still answer alone, as for a keyword search.
    const hybrid = await search('moon war', {
      mode: 'hybrid',
      k: 2,
      explain: true,
    });
    const keyword = await search('moon war', { k: 2, explain: true });
    expect(names(keyword.results).sort()).toEqual(['apart', 'phrase']);
    expect(hybrid.keywordPlan?.length).toBeGreaterThan(0);
    expect(planShape(hybrid.keywordPlan)).toEqual(planShape(keyword.keywordPlan));
    // A page of three is more than the strict matches: the fallback answers, with a moon row.
    const wider = names((await search('moon war', { k: 3 })).results);
    expect(wider.slice(0, 2).sort()).toEqual(['apart', 'phrase']);
    expect(['all', 'moon']).toContain(wider[2]);
  });

  it('keeps exclusions and phrases in the fallback', async () => {
    expect(names((await search('moon exploration -west')).results)).not.toContain('exploration');
    const phrase = names((await search('"cold war" space')).results);
    expect(phrase).toContain('phrase');
    expect(phrase).not.toContain('apart');
    expect(phrase).toContain('all');
  });

  it("ranks a tenant's rows by its own rows only", async () => {
    const acme = principal(['read', 'write'], 'acme');
    const before = await harness
      .as(acme)
      .search.query({ collection: 'kw', mode: 'keyword', text: 'space exploration moon', k: 10 });
    // Another tenant's rows make "moon" common; acme's ranking and scores must not move.
    await harness.as().documents.ingest({
      collection: 'kw',
      tenant: 'globex',
      documents: Array.from({ length: 30 }, (_, i) => ({ content: `moon moon space ${i}` })),
    });
    const after = await harness
      .as(acme)
      .search.query({ collection: 'kw', mode: 'keyword', text: 'space exploration moon', k: 10 });
    expect(after.results.map((r) => [r.id, r.score])).toEqual(
      before.results.map((r) => [r.id, r.score]),
    );
  });

  it('fuses by normalised scores when asked, and by the measured default otherwise', async () => {
    const query = {
      collection: 'kw',
      mode: 'hybrid' as const,
      text: 'space exploration moon',
      k: 5,
    };
    const scored = await harness.as().search.query({
      ...query,
      hybrid: { fusion: 'score', vectorWeight: 1, keywordWeight: 2 },
    });
    expect(scored.results).toHaveLength(5);
    for (const r of scored.results) {
      expect(r.score).toBeGreaterThanOrEqual(0);
      expect(r.score).toBeLessThanOrEqual(3);
    }
    // The passage with every word has the best keyword score: 2 of its score come from there.
    expect(scored.results[0]!.score).toBeGreaterThanOrEqual(2);
    const byDefault = await harness.as().search.query(query);
    const explicit = await harness.as().search.query({ ...query, hybrid: { ...HYBRID_DEFAULTS } });
    expect(byDefault.results.map((r) => [r.id, r.score])).toEqual(
      explicit.results.map((r) => [r.id, r.score]),
    );
  });
});
