import { describe, expect, it } from 'vitest';
import { batches, chunkingProblem, DEFAULT_CHUNKING, planFile } from './upload-plan';

describe('planFile', () => {
  it('chunks Markdown by heading and records the heading, as quarry ingest does', () => {
    const plan = planFile(
      'guide.md',
      '# Install\n\nRun it.\n\n## Use\n\nCall it.',
      DEFAULT_CHUNKING,
    );
    expect(plan.markdown).toBe(true);
    expect(plan.documents).toEqual([
      {
        content: '# Install\n\nRun it.',
        metadata: { source: 'guide.md', chunk: 0, heading: 'Install' },
      },
      { content: '## Use\n\nCall it.', metadata: { source: 'guide.md', chunk: 1, heading: 'Use' } },
    ]);
  });

  it('chunks plain text by size with overlap', () => {
    const sentence = 'This sentence has exactly fifty characters in it. ';
    const plan = planFile('notes.txt', sentence.repeat(10), { size: 120, overlap: 55 });
    expect(plan.markdown).toBe(false);
    expect(plan.documents.length).toBeGreaterThan(4);
    expect(plan.documents.every((document) => document.content.length <= 120)).toBe(true);
    expect(plan.documents.map((document) => document.metadata.chunk)).toEqual(
      plan.documents.map((_, index) => index),
    );
  });
});

describe('chunkingProblem', () => {
  it('accepts the defaults and refuses an overlap as large as the chunk', () => {
    expect(chunkingProblem(DEFAULT_CHUNKING)).toBeUndefined();
    expect(chunkingProblem({ size: 100, overlap: 100 })).toMatch(/overlap/);
    expect(chunkingProblem({ size: 10, overlap: 0 })).toMatch(/at least 50/);
  });
});

describe('batches', () => {
  it('splits in order without losing any item', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([], 2)).toEqual([]);
  });
});
