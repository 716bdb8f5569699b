import { beforeAll, describe, expect, it } from 'vitest';
import {
  chunkAddress,
  cleanTranscript,
  loadSotuAddresses,
  loadSotuParagraphs,
  splitSentences,
  type SotuParagraph,
} from '../src/index';
import { MAX_SENTENCE_CHARS, MIN_PASSAGE_CHARS, TARGET_PASSAGE_CHARS } from '../src/chunk';

let all: SotuParagraph[];
beforeAll(() => {
  all = loadSotuParagraphs();
});

describe('loadSotuParagraphs', () => {
  it('yields passages from every address in the dataset', () => {
    const addresses = loadSotuAddresses();
    expect(addresses.length).toBeGreaterThan(200);
    expect(all.length).toBeGreaterThan(addresses.length * 10);
    const covered = new Set(
      all.map((paragraph) => `${paragraph.metadata.year} ${paragraph.metadata.president}`),
    );
    expect(covered.size).toBe(addresses.length);
  });

  it('gives every passage typed metadata', () => {
    // One assertion over the whole corpus; a failure lists the offending passages.
    const malformed = all.filter(
      ({ metadata, content }) =>
        typeof metadata.president !== 'string' ||
        metadata.president === '' ||
        !Number.isInteger(metadata.year) ||
        metadata.decade !== metadata.year - (metadata.year % 10) ||
        typeof metadata.party !== 'string' ||
        metadata.party === '' ||
        !Number.isInteger(metadata.paragraph) ||
        metadata.paragraph < 1 ||
        !metadata.title?.includes(String(metadata.year)) ||
        content.trim() !== content,
    );
    expect(malformed).toEqual([]);
  });

  it('uses the party names of the dataset', () => {
    const parties = new Set(all.map((paragraph) => paragraph.metadata.party));
    expect(parties).toContain('Democratic');
    expect(parties).toContain('Republican');
    expect(parties).toContain('Federalist');
  });

  it('gives every passage a unique id built from year, president and number', () => {
    const ids = all.map((paragraph) => paragraph.externalId);
    expect(new Set(ids).size).toBe(ids.length);
    const misnamed = all.filter(
      ({ externalId, metadata }) =>
        !new RegExp(`^sotu-${metadata.year}-[a-z0-9-]+-${metadata.paragraph}$`).test(externalId),
    );
    expect(misnamed).toEqual([]);
    expect(ids).toContain('sotu-1790-george-washington-1');
  });

  it('keeps two addresses of the same year apart', () => {
    const presidents1961 = new Set(
      all.filter((paragraph) => paragraph.metadata.year === 1961).map((p) => p.metadata.president),
    );
    expect(presidents1961.size).toBe(2);
  });

  it('returns the same ids and content on every call', () => {
    const again = loadSotuParagraphs();
    expect(again.map((p) => [p.externalId, p.content])).toEqual(
      all.map((p) => [p.externalId, p.content]),
    );
  });

  it('keeps ids unchanged when filtered by year, length or limit', () => {
    const byId = new Map(all.map((paragraph) => [paragraph.externalId, paragraph]));
    const filtered = [
      ...loadSotuParagraphs({ minYear: 1900, maxYear: 1910 }),
      ...loadSotuParagraphs({ minChars: 700 }),
      ...loadSotuParagraphs({ limit: 25 }),
    ];
    const changed = filtered.filter(
      (paragraph) => JSON.stringify(byId.get(paragraph.externalId)) !== JSON.stringify(paragraph),
    );
    expect(changed).toEqual([]);
  });

  it('filters by year range, inclusive', () => {
    const years = new Set(
      loadSotuParagraphs({ minYear: 1900, maxYear: 1910 }).map((p) => p.metadata.year),
    );
    expect(Math.min(...years)).toBe(1900);
    expect(Math.max(...years)).toBe(1910);
  });

  it('returns at most limit passages, the earliest first', () => {
    expect(loadSotuParagraphs({ limit: 25 })).toEqual(all.slice(0, 25));
  });

  it('leaves out passages shorter than minChars', () => {
    const long = loadSotuParagraphs({ minChars: 700 });
    expect(long.length).toBeGreaterThan(0);
    expect(long.length).toBe(all.filter((paragraph) => paragraph.content.length >= 700).length);
  });

  it('keeps passages paragraph-sized: no tiny fragments, none far beyond the target', () => {
    const lengths = all.map(({ content }) => content.length);
    expect(Math.min(...lengths)).toBeGreaterThanOrEqual(MIN_PASSAGE_CHARS);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(MIN_PASSAGE_CHARS + 1 + MAX_SENTENCE_CHARS);
  });

  it('leaves out audience reactions such as [Applause]', () => {
    expect(all.some((paragraph) => /\[(applause|laughter)\]/i.test(paragraph.content))).toBe(false);
  });
});

describe('chunking', () => {
  it('does not end sentences after titles or initials', () => {
    expect(
      splitSentences('Mr. Speaker, Gen. U. S. Grant spoke. Then we left! Did we? Yes.'),
    ).toEqual(['Mr. Speaker, Gen. U. S. Grant spoke.', 'Then we left!', 'Did we?', 'Yes.']);
  });

  it('removes stage directions and collapses whitespace', () => {
    expect(cleanTranscript('We will win. [Applause]  Thank   you. [Laughter]')).toBe(
      'We will win. Thank you.',
    );
  });

  it('keeps every word of an address, in order', () => {
    const sentence = (n: number): string =>
      `Sentence number ${n} talks about the budget, the army and the schools.`;
    const text = Array.from({ length: 60 }, (_, n) => sentence(n)).join(' ');
    const passages = chunkAddress(text);
    expect(passages.length).toBeGreaterThan(1);
    expect(passages.join(' ')).toBe(text);
    for (const passage of passages)
      expect(passage.length).toBeLessThanOrEqual(TARGET_PASSAGE_CHARS);
  });

  it('cuts an over-long sentence at clause boundaries', () => {
    const long =
      Array.from({ length: 100 }, (_, n) => `clause ${n} of a very long sentence`).join(', ') + '.';
    const passages = chunkAddress(long);
    expect(passages.length).toBeGreaterThan(1);
    expect(passages.join(' ')).toBe(long);
    for (const passage of passages) expect(passage.length).toBeLessThanOrEqual(MAX_SENTENCE_CHARS);
  });

  it('joins a short closing sentence to the passage before it', () => {
    const body = Array.from(
      { length: 12 },
      (_, n) => `This is sentence ${n}, which discusses the public debt at some length.`,
    ).join(' ');
    const passages = chunkAddress(`${body} Thank you.`);
    expect(passages.at(-1)).toMatch(/length\. Thank you\.$/);
  });
});
