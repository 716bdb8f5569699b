import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchDir, type LogRecord, type ServerProcess } from '../test/harness';
import {
  rawConnection,
  startServerWithLimits,
  uploadHeaders,
  type ClientLimits,
} from '../test/raw-clients';
import { recordTrial } from './report';
import { callApi, ms, percentile, reliabilitySetting, runClients, type ApiCall } from './workload';

/**
 * Clients that hold connections (issue 13: dribbled uploads stayed open past 213 s, there was no
 * connection cap, and each aborted upload logged a line). For a while, dozens of clients dribble
 * request bodies at 1 byte per second and others abandon uploads as fast as they can, while
 * ordinary clients search; then a flood of idle connections three times the cap. The fast version
 * is test/slow-clients.test.ts.
 */

const SECONDS = reliabilitySetting('SLOW_SECONDS', 30);
const DRIBBLERS = reliabilitySetting('SLOW_DRIBBLERS', 40);
const ABORTERS = reliabilitySetting('SLOW_ABORTERS', 4);
const NORMAL_CLIENTS = reliabilitySetting('SLOW_NORMAL_CLIENTS', 4);
const LIMITS: ClientLimits = {
  bodyTimeoutMs: 2_000,
  headersTimeoutMs: 2_000,
  maxConnections: reliabilitySetting('SLOW_MAX_CONNECTIONS', 100),
  repeatLimit: 10,
  repeatWindowMs: 5_000,
};
/**
 * How late past its deadline a connection may close: Node checks its own timeouts every second,
 * and on a loaded machine timers fire late (the bound is what is asserted: no connection lingers).
 */
const CLOSE_SLACK_MS = reliabilitySetting('SLOW_CLOSE_SLACK_MS', 4_000);
/** Ordinary clients and abandoning clients pause this long between calls: busy, not saturating. */
const PACE_MS = 20;
const SUITE = 'Slow clients';
const vector = [0.1, 0.2, 0.3];

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

let server: ServerProcess;
let data: ReturnType<typeof scratchDir>;

beforeAll(async () => {
  data = scratchDir('quarry-reliability-slow');
  server = await startServerWithLimits(data.path, LIMITS);
  const created = await callApi(
    server.url,
    'collections.create',
    { name: 'notes', dimensions: 3, embeddingModel: 'external/3d' },
    'open',
  );
  expect(created.error).toBeUndefined();
  await callApi(
    server.url,
    'documents.ingest',
    { collection: 'notes', documents: [{ content: 'a note', embedding: vector }] },
    'open',
  );
}, 180_000);

afterAll(async () => {
  await server?.stop();
  data?.remove();
});

/** Request lines and summaries of one repeatable kind since `from`, and the events they account for. */
function accounted(logs: readonly LogRecord[], key: string, isLine: (r: LogRecord) => boolean) {
  const lines = logs.filter(isLine).length;
  const summaries = logs.filter((r) => r.key === key);
  return {
    lines,
    summaries: summaries.length,
    events: lines + summaries.reduce((sum, r) => sum + Number(r.suppressed), 0),
  };
}

describe('slow and abandoned clients against the real server', () => {
  it('dribbled bodies are cut off at the deadline, abandoned uploads barely log, and ordinary clients are served throughout', async () => {
    const from = server.logs.length;
    const dribbles: Array<{ closedAfterMs: number; status: string }> = [];
    let abandoned = 0;
    const normal: ApiCall<unknown>[] = [];
    const durationMs = SECONDS * 1_000;
    await Promise.all([
      runClients(DRIBBLERS, durationMs, async () => {
        const connection = await rawConnection(server.url);
        const started = performance.now();
        connection.socket.write(uploadHeaders());
        const timer = setInterval(() => connection.socket.write('{'), 1_000);
        const closedAt = await connection.closed;
        clearInterval(timer);
        dribbles.push({
          closedAfterMs: closedAt - started,
          status: connection.received().slice(9, 12),
        });
      }),
      runClients(ABORTERS, durationMs, async () => {
        const connection = await rawConnection(server.url);
        connection.socket.write(uploadHeaders('expect: 100-continue\r\n'));
        await connection.waitFor('100 Continue', 10_000).catch(() => undefined);
        connection.socket.write('{"collection":');
        connection.socket.destroy();
        await connection.closed;
        abandoned++;
        await sleep(PACE_MS);
      }),
      runClients(NORMAL_CLIENTS, durationMs, async () => {
        normal.push(
          await callApi(server.url, 'search.query', { collection: 'notes', vector, k: 5 }, 'open'),
        );
        await sleep(PACE_MS);
      }),
    ]);
    // The last window's summaries come when it ends.
    await sleep(LIMITS.repeatWindowMs + 1_000);
    const logs = server.logs.slice(from);
    const aborted = accounted(
      logs,
      'request aborted',
      (r) => r.msg === 'request' && r.aborted === true,
    );
    const timedOut = accounted(
      logs,
      'request timed out',
      (r) => r.msg === 'request' && r.status === 408,
    );
    const windows =
      Math.ceil((SECONDS * 1_000 + LIMITS.bodyTimeoutMs + CLOSE_SLACK_MS) / LIMITS.repeatWindowMs) +
      1;
    const late = dribbles.filter(
      (d) => d.status !== '408' || d.closedAfterMs > LIMITS.bodyTimeoutMs + CLOSE_SLACK_MS,
    );
    const failedNormal = normal.filter((call) => call.status !== 200);
    const errors = logs.filter((r) => r.level === 'error');
    const boundedLines =
      aborted.lines + aborted.summaries <= (LIMITS.repeatLimit + 1) * windows &&
      timedOut.lines + timedOut.summaries <= (LIMITS.repeatLimit + 1) * windows;
    const allCounted = aborted.events === abandoned && timedOut.events === dribbles.length;
    const notes = [
      ...late
        .slice(0, 5)
        .map((d) => `a dribbled body got ${d.status || 'nothing'} after ${ms(d.closedAfterMs)}`),
      ...failedNormal.slice(0, 5).map((call) => `ordinary search failed: ${call.error}`),
      ...errors.slice(0, 3).map((r) => `error logged: ${r.msg}`),
      ...(allCounted
        ? []
        : [
            `log accounts for ${aborted.events} of ${abandoned} abandoned uploads and ${timedOut.events} of ${dribbles.length} timed-out bodies`,
          ]),
    ];
    recordTrial({
      suite: SUITE,
      scenario: `${SECONDS} s of ${DRIBBLERS} clients dribbling bodies at 1 byte/s and ${ABORTERS} abandoning uploads, beside ${NORMAL_CLIENTS} ordinary searching clients (QUARRY_BODY_TIMEOUT_MS=${LIMITS.bodyTimeoutMs}): each dribble answered 408 and closed within the deadline + ${CLOSE_SLACK_MS / 1000} s, every ordinary search answered, at most ${LIMITS.repeatLimit} lines per ${LIMITS.repeatWindowMs / 1000} s window per kind with the rest counted`,
      attempts: dribbles.length + abandoned + normal.length,
      survived:
        dribbles.length -
        late.length +
        (boundedLines && allCounted ? abandoned : 0) +
        normal.length -
        failedNormal.length,
      metrics: {
        'dribbled bodies': dribbles.length,
        'closed after (p50/max)': `${ms(
          percentile(
            dribbles.map((d) => d.closedAfterMs),
            50,
          ),
        )} / ${ms(Math.max(...dribbles.map((d) => d.closedAfterMs)))}`,
        'abandoned uploads': abandoned,
        'their log lines + summaries': `${aborted.lines} + ${aborted.summaries}`,
        'timed-out log lines + summaries': `${timedOut.lines} + ${timedOut.summaries}`,
        'ordinary searches': normal.length,
        'search p99': ms(
          percentile(
            normal.map((call) => call.ms),
            99,
          ),
        ),
      },
      ...(notes.length ? { notes } : {}),
    });

    expect(late).toEqual([]);
    expect(failedNormal.map((call) => call.error)).toEqual([]);
    expect(errors).toEqual([]);
    expect(boundedLines).toBe(true);
    expect({ aborted: aborted.events, timedOut: timedOut.events }).toEqual({
      aborted: abandoned,
      timedOut: dribbles.length,
    });
  });

  it('a flood of idle connections three times the cap: the excess is answered 503 and closed at once, the rest are cut off by the headers timeout, and service resumes', async () => {
    const flood = await Promise.all(
      Array.from({ length: 3 * LIMITS.maxConnections }, () => rawConnection(server.url)),
    );
    const started = performance.now();
    const closedAt = await Promise.all(flood.map((connection) => connection.closed));
    const refused = flood.filter((connection) => connection.received().startsWith('HTTP/1.1 503'));
    const refusedWithCode = refused.filter((connection) =>
      connection.received().includes('"quarryCode":"SERVER_BUSY"'),
    );
    const lastClosedMs = Math.max(...closedAt) - started;
    let resumed: ApiCall<unknown> | undefined;
    for (let attempt = 0; attempt < 20 && resumed?.status !== 200; attempt++) {
      resumed = await callApi(
        server.url,
        'search.query',
        { collection: 'notes', vector, k: 5 },
        'open',
      );
      if (resumed.status !== 200) await sleep(250);
    }
    const held = flood.length - refused.length;
    const ok =
      held <= LIMITS.maxConnections &&
      refusedWithCode.length === refused.length &&
      lastClosedMs <= LIMITS.headersTimeoutMs + CLOSE_SLACK_MS &&
      resumed?.status === 200;
    recordTrial({
      suite: SUITE,
      scenario: `${3 * LIMITS.maxConnections} idle connections at once against QUARRY_MAX_CONNECTIONS=${LIMITS.maxConnections}: no more than the cap held, each refused one answered 503 SERVER_BUSY, every one closed by the server within the headers timeout + ${CLOSE_SLACK_MS / 1000} s, then a search is answered`,
      attempts: 1,
      survived: ok ? 1 : 0,
      metrics: {
        held,
        refused: refused.length,
        'last closed after': ms(lastClosedMs),
      },
    });
    expect(held).toBeLessThanOrEqual(LIMITS.maxConnections);
    expect(refused.length).toBeGreaterThanOrEqual(2 * LIMITS.maxConnections);
    expect(refusedWithCode.length).toBe(refused.length);
    expect(lastClosedMs).toBeLessThanOrEqual(LIMITS.headersTimeoutMs + CLOSE_SLACK_MS);
    expect(resumed?.status).toBe(200);
  });
});
