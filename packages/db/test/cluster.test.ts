import { afterAll, beforeAll, expect, it } from 'vitest';
import { clusterLayout } from '../src/cluster';
import { documents } from '../src/schema';
import { describeEachTarget, type TestDatabase } from '../src/testing';
import { createCollection, randomVector, seededRandom } from './helpers';

describeEachTarget()('the cluster layout on $name', (target) => {
  let database: TestDatabase;
  let collectionId = 0;
  const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wonka', 'tyrell'];

  beforeAll(async () => {
    database = await target.createDatabase();
    const collection = await createCollection(database.db, { name: 'spread', dimensions: 4 });
    collectionId = collection.id;
    const random = seededRandom(5);
    for (const tenant of tenants) {
      await database.db.insert(documents).values(
        Array.from({ length: 25 }, (_, n) => ({
          collectionId,
          tenantId: tenant,
          content: `${tenant} ${n}`,
          embedding: randomVector(4, random),
        })),
      );
    }
  });
  afterAll(() => database?.close());

  it(
    target.name === 'citus'
      ? 'lists the coordinator and the workers with the shards of documents on each, and the collection rows per shard'
      : 'says the database is not distributed',
    async () => {
      const layout = await clusterLayout(database.db, collectionId);
      if (target.name !== 'citus') {
        expect(layout).toEqual({ distributed: false });
        return;
      }
      if (!layout.distributed) throw new Error('expected a distributed layout');
      expect(layout.distributionColumn).toBe('tenant_id');
      const coordinator = layout.nodes.filter((node) => node.role === 'coordinator');
      const workers = layout.nodes.filter((node) => node.role === 'worker');
      expect(coordinator).toHaveLength(1);
      expect(coordinator[0]?.shards).toBe(0);
      expect(workers).toHaveLength(2);
      expect(workers.every((node) => node.active && node.shards > 0 && node.bytes > 0)).toBe(true);
      expect(workers.reduce((sum, node) => sum + node.shards, 0)).toBe(layout.shardCount);
      const rows = layout.collectionRows ?? [];
      expect(rows.reduce((sum, shard) => sum + shard.rows, 0)).toBe(tenants.length * 25);
      // Eight tenants hashed over the shards land on more than one of them, on both workers.
      expect(new Set(rows.map((shard) => shard.node)).size).toBe(2);
    },
  );
});
