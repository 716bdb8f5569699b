import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiKeysEnv,
  keys,
  scratchPostgres,
  startServer,
  type ServerProcess,
} from '../test/harness';
import { recordTrial } from './report';
import { callApi, mib, realDatabases, reliabilitySetting, residentBytes } from './workload';

/**
 * Large documents over HTTP against the real server (issue 13): with 100 stored documents of
 * 1,000,000 characters, `documents.list limit:100` or `search.query k:100` failed with
 * `RangeError: Invalid string length`, and a list of 500 such took the server to 3.7 GB of RSS
 * (5 at once: 5.7 GB). Now lists and searches carry a 4,000-character prefix of each content,
 * `documents.get` returns one whole, a request whose results pass QUARRY_MAX_RESPONSE_BYTES (a
 * batch's calls together) is a 400 naming the limit, and the server's memory stays within a bound
 * while 5 clients list and search the whole collection over and over.
 */

const DOCUMENTS = 100;
const CHARS = 1_000_000;
const CLIENTS = 5;
const ROUNDS = reliabilitySetting('LARGE_ROUNDS', 10);
const RSS_GROWTH_BOUND_MIB = reliabilitySetting('LARGE_RSS_GROWTH_MIB', 256);
const MAX_RESPONSE_BYTES = 1536 * 1024; // a whole 1 MB document fits, four pages of 100 do not
const SUITE = 'Large documents';
const databases = realDatabases();

function content(i: number): string {
  const head = `document ${i} about quarry stones. `;
  return head + 'x'.repeat(CHARS - head.length);
}

describe.skipIf(!databases)('large documents over HTTP against the real server', () => {
  let scratch: Awaited<ReturnType<typeof scratchPostgres>>;
  let server: ServerProcess;
  const call = <T>(procedure: string, input: unknown) =>
    callApi<T>(server.url, procedure, input, keys.admin);

  beforeAll(async () => {
    scratch = await scratchPostgres(databases?.postgresUrl ?? '');
    server = await startServer({
      DATABASE_URL: scratch.url,
      QUARRY_API_KEYS: apiKeysEnv,
      QUARRY_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
    });
    await server.waitForReady();
    expect(
      (await call('collections.create', { name: 'big', dimensions: 4, embeddingModel: 'external' }))
        .error,
    ).toBeUndefined();
    for (let start = 0; start < DOCUMENTS; start += 10) {
      const ingested = await call('documents.ingest', {
        collection: 'big',
        documents: Array.from({ length: 10 }, (_, offset) => ({
          content: content(start + offset),
          embedding: [1, (start + offset) / DOCUMENTS, 0.5, 0.25],
        })),
      });
      expect(ingested.error).toBeUndefined();
    }
  });

  afterAll(async () => {
    await server?.stop();
    await scratch?.drop();
  });

  it(`${CLIENTS} clients list and search ${DOCUMENTS} documents of 1 MB, ${ROUNDS} times each: answers carry prefixes, memory stays bounded, an oversized page is a 400`, async () => {
    const pid = server.child.pid ?? 0;
    const before = residentBytes(pid);
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, residentBytes(pid));
    }, 50);
    const failures: string[] = [];
    let attempts = 0;
    let survived = 0;
    let largestResponse = 0;
    const started = performance.now();
    type Page = { items: Array<{ content: string; contentTruncated: boolean }> };
    type Found = { results: Array<{ content: string; contentTruncated: boolean }> };
    try {
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          for (let round = 0; round < ROUNDS; round++) {
            const answers = [
              await call<Page>('documents.list', { collection: 'big', limit: 100 }),
              await call<Found>('search.query', {
                collection: 'big',
                vector: [1, 0.5, 0.5, 0.25],
                k: 100,
              }),
              await call<Found>('search.query', {
                collection: 'big',
                mode: 'hybrid',
                text: 'quarry stones',
                vector: [1, 0.5, 0.5, 0.25],
                k: 100,
              }),
            ];
            for (const answer of answers) {
              attempts++;
              const shown = answer.data
                ? 'items' in answer.data
                  ? answer.data.items
                  : answer.data.results
                : [];
              largestResponse = Math.max(largestResponse, JSON.stringify(answer.data ?? '').length);
              if (
                answer.status === 200 &&
                shown.length === DOCUMENTS &&
                shown.every((item) => item.content.length === 4_000 && item.contentTruncated)
              )
                survived++;
              else failures.push(`${answer.status}: ${answer.error ?? 'wrong page'}`);
            }
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    const seconds = Math.round((performance.now() - started) / 100) / 10;

    // One HTTP request of four pages of 100: three fit the budget, the one that comes last does not.
    const batch = await fetch(
      new URL(`/trpc/${Array(4).fill('documents.list').join(',')}?batch=1`, server.url),
      {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
        body: JSON.stringify(
          Object.fromEntries([0, 1, 2, 3].map((i) => [i, { collection: 'big', limit: 100 }])),
        ),
      },
    );
    const answers = (await batch.json()) as Array<{
      result?: unknown;
      error?: { message: string; data: { httpStatus: number } };
    }>;
    const refusals = answers.flatMap((answer) => (answer.error ? [answer.error] : []));
    const refusedWell =
      answers.length === 4 &&
      refusals.length === 1 &&
      refusals[0]?.data.httpStatus === 400 &&
      refusals[0].message.includes(`limit of ${MAX_RESPONSE_BYTES} bytes; ask for fewer documents`);
    const { data: page } = await call<{ items: Array<{ id: string }> }>('documents.list', {
      collection: 'big',
      limit: 1,
    });
    const whole = await call<{ content: string; contentLength: number }>('documents.get', {
      collection: 'big',
      id: page?.items[0]?.id,
    });
    const wholeServed = whole.status === 200 && whole.data?.content.length === CHARS;
    const growthMib = (peak - before) / 2 ** 20;

    recordTrial({
      suite: SUITE,
      scenario: `${CLIENTS} clients × ${ROUNDS} rounds of list limit 100, vector search k 100 and hybrid search k 100 over ${DOCUMENTS} documents of 1,000,000 characters`,
      attempts,
      survived,
      metrics: {
        seconds,
        'largest answer': `${(largestResponse / 1024).toFixed(0)} KiB`,
        'RSS before': mib(before),
        'RSS peak': mib(peak),
        'RSS growth bound': `${RSS_GROWTH_BOUND_MIB} MiB`,
      },
      notes: failures.slice(0, 5),
    });
    recordTrial({
      suite: SUITE,
      scenario: `A batch of four pages of 100 past QUARRY_MAX_RESPONSE_BYTES (${MAX_RESPONSE_BYTES}): three are answered, the last is a 400 that names the limit; documents.get returns one document whole`,
      attempts: 2,
      survived: Number(refusedWell) + Number(wholeServed),
      metrics: { 'batch status': batch.status, 'whole document': whole.status },
      notes: refusedWell
        ? []
        : [`batch: ${JSON.stringify(answers.map((a) => a.error?.message ?? 'ok'))}`],
    });

    expect(failures).toEqual([]);
    expect(growthMib).toBeLessThan(RSS_GROWTH_BOUND_MIB);
    expect(refusedWell).toBe(true);
    expect(wholeServed).toBe(true);
  });
});
