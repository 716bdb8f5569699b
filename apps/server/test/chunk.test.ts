import { describe, expect, it } from 'vitest';
import { chunkMarkdown, chunkText } from '../src/cli/chunk';

const sentence = (n: number) => `Sentence number ${n} says something about topic ${n % 7}.`;
const prose = Array.from({ length: 60 }, (_, i) => sentence(i) + (i % 5 === 4 ? '\n\n' : ' ')).join(
  '',
);

describe('chunkText', () => {
  it('keeps every chunk within the size limit', () => {
    for (const chunk of chunkText(prose, { size: 200, overlap: 50 }))
      expect(chunk.length).toBeLessThanOrEqual(200);
  });

  it('loses no sentence', () => {
    const joined = chunkText(prose, { size: 200, overlap: 50 }).join(' ');
    for (let i = 0; i < 60; i++) expect(joined).toContain(sentence(i));
  });

  it('cuts between sentences, never inside one that fits', () => {
    for (const chunk of chunkText(prose, { size: 200, overlap: 50 })) {
      expect(chunk).toMatch(/^Sentence number \d+/);
      expect(chunk).toMatch(/\.$/);
    }
  });

  it('starts each chunk with the end of the previous one, up to the overlap', () => {
    const chunks = chunkText(prose, { size: 200, overlap: 60 });
    for (let i = 1; i < chunks.length; i++) {
      const first =
        /^Sentence number \d+ says something about topic \d\./.exec(chunks[i] ?? '')?.[0] ?? '';
      expect(chunks[i - 1]).toContain(first);
    }
  });

  it('with no overlap, no sentence appears twice', () => {
    const chunks = chunkText(prose, { size: 200, overlap: 0 });
    const all = chunks.join(' ');
    for (let i = 0; i < 60; i++) expect(all.split(sentence(i)).length - 1).toBe(1);
  });

  it('splits a sentence longer than the size at spaces, and a giant word hard', () => {
    const long = `${'word '.repeat(100)}${'x'.repeat(250)}`;
    const chunks = chunkText(long, { size: 100, overlap: 0 });
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(100);
    expect(chunks.join('').replace(/\s/g, '')).toBe(long.replace(/\s/g, ''));
  });

  it('refuses an overlap as large as the size', () => {
    expect(() => chunkText(prose, { size: 100, overlap: 100 })).toThrow(/--chunk-overlap/);
  });

  it('returns nothing for blank text', () => {
    expect(chunkText(' \n\n \n', { size: 100, overlap: 10 })).toEqual([]);
  });
});

describe('chunkMarkdown', () => {
  const doc = [
    'Intro line.',
    '',
    '# Install',
    '',
    'Run the installer.',
    '',
    '## Configure',
    '',
    'Set the port.',
    '```',
    '# not a heading',
    '```',
  ].join('\n');

  it('gives each chunk the heading of its section and never mixes sections', () => {
    const chunks = chunkMarkdown(doc, { size: 500, overlap: 0 });
    expect(chunks.map((c) => c.heading)).toEqual([undefined, 'Install', 'Configure']);
    expect(chunks[1]?.content).toContain('Run the installer.');
    expect(chunks[1]?.content).not.toContain('Set the port.');
  });

  it('ignores # lines inside code fences', () => {
    const chunks = chunkMarkdown(doc, { size: 500, overlap: 0 });
    expect(chunks[2]?.content).toContain('# not a heading');
  });
});
