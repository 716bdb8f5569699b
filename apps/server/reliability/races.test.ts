import {
  collectionIndexProblems,
  collectionRaceRound,
  raceRefusals,
  seededRandom,
  type RaceStep,
} from '@quarry/api/testing';
import { createDb, type Database } from '@quarry/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiKeysEnv,
  keys,
  scratchPostgres,
  startServer,
  type ServerProcess,
} from '../test/harness';
import { recordTrial } from './report';
import { callApi, onDatabase, realDatabases, reliabilitySetting } from './workload';

/**
 * Collection changes racing each other over HTTP against the real server (issue 13): rounds of
 * create, ingest, updateIndex, delete, list and search on two collections at once, each call
 * sent after a random few milliseconds. Every answer must be a success, or a 404/409 saying the
 * collection is gone or already there; after each round no HNSW index may belong to a deleted
 * collection, and every collection must have exactly one valid index whose m/ef_construction (read
 * from PostgreSQL) are those it records. Once with direct connections, once through PgBouncer in
 * transaction mode. The fast version is packages/api/test/collections-race.test.ts.
 */

const ROUNDS = reliabilitySetting('RACE_ROUNDS', 100);
const SUITE = 'Collection races';
const databases = realDatabases();

describe.skipIf(!databases)('collection races over HTTP against the real server', () => {
  let scratch: Awaited<ReturnType<typeof scratchPostgres>>;
  let direct: Database;

  beforeAll(async () => {
    scratch = await scratchPostgres(databases?.postgresUrl ?? '');
    direct = await createDb({ driver: 'postgres', url: scratch.url, maxConnections: 2 });
  });
  afterAll(async () => {
    await direct?.close();
    await scratch?.drop();
  });

  for (const via of ['direct', 'pgbouncer'] as const) {
    it(`${ROUNDS} rounds through ${via === 'direct' ? 'direct connections' : 'PgBouncer (transaction mode)'}: no 500, no orphaned index, recorded parameters those of the live index`, async () => {
      const name = new URL(scratch.url).pathname.slice(1);
      const server: ServerProcess = await startServer({
        DATABASE_URL:
          via === 'direct' ? scratch.url : onDatabase(databases?.pgbouncerUrl ?? '', name),
        DATABASE_POOLED: String(via === 'pgbouncer'),
        QUARRY_API_KEYS: apiKeysEnv,
      });
      const started = performance.now();
      const outcomes = new Map<string, number>();
      const failures: string[] = [];
      let survived = 0;
      let attempts = 0;
      try {
        await server.waitForReady();
        const random = seededRandom(via === 'direct' ? 1301 : 1302);
        const send = async (step: RaceStep): Promise<string> => {
          await new Promise((resolve) => setTimeout(resolve, step.delayMs));
          const answer = await callApi(server.url, step.procedure, step.input, keys.admin);
          if (answer.status === 200) return 'ok';
          if (answer.quarryCode && raceRefusals.has(answer.quarryCode))
            return `${answer.status} ${answer.quarryCode}`;
          return `${step.procedure}: ${answer.error ?? answer.status}`;
        };
        for (let round = 0; round < ROUNDS; round++) {
          attempts++;
          const steps = collectionRaceRound(random, [`race-a`, `race-b`]);
          const answers = await Promise.all(steps.map(send));
          for (const answer of answers) outcomes.set(answer, (outcomes.get(answer) ?? 0) + 1);
          const unexpected = answers.filter(
            (answer) => answer !== 'ok' && !/^(404|409) /.test(answer),
          );
          const problems = await collectionIndexProblems(direct);
          if (unexpected.length === 0 && problems.length === 0) survived++;
          else failures.push(`round ${round}: ${[...unexpected, ...problems].join('; ')}`);
        }
      } finally {
        const fiveHundreds = [...outcomes]
          .filter(([answer]) => /: 5\d\d/.test(answer))
          .reduce((sum, [, count]) => sum + count, 0);
        const orphaned = (await collectionIndexProblems(direct)).filter((p) =>
          p.includes('deleted collection'),
        ).length;
        recordTrial({
          suite: SUITE,
          scenario: `${ROUNDS} rounds of create, 2 ingests, 2 updateIndex, delete (3 rounds in 4), list and search on two collections at once, ${via === 'direct' ? 'direct connections' : 'through PgBouncer, DATABASE_POOLED=true'}`,
          attempts,
          survived,
          metrics: {
            calls: [...outcomes.values()].reduce((sum, count) => sum + count, 0),
            ok: outcomes.get('ok') ?? 0,
            '404 COLLECTION_NOT_FOUND': outcomes.get('404 COLLECTION_NOT_FOUND') ?? 0,
            '409 COLLECTION_EXISTS': outcomes.get('409 COLLECTION_EXISTS') ?? 0,
            '5xx': fiveHundreds,
            'orphaned indexes at the end': orphaned,
            seconds: Math.round((performance.now() - started) / 100) / 10,
          },
          notes: failures.slice(0, 5),
        });
        await server.stop();
      }
      expect(failures).toEqual([]);
      expect(outcomes.get('404 COLLECTION_NOT_FOUND') ?? 0).toBeGreaterThan(0);
    });
  }
});
