import { describe, expect, it } from 'vitest';
import { readNumberArray } from '../src/cli/number-array';

/** What the reader gives for `text` (a JSON array), or undefined when it declines it. */
function read(text: string): number[] | undefined {
  const out = new Float32Array(64);
  const read = readNumberArray(Buffer.from(`${text}}`), 0, out);
  if (!read) return undefined;
  expect(read.end).toBe(text.length);
  return Array.from(out.subarray(0, read.count));
}

/** What JSON.parse and a Float32Array make of the same text: the reference. */
const reference = (text: string) => Array.from(Float32Array.from(JSON.parse(text) as number[]));

/** A small deterministic generator, so a failure names numbers that can be rerun. */
function random(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
}

describe('reading a vector from JSON text as float32', () => {
  it('gives what JSON.parse and Float32Array give, for every form of JSON number', () => {
    const texts = [
      '[0]',
      '[-0]',
      '[1, -2 ,3\t,\r4]',
      '[ 0.5 ]',
      '[0.008608306758105755,-0.017804045230150223,0.036837052553892136]',
      '[1e-5,2.5E+3,-7e2,1E0,0.1e1]',
      '[123456789012345678901234567890,0.000000000000000000000000012345]',
      '[1e39,-1e39,1e-50,3.4028235677973366e38,1.401298464324817e-45,7e-46]',
      '[12345678901234567890.123456789e-10]',
      `[${'9'.repeat(400)}]`,
      `[1e${'0'.repeat(10)}1]`,
    ];
    for (const text of texts) expect(read(text), text).toEqual(reference(text));
  });

  it('rounds numbers at and next to a float32 rounding boundary as JSON.parse does', () => {
    const next = random(11);
    const texts: string[] = [];
    for (let n = 0; n < 2_000; n++) {
      const low = Math.fround((next() - 0.5) * 10 ** Math.floor(next() * 12 - 6));
      const high = new Float32Array([low]);
      new Uint32Array(high.buffer)[0]! += 1;
      const midpoint = (low + high[0]!) / 2;
      // The boundary itself, and decimals a hair either side of it.
      texts.push(`[${midpoint}]`);
      for (const digits of [9, 12, 17, 21]) texts.push(`[${midpoint.toPrecision(digits)}]`);
      texts.push(`[${low}]`, `[${JSON.stringify(next() * 2 - 1)}]`);
    }
    const mismatched = texts.filter((text) => !Object.is(read(text)?.[0], reference(text)[0]));
    expect(mismatched).toEqual([]);
  });

  it('declines what is not a non-empty array of JSON numbers, so the line is read the ordinary way', () => {
    for (const text of [
      '[]',
      '[1,]',
      '[,1]',
      '[01]',
      '[.5]',
      '[5.]',
      '[+1]',
      '[1e]',
      '[1e+]',
      '[-]',
      '["1"]',
      '[null]',
      '[[1]]',
      '[1 2]',
      '[NaN]',
      '[Infinity]',
      '[0x10]',
    ])
      expect(read(text), text).toBeUndefined();
    // Cut off inside the array: the bytes end before a closing bracket.
    for (const text of ['[1,2', '[1,2,', '[1.5e3'])
      expect(readNumberArray(Buffer.from(text), 0, new Float32Array(8)), text).toBeUndefined();
  });

  it('declines an array longer than its output holds', () => {
    expect(readNumberArray(Buffer.from('[1,2,3]'), 0, new Float32Array(2))).toBeUndefined();
  });
});
