import { describe, expect, it } from 'vitest';
import { JsonScanner, type JsonTokenHandler } from '../../src/embeddings/offline/json-scanner';

/** Rebuilds the JSON value from the scanner's tokens, so the result can be compared with JSON.parse. */
function scanToValue(chunks: Buffer[]): unknown {
  type Container = { value: unknown[] } | { value: Record<string, unknown>; key?: string };
  const stack: Container[] = [];
  let root: unknown;
  const place = (value: unknown): void => {
    const top = stack[stack.length - 1];
    if (!top) root = value;
    else if (Array.isArray(top.value)) top.value.push(value);
    else if ('key' in top && top.key !== undefined) {
      top.value[top.key] = value;
      top.key = undefined;
    }
  };
  const handler: JsonTokenHandler = {
    punctuation(code) {
      const character = String.fromCharCode(code);
      if (character === '[' || character === '{') {
        const container: Container =
          character === '[' ? { value: [] } : { value: {}, key: undefined };
        place(container.value);
        stack.push(container);
      } else if (character === ']' || character === '}') {
        stack.pop();
      }
    },
    string(value) {
      const top = stack[stack.length - 1];
      if (top && !Array.isArray(top.value) && 'key' in top && top.key === undefined)
        top.key = value;
      else place(value);
    },
    number: place,
    literal: place,
  };
  const scanner = new JsonScanner(handler);
  for (const chunk of chunks) scanner.feed(chunk);
  scanner.end();
  return root;
}

const document = JSON.stringify({
  words: ['the', 'naïve', 'say "hi"', 'back\\slash', 'emoji 🎉', '\u0001'],
  vectors: { a: [0.1, -2.5e-7, 3e21, -0, 12345678901234567890, 1.7976931348623157e308], b: [] },
  flags: [true, false, null],
  nested: [[1, [2, [3]]], {}],
});

describe('JsonScanner', () => {
  it('reads a document fed in one piece like JSON.parse does', () => {
    expect(scanToValue([Buffer.from(document)])).toEqual(JSON.parse(document));
  });

  it('reads the same document fed one byte at a time, tokens split across every boundary', () => {
    const bytes = Buffer.from(document);
    const chunks = Array.from(bytes, (byte) => Buffer.from([byte]));
    expect(scanToValue(chunks)).toEqual(JSON.parse(document));
  });

  it('parses decimal numbers to the same doubles as Number()', () => {
    const text = JSON.stringify(
      Array.from({ length: 2000 }, (_, i) => Number((Math.sin(i) * 10 ** (i % 7)).toFixed(i % 9))),
    );
    expect(scanToValue([Buffer.from(text)])).toEqual(JSON.parse(text));
  });

  it('reads a number that ends the input', () => {
    expect(scanToValue([Buffer.from('-12.'), Buffer.from('5')])).toBe(-12.5);
  });

  it('refuses input that stops inside a string', () => {
    expect(() => scanToValue([Buffer.from('["unterminated')])).toThrow(/unexpected end/);
  });
});
