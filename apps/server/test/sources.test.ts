import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readDocuments, textLines } from '../src/cli/sources';

const collect = async <T>(items: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
};

describe('reading JSONL input', () => {
  it('splits lines at LF and CRLF, across chunk boundaries and inside multi-byte characters', async () => {
    const bytes = Buffer.from('café\r\nzwei\nlast line without newline', 'utf8');
    // Cut after "caf" plus the first byte of "é", and between the CR and the LF.
    const chunks = [bytes.subarray(0, 4), bytes.subarray(4, 6), bytes.subarray(6)];
    expect(await collect(textLines(Readable.from(chunks)))).toEqual([
      'café',
      'zwei',
      'last line without newline',
    ]);
  });

  it('numbers documents by their line, skipping blank lines, and refuses a non-number component', async () => {
    const input = [
      JSON.stringify({ content: 'one', embedding: [0.5, 1] }),
      '',
      JSON.stringify({ id: 7, content: 'three' }),
      JSON.stringify({ content: 'four', embedding: [1, '2'] }),
    ].join('\n');
    const source = {
      kind: 'stdin' as const,
      stream: Readable.from([input]),
      format: 'jsonl' as const,
    };
    const documents = readDocuments(source, { size: 1000, overlap: 0 });
    expect(await documents.next()).toMatchObject({
      value: { document: { content: 'one', embedding: [0.5, 1] }, origin: 'stdin:1' },
    });
    expect(await documents.next()).toMatchObject({
      value: { document: { content: 'three', externalId: '7' }, origin: 'stdin:3' },
    });
    await expect(documents.next()).rejects.toThrow(
      /stdin:4: embedding: must be a non-empty array of numbers/,
    );
  });
});
