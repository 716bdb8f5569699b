import { collections, ensureVectorIndex, eq, migrate, vectorIndexDrift } from '@quarry/db';
import { describeEachTarget, type TestDatabase } from '@quarry/db/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { diagnoseDatabase } from '../src/cli/doctor';
import { loadConfig, type DatabaseSettings } from '../src/env';

/**
 * `quarry doctor` reports HNSW indexes that do not match the collections (issue 13: races left
 * indexes of deleted collections, and recorded parameters unlike the live index), and names the
 * fix, `quarry migrate`, whose reconcile the server also runs at start.
 */
describeEachTarget(['postgres'])('doctor and index drift on $name', (target) => {
  let database: TestDatabase;
  let settings: DatabaseSettings;
  beforeAll(async () => {
    database = await target.createDatabase();
    settings = loadConfig({ DATABASE_URL: database.url ?? '' }, '/').database;
  });
  afterAll(() => database?.close());

  const driftFindings = async () =>
    (await diagnoseDatabase(settings, database, [])).filter(
      (finding) =>
        finding.check === 'index drift' ||
        finding.check === 'orphaned index' ||
        finding.detail.includes('records m='),
    );

  it('warns of an orphaned index and of parameters unlike the live index, says to run quarry migrate, and is ok after it', async () => {
    const [kept, gone] = await database.db
      .insert(collections)
      .values([
        { name: 'kept', dimensions: 3, embeddingModel: 'external' },
        { name: 'gone', dimensions: 3, embeddingModel: 'external' },
      ])
      .returning();
    await ensureVectorIndex(database, kept!);
    await ensureVectorIndex(database, gone!);
    expect(await driftFindings()).toEqual([
      expect.objectContaining({ verdict: 'ok', check: 'index drift' }),
    ]);

    await database.db.delete(collections).where(eq(collections.id, gone!.id));
    await database.db
      .update(collections)
      .set({ hnswM: 8, hnswEfConstruction: 40 })
      .where(eq(collections.id, kept!.id));
    expect(await driftFindings()).toEqual([
      {
        verdict: 'warn',
        check: 'orphaned index',
        detail: expect.stringMatching(
          new RegExp(
            `^documents_hnsw_c${gone!.id}_m16_efc64 belongs to collection ${gone!.id}, which no longer exists.*run \`quarry migrate\`, which drops it$`,
          ),
        ),
      },
      {
        verdict: 'warn',
        check: 'index kept',
        detail: expect.stringMatching(
          /^records m=8, ef_construction=40, but its indexes are documents_hnsw_c\d+_m16_efc64 \(m=16, ef_construction=64\);.*run `quarry migrate`, which rebuilds it$/,
        ),
      },
    ]);

    await migrate(database);
    expect(await driftFindings()).toEqual([
      expect.objectContaining({ verdict: 'ok', check: 'index drift' }),
    ]);
    expect(await vectorIndexDrift(database.db)).toEqual({ orphaned: [], mismatched: [] });
  });
});
