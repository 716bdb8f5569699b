import { describe, expect, it } from 'vitest';
import { ingestItemSchema } from '../src/ingest-input';

const problems = (metadata: unknown) => {
  const parsed = ingestItemSchema.safeParse({ content: 'x', metadata });
  return parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('document metadata', () => {
  it('takes keys of up to 256 characters and refuses a longer one, naming it', () => {
    expect(problems({ ['k'.repeat(256)]: 1 })).toEqual([]);
    const long = 'k'.repeat(257);
    expect(problems({ [long]: 1 })).toEqual([
      expect.stringMatching(new RegExp(`^metadata\\.${long}: key: .*256`)),
    ]);
  });

  it('refuses NUL and unpaired surrogates in keys and in values at any depth, at their path', () => {
    expect(problems({ a: [{ b: 'fine' }], '\u00e9\ud83d\ude00': 'paired' })).toEqual([]);
    expect(problems({ a: [{ b: 'x\u0000' }] })).toEqual([
      expect.stringMatching(/^metadata\.a\.0\.b: .*NUL/),
    ]);
    expect(problems({ a: { '\ud800': 1 } })).toEqual([
      expect.stringMatching(/^metadata\.a\.\ud800: key: .*unpaired surrogate/),
    ]);
    expect(problems({ 'n\u0000': 1, s: '\udc00' })).toEqual([
      expect.stringMatching(/^metadata\.n\u0000: key: .*NUL/),
      expect.stringMatching(/^metadata\.s: .*unpaired surrogate/),
    ]);
  });
});
