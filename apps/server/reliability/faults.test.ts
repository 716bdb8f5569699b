import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  requireClusters,
  startCluster,
  type PostgresCluster,
  type StopMode,
} from '../test/clusters';
import { apiKeysEnv, keys, startServer, type ServerProcess } from '../test/harness';
import { recordTrial } from './report';
import {
  callApi,
  ms,
  percentile,
  randomUnitVector,
  reliabilitySetting,
  type ApiCall,
} from './workload';

/**
 * Database faults against a private PostgreSQL cluster that this suite stops and starts (the
 * machine's shared cluster is never touched): PostgreSQL restarted under traffic, a pathological
 * query cut off by the statement timeout, and more callers than pool connections.
 */

const RESTARTS = reliabilitySetting('FAULT_RESTARTS', 4);
const DOWN_MS = reliabilitySetting('FAULT_DOWN_MS', 3_000);
const TRAFFIC_CLIENTS = reliabilitySetting('FAULT_CLIENTS', 6);
const SLOW_ROWS = reliabilitySetting('FAULT_SLOW_ROWS', 150_000);
const SLOW_QUERIES = reliabilitySetting('FAULT_SLOW_QUERIES', 12);
const POOL_ROUNDS = reliabilitySetting('FAULT_POOL_ROUNDS', 3);
const POOL_CLIENTS = reliabilitySetting('FAULT_POOL_CLIENTS', 24);

/** A failure is "fast" below this; the pool retries a refused connection after at most 0.5 s. */
const FAIL_FAST_MS = 3_000;
/** A request still open after this is counted as hung. */
const HANG_MS = 30_000;
/** PostgreSQL back, Quarry must serve again within this, by itself. */
const RECOVERY_BOUND_MS = 15_000;
const DIMENSIONS = 8;
const SUITE = 'Database faults';

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

const clusters = requireClusters('the fault suite');

interface Outcome extends ApiCall<unknown> {
  procedure: string;
  sentAt: number;
  doneAt: number;
  hung: boolean;
}

/** `callApi`, with the send and finish times, and a bound after which the call counts as hung. */
async function timedCall(base: URL, procedure: string, input: unknown): Promise<Outcome> {
  const sentAt = performance.now();
  const hang = sleep(HANG_MS).then(() => 'hung' as const);
  const result = await Promise.race([callApi<unknown>(base, procedure, input, keys.admin), hang]);
  const doneAt = performance.now();
  if (result === 'hung')
    return {
      procedure,
      sentAt,
      doneAt,
      hung: true,
      status: 0,
      ms: doneAt - sentAt,
      data: undefined,
      error: 'no answer',
    };
  return { ...result, procedure, sentAt, doneAt, hung: false };
}

/** What a caller may see from a database fault: a typed, retryable error, never a 500 or a driver message. */
function isTypedDatabaseFault(outcome: Outcome): boolean {
  return (
    outcome.status === 503 &&
    (outcome.quarryCode === 'DATABASE_UNAVAILABLE' || outcome.quarryCode === 'DATABASE_BUSY')
  );
}

interface ReadyzAnswer {
  status: number;
  ms: number;
  databaseOk: boolean | undefined;
  detail: string | undefined;
}

interface RestartCycle {
  mode: StopMode;
  /** Requests sent after the stop completed and answered before the start began. */
  whileDown: Outcome[];
  readyzWhileDown: ReadyzAnswer[];
  /** From PostgreSQL accepting connections again to the first request served. */
  recoveryMs: number;
  readyAgainMs: number;
  problems: string[];
}

/** Status 0: no HTTP answer at all (the process is gone or the connection broke). */
async function readyz(server: ServerProcess): Promise<ReadyzAnswer> {
  const started = performance.now();
  try {
    const response = await fetch(new URL('/readyz', server.url), {
      signal: AbortSignal.timeout(HANG_MS),
    });
    const body = (await response.json()) as {
      checks?: { database?: { ok: boolean; detail: string } };
    };
    return {
      status: response.status,
      ms: performance.now() - started,
      databaseOk: body.checks?.database?.ok,
      detail: body.checks?.database?.detail,
    };
  } catch (error) {
    return {
      status: 0,
      ms: performance.now() - started,
      databaseOk: undefined,
      detail: String(error),
    };
  }
}

describe.skipIf(!clusters)('database faults (private PostgreSQL cluster)', () => {
  let cluster: PostgresCluster;
  let admin: postgres.Sql;
  const servers: ServerProcess[] = [];

  async function quarry(env: Record<string, string>): Promise<ServerProcess> {
    const server = await startServer({
      DATABASE_URL: cluster.url('quarry'),
      QUARRY_API_KEYS: apiKeysEnv,
      ...env,
    });
    servers.push(server);
    await server.waitForReady();
    return server;
  }

  beforeAll(async () => {
    // synchronous_commit stays on: an acknowledged commit must survive an immediate stop.
    cluster = await startCluster({ synchronous_commit: 'on', max_connections: 100 });
    const bootstrap = postgres(cluster.url('postgres'), { max: 1, onnotice: () => {} });
    await bootstrap`create database quarry`;
    await bootstrap.end();
    admin = postgres(cluster.url('quarry'), { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await Promise.allSettled(servers.map((server) => server.stop('SIGKILL')));
    await admin?.end({ timeout: 1 }).catch(() => undefined);
    await cluster?.remove();
  });

  it('PostgreSQL restarted under traffic: /readyz 503 while down, requests fail fast and typed, service resumes by itself, acknowledged writes kept', async () => {
    const server = await quarry({
      DATABASE_MAX_CONNECTIONS: '4',
      DATABASE_ACQUIRE_TIMEOUT_MS: '2000',
    });
    const created = await callApi(
      server.url,
      'collections.create',
      { name: 'traffic', dimensions: DIMENSIONS, embeddingModel: 'external/8d' },
      keys.admin,
    );
    expect(created.error).toBeUndefined();

    const outcomes: Outcome[] = [];
    const acknowledged: string[] = [];
    let sequence = 0;
    let stopTraffic = false;
    const traffic = Promise.all(
      Array.from({ length: TRAFFIC_CLIENTS }, async (_, client) => {
        for (let turn = 0; !stopTraffic; turn++) {
          let outcome: Outcome;
          if (turn % 3 === 0) {
            const contents = [0, 1].map(() => `client ${client} write ${sequence++}`);
            outcome = await timedCall(server.url, 'documents.ingest', {
              collection: 'traffic',
              documents: contents.map((content) => ({
                content,
                embedding: randomUnitVector(DIMENSIONS),
                metadata: { client },
              })),
            });
            if (outcome.status === 200) acknowledged.push(...contents);
          } else if (turn % 3 === 1) {
            outcome = await timedCall(server.url, 'search.query', {
              collection: 'traffic',
              vector: randomUnitVector(DIMENSIONS),
              k: 5,
            });
          } else {
            outcome = await timedCall(server.url, 'documents.count', { collection: 'traffic' });
          }
          outcomes.push(outcome);
          // A client that is refused backs off a little, as a real one would.
          if (outcome.status !== 200) await sleep(50);
        }
      }),
    );

    const cycles: RestartCycle[] = [];
    let restartPending = false;
    try {
      await sleep(1_000);
      for (let restart = 0; restart < RESTARTS; restart++) {
        const mode: StopMode = restart % 2 === 0 ? 'fast' : 'immediate';
        const problems: string[] = [];
        await cluster.stop(mode);
        restartPending = true;
        const downSince = performance.now();
        const readyzWhileDown: ReadyzAnswer[] = [];
        while (performance.now() - downSince < DOWN_MS) {
          readyzWhileDown.push(await readyz(server));
          await sleep(250);
        }
        const startingAt = performance.now();
        await cluster.start();
        restartPending = false;
        const upAt = performance.now();
        const whileDown = outcomes.filter((o) => o.sentAt >= downSince && o.doneAt <= startingAt);
        let recoveryMs = Number.NaN;
        let readyAgainMs = Number.NaN;
        while (
          performance.now() - upAt < RECOVERY_BOUND_MS &&
          (Number.isNaN(recoveryMs) || Number.isNaN(readyAgainMs))
        ) {
          const served = outcomes.find((o) => o.sentAt >= upAt && o.status === 200);
          if (served && Number.isNaN(recoveryMs)) recoveryMs = served.doneAt - upAt;
          if (Number.isNaN(readyAgainMs) && (await readyz(server)).status === 200)
            readyAgainMs = performance.now() - upAt;
          await sleep(50);
        }
        if (whileDown.length === 0)
          problems.push('no request was answered while the database was down');
        for (const o of whileDown.filter((o) => !isTypedDatabaseFault(o)))
          problems.push(`while down, ${o.procedure} got ${o.error ?? o.status}`);
        for (const o of whileDown.filter((o) => o.ms >= FAIL_FAST_MS))
          problems.push(`while down, ${o.procedure} took ${ms(o.ms)}`);
        for (const r of readyzWhileDown.filter((r) => r.status !== 503 || r.databaseOk !== false))
          problems.push(`/readyz answered ${r.status} while down`);
        if (Number.isNaN(recoveryMs))
          problems.push(
            `no request succeeded within ${RECOVERY_BOUND_MS} ms of PostgreSQL being back`,
          );
        if (Number.isNaN(readyAgainMs))
          problems.push(`/readyz not 200 within ${RECOVERY_BOUND_MS} ms of PostgreSQL being back`);
        cycles.push({ mode, whileDown, readyzWhileDown, recoveryMs, readyAgainMs, problems });
        await sleep(1_000);
      }
    } finally {
      stopTraffic = true;
      await traffic;
      if (restartPending) await cluster.start();
    }

    // Whatever happened around the stops, nobody saw a 500, a driver message or a hang.
    const untyped = outcomes.filter((o) => o.status !== 200 && !isTypedDatabaseFault(o));
    const hung = outcomes.filter((o) => o.hung);
    const stored = await admin<Array<{ content: string }>>`select content from documents`;
    const storedContents = new Set(stored.map((row) => row.content));
    const lost = acknowledged.filter((content) => !storedContents.has(content));
    const serverAlive = server.child.exitCode === null && server.child.signalCode === null;

    const downLatencies = cycles.flatMap((c) => c.whileDown.map((o) => o.ms));
    const readyzDown = cycles.flatMap((c) => c.readyzWhileDown);
    recordTrial({
      suite: SUITE,
      scenario: `PostgreSQL stopped for ${DOWN_MS / 1000} s and started again (alternately \`pg_ctl -m fast\` and \`-m immediate\`, a crash) under ${TRAFFIC_CLIENTS} clients of ingest, search and count`,
      attempts: cycles.length,
      // A request that saw a 500 or hung, a lost write or a dead server fails every cycle.
      survived:
        untyped.length + hung.length + lost.length === 0 && serverAlive
          ? cycles.filter((c) => c.problems.length === 0).length
          : 0,
      metrics: {
        requests: outcomes.length,
        'answered while down': downLatencies.length,
        'failure latency while down p50 / max': `${ms(percentile(downLatencies, 50))} / ${ms(Math.max(...downLatencies))}`,
        '/readyz while down': `${readyzDown.filter((r) => r.status === 503).length} of ${readyzDown.length} were 503`,
        'first success after start, max': ms(Math.max(...cycles.map((c) => c.recoveryMs))),
        '/readyz 200 again after start, max': ms(Math.max(...cycles.map((c) => c.readyAgainMs))),
        'untyped errors (500, driver text)': untyped.length,
        hung: hung.length,
        'acknowledged documents / lost': `${acknowledged.length} / ${lost.length}`,
      },
      notes: [
        'Quarry was never restarted; every answer while the database was down was 503 DATABASE_UNAVAILABLE or DATABASE_BUSY.',
        `/readyz detail while down: "${readyzDown[0]?.detail ?? ''}".`,
        ...cycles
          .flatMap((c, i) => c.problems.map((p) => `restart ${i + 1} (${c.mode}): ${p}`))
          .slice(0, 10),
        ...untyped.slice(0, 5).map((o) => `untyped: ${o.procedure} → ${o.error ?? o.status}`),
        ...server.logs
          .filter((record) => record.msg === 'procedure failed')
          .slice(0, 3)
          .map((record) => `server log of a 500: ${JSON.stringify(record.error).slice(0, 400)}`),
        ...(serverAlive
          ? []
          : [
              `Quarry exited (${server.child.exitCode ?? server.child.signalCode}): ${server.stderr().slice(-500)} ${JSON.stringify(server.logs.slice(-3))}`,
            ]),
      ],
    });

    expect(cycles.flatMap((c) => c.problems)).toEqual([]);
    expect(untyped.map((o) => `${o.procedure}: ${o.error ?? o.status}`)).toEqual([]);
    expect(hung).toHaveLength(0);
    expect(lost).toEqual([]);
    expect(serverAlive).toBe(true);
  });

  it('a pathological query is cancelled by the statement timeout with a typed error, and the pool stays healthy', async () => {
    const STATEMENT_TIMEOUT_MS = 50;
    const limited = await quarry({
      DATABASE_MAX_CONNECTIONS: '4',
      STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
    });
    const created = await callApi<{ id: number; index: { name: string } | null }>(
      limited.url,
      'collections.create',
      { name: 'slow', dimensions: DIMENSIONS, embeddingModel: 'external/8d' },
      keys.admin,
    );
    expect(created.error).toBeUndefined();
    // Rows straight into the table (the API would take minutes): long texts that all share a word,
    // so a keyword search for it ranks every row. The HNSW index is not needed for that.
    const [collection] = await admin<
      Array<{ id: number }>
    >`select id from collections where name = 'slow'`;
    for (const index of await admin<
      Array<{ indexname: string }>
    >`select indexname from pg_indexes where indexname like ${`documents_hnsw_c${collection?.id}_%`}`) {
      await admin.unsafe(`drop index "${index.indexname}"`);
    }
    await admin`
      insert into documents (collection_id, content, metadata, embedding)
      select ${collection?.id ?? 0}, 'common ' || repeat('harbor lantern granite meadow copper violet thunder ' || g || ' ', 20), jsonb_build_object('n', g), ${JSON.stringify(randomUnitVector(DIMENSIONS))}::vector
      from generate_series(1, ${SLOW_ROWS}) as g`;
    await admin`analyze documents`;
    // Ordinary requests go to a small collection of their own.
    expect(
      (
        await callApi(
          limited.url,
          'collections.create',
          { name: 'small', dimensions: DIMENSIONS, embeddingModel: 'external/8d' },
          keys.admin,
        )
      ).error,
    ).toBeUndefined();
    const small = Array.from({ length: 20 }, (_, i) => ({
      content: `small ${i}`,
      embedding: randomUnitVector(DIMENSIONS),
    }));
    expect(
      (
        await callApi(
          limited.url,
          'documents.ingest',
          { collection: 'small', documents: small },
          keys.admin,
        )
      ).error,
    ).toBeUndefined();
    const pathological = { collection: 'slow', mode: 'keyword', text: 'common harbor', k: 200 };

    // The same search without a limit, on a second server: it really is slow.
    const unlimited = await quarry({ STATEMENT_TIMEOUT_MS: '0' });
    const uncut = await timedCall(unlimited.url, 'search.query', pathological);
    expect(uncut.error).toBeUndefined();
    await unlimited.stop();

    const slow: Outcome[] = [];
    const quick: Outcome[] = [];
    await Promise.all([
      (async () => {
        for (let i = 0; i < SLOW_QUERIES; i++)
          slow.push(await timedCall(limited.url, 'search.query', pathological));
      })(),
      ...[0, 1].map(async () => {
        for (let i = 0; i < SLOW_QUERIES * 2; i++) {
          quick.push(
            await timedCall(
              limited.url,
              i % 2 === 0 ? 'documents.count' : 'search.query',
              i % 2 === 0
                ? { collection: 'small' }
                : { collection: 'small', vector: randomUnitVector(DIMENSIONS), k: 5 },
            ),
          );
        }
      }),
    ]);
    const after: Outcome[] = [];
    for (let i = 0; i < 20; i++)
      after.push(await timedCall(limited.url, 'documents.count', { collection: 'small' }));
    const [{ running = 0 } = {}] = await admin<Array<{ running: number }>>`
      select count(*)::int as running from pg_stat_activity where application_name like 'quarry-server%' and state = 'active'`;

    const cancelled = slow.filter((o) => o.status === 408 && o.quarryCode === 'STATEMENT_TIMEOUT');
    const cancelledInTime = cancelled.filter((o) => o.ms < STATEMENT_TIMEOUT_MS + 2_000);
    recordTrial({
      suite: SUITE,
      scenario: `a keyword search ranking ${SLOW_ROWS.toLocaleString('en-US')} rows with STATEMENT_TIMEOUT_MS=${STATEMENT_TIMEOUT_MS}, next to ordinary requests`,
      attempts: slow.length,
      survived: Math.min(
        cancelledInTime.length,
        quick.every((o) => o.status === 200) &&
          after.every((o) => o.status === 200) &&
          running === 0
          ? slow.length
          : 0,
      ),
      metrics: {
        'uncut runtime': ms(uncut.ms),
        'cancelled with 408 STATEMENT_TIMEOUT': `${cancelled.length} of ${slow.length}`,
        'answer time p50 / max': `${ms(
          percentile(
            slow.map((o) => o.ms),
            50,
          ),
        )} / ${ms(Math.max(...slow.map((o) => o.ms)))}`,
        'ordinary requests meanwhile / ok': `${quick.length} / ${quick.filter((o) => o.status === 200).length}`,
        'requests afterwards / ok': `${after.length} / ${after.filter((o) => o.status === 200).length}`,
        'statements still running afterwards': running,
      },
      notes: [
        ...new Set(
          slow.filter((o) => o.status !== 408).map((o) => `not cancelled: ${o.error ?? o.status}`),
        ),
      ],
    });

    expect(uncut.ms).toBeGreaterThan(STATEMENT_TIMEOUT_MS * 4);
    expect(slow.map((o) => o.quarryCode)).toEqual(slow.map(() => 'STATEMENT_TIMEOUT'));
    expect(cancelledInTime).toHaveLength(slow.length);
    expect(quick.filter((o) => o.status !== 200).map((o) => o.error)).toEqual([]);
    expect(after.filter((o) => o.status !== 200).map((o) => o.error)).toEqual([]);
    expect(running).toBe(0);
  });

  it('more callers than connections: ordinary load waits its turn; with the connections held, callers get DATABASE_BUSY after the bounded wait, and nothing refused is written', async () => {
    // Long enough that 24 callers queued on 2 connections are all served on a busy 2-core machine
    // (each waits for up to 12 requests ahead of it); the held rounds are refused after exactly this.
    const ACQUIRE_TIMEOUT_MS = 3_000;
    const server = await quarry({
      DATABASE_MAX_CONNECTIONS: '2',
      DATABASE_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS),
    });
    const created = await callApi(
      server.url,
      'collections.create',
      { name: 'pool', dimensions: DIMENSIONS, embeddingModel: 'external/8d' },
      keys.admin,
    );
    expect(created.error).toBeUndefined();
    const ingest = (content: string) =>
      timedCall(server.url, 'documents.ingest', {
        collection: 'pool',
        documents: [{ content, embedding: randomUnitVector(DIMENSIONS) }],
      });

    // Ordinary load: many more callers than the 2 connections, each request short. Everyone is served.
    const ordinary: Outcome[] = [];
    await Promise.all(
      Array.from({ length: POOL_CLIENTS }, async (_, client) => {
        for (let i = 0; i < 8; i++) {
          ordinary.push(
            await (i % 2 === 0
              ? ingest(`ordinary ${client}.${i}`)
              : timedCall(server.url, 'search.query', {
                  collection: 'pool',
                  vector: randomUnitVector(DIMENSIONS),
                  k: 5,
                })),
          );
        }
      }),
    );

    // Held: both connections stuck behind a lock; every other caller must be refused after the wait.
    const rounds: Array<{
      refused: Outcome[];
      holders: Outcome[];
      refusedWritten: number;
      holdersWritten: number;
      afterwards: Outcome[];
    }> = [];
    for (let round = 0; round < POOL_ROUNDS; round++) {
      const locker = postgres(cluster.url('quarry'), { max: 1, onnotice: () => {} });
      let holders: Outcome[] = [];
      let refused: Outcome[] = [];
      try {
        await locker`begin`;
        await locker`lock table documents in access exclusive mode`;
        const holding = Promise.all([0, 1].map((i) => ingest(`held ${round}.${i}`)));
        for (let waited = 0; waited < 100; waited++) {
          const [{ waiting = 0 } = {}] = await admin<Array<{ waiting: number }>>`
            select count(*)::int as waiting from pg_stat_activity where application_name like 'quarry-server%' and wait_event_type = 'Lock'`;
          if (waiting === 2) break;
          await sleep(50);
        }
        refused = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            i % 2 === 0
              ? ingest(`refused ${round}.${i}`)
              : timedCall(server.url, 'documents.count', { collection: 'pool' }),
          ),
        );
        await locker`rollback`;
        holders = await holding;
      } finally {
        await locker.end({ timeout: 1 });
      }
      const afterwards = await Promise.all(
        Array.from({ length: 10 }, (_, i) => ingest(`after ${round}.${i}`)),
      );
      const [written] = await admin<Array<{ refused: number; held: number }>>`
        select count(*) filter (where content like ${`refused ${round}.%`})::int as refused, count(*) filter (where content like ${`held ${round}.%`})::int as held from documents`;
      rounds.push({
        refused,
        holders,
        refusedWritten: written?.refused ?? -1,
        holdersWritten: written?.held ?? -1,
        afterwards,
      });
    }

    const roundHeld = (r: (typeof rounds)[number]) =>
      r.refused.every(
        (o) =>
          o.status === 503 &&
          o.quarryCode === 'DATABASE_BUSY' &&
          o.ms >= ACQUIRE_TIMEOUT_MS - 50 &&
          o.ms < ACQUIRE_TIMEOUT_MS + 2_000,
      ) &&
      r.holders.every((o) => o.status === 200) &&
      r.refusedWritten === 0 &&
      r.holdersWritten === 2 &&
      r.afterwards.every((o) => o.status === 200);
    const refusedAll = rounds.flatMap((r) => r.refused);
    const ordinaryOk = ordinary.filter((o) => o.status === 200);
    recordTrial({
      suite: SUITE,
      scenario: `${POOL_CLIENTS} clients on a pool of 2 connections (DATABASE_ACQUIRE_TIMEOUT_MS=${ACQUIRE_TIMEOUT_MS})`,
      attempts: ordinary.length,
      survived: ordinaryOk.length,
      metrics: {
        'latency p50 / p99': `${ms(
          percentile(
            ordinary.map((o) => o.ms),
            50,
          ),
        )} / ${ms(
          percentile(
            ordinary.map((o) => o.ms),
            99,
          ),
        )}`,
      },
      notes: [
        ...new Set(
          ordinary.filter((o) => o.status !== 200).map((o) => `failed: ${o.error ?? o.status}`),
        ),
      ],
    });
    recordTrial({
      suite: SUITE,
      scenario:
        'both connections held by ingests blocked on a table lock; 8 more callers (ingest, count) each round',
      attempts: rounds.length,
      survived: rounds.filter(roundHeld).length,
      metrics: {
        'refused with 503 DATABASE_BUSY': `${refusedAll.filter((o) => o.quarryCode === 'DATABASE_BUSY').length} of ${refusedAll.length}`,
        'refusal after min / max': `${ms(Math.min(...refusedAll.map((o) => o.ms)))} / ${ms(Math.max(...refusedAll.map((o) => o.ms)))}`,
        'refused ingests written': rounds.reduce((sum, r) => sum + r.refusedWritten, 0),
        'held ingests acknowledged and stored': `${rounds.filter((r) => r.holders.every((o) => o.status === 200)).length * 2} / ${rounds.reduce((sum, r) => sum + r.holdersWritten, 0)}`,
        'requests right after release ok': `${rounds.flatMap((r) => r.afterwards).filter((o) => o.status === 200).length} of ${rounds.flatMap((r) => r.afterwards).length}`,
      },
      notes: [
        ...new Set(
          refusedAll
            .filter((o) => o.quarryCode !== 'DATABASE_BUSY')
            .map((o) => `not refused as busy: ${o.error ?? o.status}`),
        ),
      ],
    });

    expect(ordinary.filter((o) => o.status !== 200).map((o) => o.error)).toEqual([]);
    for (const r of rounds) {
      expect(r.refused.map((o) => o.quarryCode)).toEqual(r.refused.map(() => 'DATABASE_BUSY'));
      for (const o of r.refused) {
        expect(o.status).toBe(503);
        expect(o.ms).toBeGreaterThanOrEqual(ACQUIRE_TIMEOUT_MS - 50);
        expect(o.ms).toBeLessThan(ACQUIRE_TIMEOUT_MS + 2_000);
      }
      expect(r.holders.map((o) => o.status)).toEqual([200, 200]);
      expect({ refusedWritten: r.refusedWritten, holdersWritten: r.holdersWritten }).toEqual({
        refusedWritten: 0,
        holdersWritten: 2,
      });
      expect(r.afterwards.filter((o) => o.status !== 200).map((o) => o.error)).toEqual([]);
    }
  });
});
