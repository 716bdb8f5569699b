import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { byteLines, countDocuments, InputError, readDocuments } from '../src/cli/sources';

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
    expect((await collect(byteLines(Readable.from(chunks)))).map(String)).toEqual([
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

describe('reading JSONL vectors as float32 (what the CLI streams to a server)', () => {
  const read = (lines: string[], vectors: 'numbers' | 'float32') =>
    collect(
      readDocuments(
        { kind: 'stdin', stream: Readable.from([lines.join('\n')]), format: 'jsonl' },
        { size: 1000, overlap: 0 },
        vectors,
      ),
    );

  it('gives the same documents as JSON.parse, the vector as float32, however the line is laid out', async () => {
    const lines = [
      '{"content":"compact","embedding":[0.1,-0.25,3e-3],"id":"a"}',
      '{"content": "spaced", "embedding": [ 0.1 , -0.25 ,\t3e-3 ], "metadata": {"k": 1}}',
      '{"embedding":[1,2,3],"content":"vector first","id":7}',
      // The key inside a string, inside metadata, and a key ending in it: only the field counts.
      '{"content":"says \\"embedding\\":[9,9] in its text","embedding":[1,2,3]}',
      '{"metadata":{"embedding":[5,6]},"content":"nested","embedding":[1,2,3]}',
      '{"content":"odd key","x\\"embedding":[4],"embedding":[1,2,3]}',
      '{"content":"no vector","metadata":{"embedding":[5,6]}}',
    ];
    const asNumbers = await read(
      lines.filter((_, i) => i !== 5),
      'numbers',
    );
    const asFloat32 = await read(
      lines.filter((_, i) => i !== 5),
      'float32',
    );
    expect(asFloat32.map((item) => item.origin)).toEqual(asNumbers.map((item) => item.origin));
    asFloat32.forEach((item, i) => {
      const { embedding, ...fields } = asNumbers[i]!.document;
      expect(item.document).toEqual(fields);
      expect(item.vector).toEqual(embedding ? Float32Array.from(embedding) : undefined);
    });
    // A field the line may not have is refused whichever way the vector is read.
    await expect(read([lines[5]!], 'float32')).rejects.toThrow(/stdin:1: Unrecognized key/);
  });

  it('keeps the last of a repeated embedding key, as JSON.parse does', async () => {
    const [item] = await read(
      ['{"content":"twice","embedding":[1,2],"embedding":[3,4,5]}'],
      'float32',
    );
    expect(item?.vector).toEqual(new Float32Array([3, 4, 5]));
    await expect(
      read(['{"content":"twice","embedding":[1,2],"embedding":"x"}'], 'float32'),
    ).rejects.toThrow(/stdin:1: embedding: must be a non-empty array of numbers/);
  });

  it('refuses a bad vector with the same message as the ordinary path', async () => {
    for (const line of [
      '{"content":"c","embedding":[]}',
      '{"content":"c","embedding":[1,"2"]}',
      '{"content":"c","embedding":[1,2,]}',
    ]) {
      const refusal = (vectors: 'numbers' | 'float32') =>
        read([line], vectors).then(
          () => 'accepted',
          (error: Error) => error.message,
        );
      expect(await refusal('float32'), line).toBe(await refusal('numbers'));
      expect(await refusal('float32'), line).not.toBe('accepted');
    }
  });

  it('reads a base64 embedding (little-endian float32, as OpenAI sends it) as the same vector as its array', async () => {
    const vector = [0.1, -0.25, 3e-3, 1e30];
    const bytes = Buffer.alloc(vector.length * 4);
    vector.forEach((component, i) => bytes.writeFloatLE(component, i * 4));
    const base64 = bytes.toString('base64');
    const lines = [
      `{"content":"base64","embedding":"${base64}","id":"b"}`,
      `{"embedding" : "${base64}", "content":"spaced"}`,
      // An escaped character is JSON's to read: the same vector once unescaped.
      `{"content":"escaped","embedding":"\\u00${base64.charCodeAt(0).toString(16)}${base64.slice(1)}"}`,
    ];
    for (const form of ['numbers', 'float32'] as const) {
      const items = await read(lines, form);
      expect(items).toHaveLength(3);
      for (const item of items) {
        const read = item.vector ?? Float32Array.from(item.document.embedding ?? []);
        expect(Array.from(read)).toEqual(vector.map(Math.fround));
      }
    }
    for (const bad of ['AAA', 'AAAAAAA=', 'AAAAAAAA*AAAAAAA', 'AAAAAAAA AAAAAAA', '']) {
      const line = `{"content":"c","embedding":"${bad}"}`;
      for (const form of ['numbers', 'float32'] as const)
        await expect(read([line], form), `${bad} ${form}`).rejects.toThrow(
          /stdin:1: embedding: must be a non-empty array of numbers or base64 of little-endian float32/,
        );
    }
  });

  it('skips lines of whitespace only, Unicode whitespace included', async () => {
    const items = await read(
      ['  \t', '\u00a0\u2003', '{"content":"x","embedding":[1]}'],
      'float32',
    );
    expect(items.map((item) => item.origin)).toEqual(['stdin:3']);
  });
});

describe('reading text from stdin', () => {
  it('keeps a character whose bytes arrive in two pieces', async () => {
    const bytes = Buffer.from('Grüße aus Köln.', 'utf8');
    // Cut inside "ü".
    const pieces = [bytes.subarray(0, 3), bytes.subarray(3)];
    const documents = await collect(
      readDocuments(
        { kind: 'stdin', stream: Readable.from(pieces), format: 'text' },
        { size: 1000, overlap: 0 },
      ),
    );
    expect(documents.map((item) => item.document.content)).toEqual(['Grüße aus Köln.']);
  });

  it('counts a file unchecked by its non-blank lines, and checked by reading each, refusing a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quarry-count-'));
    try {
      const file = join(dir, 'input.jsonl');
      writeFileSync(
        file,
        [
          JSON.stringify({ content: 'one' }),
          '  ',
          JSON.stringify({ content: 'two', embedding: [1, 2] }),
          '{"content": "three", not json',
          '',
        ].join('\r\n'),
      );
      const source = { kind: 'files' as const, paths: [file] };
      const chunking = { size: 1000, overlap: 0 };
      expect(await countDocuments(source, chunking, false)).toBe(3);
      await expect(countDocuments(source, chunking, true)).rejects.toThrow(InputError);
      await expect(countDocuments(source, chunking, true)).rejects.toThrow(`${file}:4`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
