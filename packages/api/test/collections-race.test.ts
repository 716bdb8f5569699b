import { afterAll, beforeAll, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { quarryErrorIn, vectorIndexDrift } from '@quarry/db';
import {
  collectionIndexProblems,
  collectionRaceRound,
  raceRefusals,
  type RaceStep,
} from '../src/testing';
import { createHarness, describeEachTarget, seededRandom, type Harness } from './harness';

/**
 * Collection changes racing each other and ingests (issue 13). The long version, over HTTP against
 * the real server, is apps/server/reliability/races.test.ts.
 */
const ROUNDS = 20;

describeEachTarget(['postgres', 'pgbouncer', 'citus'])('collection races on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target);
  });
  afterAll(() => harness?.close());

  async function send(step: RaceStep): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, step.delayMs));
    const caller = harness.as();
    const input = step.input as never;
    try {
      if (step.procedure === 'collections.create') await caller.collections.create(input);
      else if (step.procedure === 'collections.updateIndex')
        await caller.collections.updateIndex(input);
      else if (step.procedure === 'collections.delete') await caller.collections.delete(input);
      else if (step.procedure === 'collections.list') await caller.collections.list();
      else if (step.procedure === 'documents.ingest') await caller.documents.ingest(input);
      else await caller.search.query(input);
      return 'ok';
    } catch (error) {
      const code = quarryErrorIn(error)?.code;
      if (code && raceRefusals.has(code)) return code;
      const status = error instanceof TRPCError ? error.code : 'thrown';
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      return `${step.procedure}: ${status} ${code ?? ''} ${cause instanceof Error ? cause.message : String(cause)}`;
    }
  }

  it(`${ROUNDS} rounds of create, ingest, updateIndex and delete at once: every answer a success, 404 or 409, no orphaned index, recorded parameters those of the live index`, async () => {
    const random = seededRandom(13);
    const outcomes = new Map<string, number>();
    const problems: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const steps = collectionRaceRound(random, ['race-a', 'race-b']);
      for (const outcome of await Promise.all(steps.map(send))) {
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      problems.push(
        ...(await collectionIndexProblems(harness.database)).map((p) => `round ${round}: ${p}`),
      );
    }
    const unexpected = [...outcomes.keys()].filter(
      (outcome) => outcome !== 'ok' && !raceRefusals.has(outcome),
    );
    expect(unexpected).toEqual([]);
    expect(problems).toEqual([]);
    // The race did race: some calls found the collection deleted or already there.
    expect(outcomes.get('ok')).toBeGreaterThan(0);
    expect(outcomes.get('COLLECTION_NOT_FOUND') ?? 0).toBeGreaterThan(0);
  });
});

describeEachTarget()('reconciling indexes on $name', (target) => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await createHarness(target);
  });
  afterAll(() => harness?.close());

  it('drops the index of a collection that no longer exists and rebuilds one whose parameters differ from those recorded', async () => {
    const { migrate, collections, eq } = await import('@quarry/db');
    const caller = harness.as();
    const kept = await caller.collections.create({
      name: 'kept',
      dimensions: 4,
      embeddingModel: 'external',
    });
    const gone = await caller.collections.create({
      name: 'gone',
      dimensions: 4,
      embeddingModel: 'external',
    });
    const db = harness.database.db;
    // What the races left: the row deleted under an index build, and a row whose parameters were
    // changed without the index following.
    await db.delete(collections).where(eq(collections.id, gone.id));
    await db
      .update(collections)
      .set({ hnswM: 8, hnswEfConstruction: 32 })
      .where(eq(collections.id, kept.id));
    const drift = await vectorIndexDrift(db);
    expect(drift.orphaned).toEqual([
      { name: `documents_hnsw_c${gone.id}_m16_efc64`, collectionId: gone.id },
    ]);
    expect(drift.mismatched).toMatchObject([
      {
        collection: 'kept',
        recorded: { m: 8, efConstruction: 32 },
        live: [{ name: `documents_hnsw_c${kept.id}_m16_efc64`, m: 16, efConstruction: 64 }],
      },
    ]);
    await migrate(harness.database); // as at server start and by `quarry migrate`
    expect(await vectorIndexDrift(db)).toEqual({ orphaned: [], mismatched: [] });
    expect(await collectionIndexProblems(harness.database)).toEqual([]);
  });
});
