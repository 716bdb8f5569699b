import { describe, expect, it } from 'vitest';
import { chargeResponse, createResponseBudget } from '../src/response-budget';

const bytes = (items: unknown[]) =>
  items.reduce<number>((sum, item) => sum + Buffer.byteLength(JSON.stringify(item)), 0);

describe('chargeResponse', () => {
  // Strings whose JSON is longer than their length (escapes, multi-byte characters, surrogates).
  const result = (n: number) => ({
    id: `doc-${n}`,
    content: `"quoted"\n\u0001 é 😀 ${'x'.repeat(50)}`,
    metadata: { n, tags: ['a', null, true], at: new Date(0) },
    score: 0.123456789,
  });

  it('refuses exactly where the serialised results pass the limit, even after calls charged by their bound', () => {
    // Small calls first (far below the limit: charged by their bound), then one that reaches it.
    const calls = [
      ...[0, 1, 2, 3].map((call) => [result(call * 2), result(call * 2 + 1)]),
      [{ ...result(8), content: 'é'.repeat(4_000) }],
    ];
    const total = bytes(calls.flat());
    const run = (limit: number) => {
      const ctx = { limits: { maxResponseBytes: limit }, responseBudget: createResponseBudget() };
      for (const items of calls) chargeResponse(ctx, items, 'ask for less');
    };
    expect(() => run(total)).not.toThrow();
    expect(() => run(total - 1)).toThrow(/limit of \d+ bytes; ask for less/);
  });
});
