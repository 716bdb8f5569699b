import { createHash, randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiKeysEnv,
  keys,
  postgresUrl,
  scratchPostgres,
  startServer,
  type ServerProcess,
} from '../test/harness';
import { recordTrial } from './report';
import { callApi, ms, percentile, reliabilitySetting } from './workload';

/**
 * Crash during ingest: documents go in batches over HTTP to the real server process while that
 * process is killed with SIGKILL at random moments and started again. Every batch acknowledged
 * with a 200 must be stored whole, byte for byte; a batch in flight at a kill may be stored whole
 * or not at all, never in part. Checked after every kill and at the end, by querying PostgreSQL.
 */

const DOCUMENTS = reliabilitySetting('CRASH_DOCUMENTS', 10_000);
const BATCH = reliabilitySetting('CRASH_BATCH', 50);
const CONCURRENCY = reliabilitySetting('CRASH_CONCURRENCY', 3);
const MIN_UPTIME_MS = reliabilitySetting('CRASH_MIN_UPTIME_MS', 50);
const MAX_UPTIME_MS = reliabilitySetting('CRASH_MAX_UPTIME_MS', 700);
/** The run fails unless at least this many kills cut off a request in flight. */
const MIN_KILLS_IN_FLIGHT = reliabilitySetting('CRASH_MIN_KILLS_IN_FLIGHT', 5);
const DIMENSIONS = 16;
const SUITE = 'Crash during ingest';

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

function sharedDatabase(): string | undefined {
  if (postgresUrl) return postgresUrl;
  if (process.env.QUARRY_TEST_REQUIRE_ALL === '1')
    throw new Error(
      'QUARRY_TEST_DATABASE_URL must be set: QUARRY_TEST_REQUIRE_ALL=1 forbids skipping the crash suite',
    );
  return undefined;
}
const databaseUrl = sharedDatabase();

interface Doc {
  content: string;
  metadata: { batch: number; position: number; tag: string };
  embedding: number[];
  externalId?: string;
}

/** A batch's identity: its documents' content, metadata and vector, in position order. */
function batchDigest(
  docs: ReadonlyArray<
    Pick<Doc, 'content' | 'metadata' | 'embedding'> & { externalId?: string | null }
  >,
): string {
  const hash = createHash('sha256');
  for (const doc of [...docs].sort((a, b) => a.metadata.position - b.metadata.position)) {
    hash.update(
      JSON.stringify([
        doc.content,
        doc.metadata.batch,
        doc.metadata.position,
        doc.metadata.tag,
        doc.embedding,
        doc.externalId ?? null,
      ]),
    );
  }
  return hash.digest('hex');
}

/** Even batches carry external ids (the upsert path), odd ones do not (deduplication by content hash). */
function makeBatch(batch: number, size: number): Doc[] {
  return Array.from({ length: size }, (_, position) => ({
    content: `crash batch ${batch} document ${position}: ${randomBytes(12).toString('hex')}`,
    metadata: { batch, position, tag: randomBytes(4).toString('hex') },
    embedding: Array.from({ length: DIMENSIONS }, () => Math.fround(Math.random() * 2 - 1)),
    ...(batch % 2 === 0 ? { externalId: `b${batch}-d${position}` } : {}),
  }));
}

interface Kill {
  /** Batches whose request had been sent to the killed process and not answered. */
  inFlight: number[];
  /** Right after the kill: of those, stored whole / absent / in part. */
  committed: number;
  absent: number;
  partial: number;
  /** Any batch of the whole run stored in part at that moment. */
  partialAnywhere: number[];
  /** The server's transactions open in PostgreSQL a moment before the kill. */
  openTransactions: number;
  uptimeMs: number;
  restartMs: number;
}

describe.skipIf(!databaseUrl)('crash during ingest (SIGKILL of the server process)', () => {
  let scratch: Awaited<ReturnType<typeof scratchPostgres>>;
  let db: postgres.Sql;
  let server: ServerProcess | undefined;

  beforeAll(async () => {
    scratch = await scratchPostgres(databaseUrl ?? '');
    db = postgres(scratch.url, { max: 2, onnotice: () => {} });
  });

  afterAll(async () => {
    await server?.stop('SIGKILL');
    await db?.end({ timeout: 1 });
    await scratch?.drop();
  });

  async function boot(): Promise<ServerProcess> {
    const started = await startServer({
      DATABASE_URL: scratch.url,
      QUARRY_API_KEYS: apiKeysEnv,
      DATABASE_MAX_CONNECTIONS: '4',
    });
    await started.waitForReady();
    return started;
  }

  /** Per batch: how many of its documents are stored. */
  async function storedCounts(collectionId: number): Promise<Map<number, number>> {
    const rows = await db<Array<{ batch: number; n: number }>>`
      select (metadata->>'batch')::int as batch, count(*)::int as n from documents where collection_id = ${collectionId} group by 1`;
    return new Map(rows.map((row) => [row.batch, row.n]));
  }

  it(`${DOCUMENTS.toLocaleString('en-US')} documents in batches of ${BATCH}, server killed at random moments: acknowledged batches whole, none in part`, async () => {
    const started = performance.now();
    server = await boot();
    const created = await callApi<{ id: number }>(
      server.url,
      'collections.create',
      { name: 'crash', dimensions: DIMENSIONS, embeddingModel: 'external/16d' },
      keys.admin,
    );
    expect(created.error).toBeUndefined();
    const collectionId = created.data?.id ?? -1;

    const batchCount = Math.ceil(DOCUMENTS / BATCH);
    const batches = Array.from({ length: batchCount }, (_, b) =>
      makeBatch(b, Math.min(BATCH, DOCUMENTS - b * BATCH)),
    );
    const pending = batches.map((_, b) => b);
    const acknowledged = new Map<number, string[]>();
    const inFlight = new Map<number, ServerProcess>();
    const unexpected: string[] = [];
    let attempts = 0;
    let restarting: Promise<void> | undefined;

    const workers = Array.from({ length: CONCURRENCY }, async () => {
      while (acknowledged.size < batchCount) {
        const batch = pending.shift();
        if (batch === undefined) {
          await sleep(20);
          continue;
        }
        await restarting;
        const target = server;
        if (!target) throw new Error('no server');
        inFlight.set(batch, target);
        attempts++;
        const answer = await callApi<{ ids: string[] }>(
          target.url,
          'documents.ingest',
          { collection: 'crash', documents: batches[batch] },
          keys.writer,
        );
        inFlight.delete(batch);
        if (answer.status === 200 && answer.data) {
          acknowledged.set(batch, answer.data.ids);
          continue;
        }
        // Refused or cut off: a real ingest job sends the batch again (it is idempotent).
        pending.unshift(batch);
        const killedOrStarting =
          answer.status === 0 ||
          (answer.status === 503 && answer.quarryCode === 'DATABASE_UNAVAILABLE');
        if (!killedOrStarting) unexpected.push(`batch ${batch}: ${answer.error ?? answer.status}`);
        await sleep(50);
      }
    });

    const kills: Kill[] = [];
    const killer = (async () => {
      while (acknowledged.size < batchCount) {
        const uptimeMs = MIN_UPTIME_MS + Math.random() * (MAX_UPTIME_MS - MIN_UPTIME_MS);
        await sleep(uptimeMs);
        if (acknowledged.size >= batchCount || !server) break;
        const victim = server;
        const cutOff = [...inFlight]
          .filter(([, target]) => target === victim)
          .map(([batch]) => batch);
        let restarted!: () => void;
        restarting = new Promise((resolve) => (restarted = resolve));
        // Earlier processes are dead and their sessions gone, so these are the victim's.
        const [{ open = 0 } = {}] = await db<Array<{ open: number }>>`
          select count(*)::int as open from pg_stat_activity where datname = current_database() and application_name = 'quarry-server-primary' and xact_start is not null`;
        await victim.stop('SIGKILL');
        // What PostgreSQL holds right after the kill: every batch is whole or absent.
        const counts = await storedCounts(collectionId);
        const size = (batch: number) => batches[batch]?.length ?? 0;
        const partialAnywhere = [...counts]
          .filter(([batch, n]) => n !== size(batch))
          .map(([batch]) => batch);
        const restartStarted = performance.now();
        server = await boot();
        restarted();
        kills.push({
          inFlight: cutOff,
          committed: cutOff.filter((b) => counts.get(b) === size(b)).length,
          absent: cutOff.filter((b) => !counts.has(b)).length,
          partial: cutOff.filter((b) => counts.has(b) && counts.get(b) !== size(b)).length,
          partialAnywhere,
          openTransactions: open,
          uptimeMs,
          restartMs: performance.now() - restartStarted,
        });
      }
    })();
    await Promise.all([...workers, killer]);

    // The end state, from PostgreSQL: every batch acknowledged, stored whole, exactly as sent.
    type StoredRow = {
      id: string;
      content: string;
      metadata: Doc['metadata'];
      embedding: string;
      external_id: string | null;
    };
    const rows = await db<StoredRow[]>`
      select id, content, metadata, embedding::text as embedding, external_id from documents where collection_id = ${collectionId}`;
    const byBatch = new Map<number, StoredRow[]>();
    for (const row of rows)
      byBatch.set(row.metadata.batch, [...(byBatch.get(row.metadata.batch) ?? []), row]);
    const mismatched: string[] = [];
    for (const [b, docs] of batches.entries()) {
      const stored = byBatch.get(b) ?? [];
      const ids = acknowledged.get(b);
      if (!ids) mismatched.push(`batch ${b} never acknowledged`);
      if (stored.length !== docs.length) {
        mismatched.push(`batch ${b}: ${stored.length} of ${docs.length} stored`);
        continue;
      }
      const storedDigest = batchDigest(
        stored.map((row) => ({
          ...row,
          externalId: row.external_id,
          embedding: (JSON.parse(row.embedding) as number[]).map(Math.fround),
        })),
      );
      if (storedDigest !== batchDigest(docs))
        mismatched.push(`batch ${b}: content differs from what was acknowledged`);
      if (
        ids &&
        [...ids].sort().join() !==
          stored
            .map((row) => row.id)
            .sort()
            .join()
      )
        mismatched.push(`batch ${b}: acknowledged ids differ from the stored ones`);
    }

    const killsInFlight = kills.filter((kill) => kill.inFlight.length > 0);
    const killHeld = (kill: Kill) => kill.partial === 0 && kill.partialAnywhere.length === 0;
    const cutOffBatches = kills.flatMap((kill) => kill.inFlight);
    recordTrial({
      suite: SUITE,
      scenario: `${DOCUMENTS.toLocaleString('en-US')} documents in ${batchCount} batches of ${BATCH} (${CONCURRENCY} in parallel, half with external ids) into the real server on PostgreSQL, SIGKILLed after ${MIN_UPTIME_MS}–${MAX_UPTIME_MS} ms of uptime, again and again until every batch was acknowledged`,
      attempts: kills.length,
      survived:
        mismatched.length === 0 && unexpected.length === 0 ? kills.filter(killHeld).length : 0,
      metrics: {
        kills: kills.length,
        'kills that cut off a request in flight': killsInFlight.length,
        'kills with a transaction of the server open in PostgreSQL just before': kills.filter(
          (kill) => kill.openTransactions > 0,
        ).length,
        'batches cut off (stored whole / absent / in part, right after the kill)': `${cutOffBatches.length} (${kills.reduce((s, k) => s + k.committed, 0)} / ${kills.reduce((s, k) => s + k.absent, 0)} / ${kills.reduce((s, k) => s + k.partial, 0)})`,
        'ingest requests sent': attempts,
        'documents stored / acknowledged': `${rows.length} / ${[...acknowledged.values()].reduce((s, ids) => s + ids.length, 0)}`,
        'batches whose content, ids and count match':
          batchCount - new Set(mismatched.map((m) => m.split(':')[0])).size,
        'restart to ready p50 / max': `${ms(
          percentile(
            kills.map((k) => k.restartMs),
            50,
          ),
        )} / ${ms(Math.max(...kills.map((k) => k.restartMs)))}`,
        'run time': `${((performance.now() - started) / 1000).toFixed(0)} s`,
      },
      notes: [
        'After each kill, PostgreSQL was queried before the restart: every batch of the run was stored whole or not at all. Cut-off batches were then sent again, as an ingest job would; a batch that had been stored although its answer was lost came back unchanged with the same ids.',
        'At the end every batch was compared with what was sent: count, content, metadata, vector (sha256 per batch) and the ids the acknowledgement returned.',
        ...mismatched.slice(0, 5),
        ...unexpected.slice(0, 5).map((u) => `unexpected answer: ${u}`),
        ...kills
          .filter((k) => !killHeld(k))
          .slice(0, 5)
          .map((k) => `partial batches after a kill: ${k.partialAnywhere.join(', ')}`),
      ],
    });

    expect(mismatched).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(kills.filter((kill) => !killHeld(kill))).toEqual([]);
    expect(rows).toHaveLength(DOCUMENTS);
    expect(killsInFlight.length).toBeGreaterThanOrEqual(MIN_KILLS_IN_FLIGHT);
  });
});
