import { QuarryError, type Database } from '@quarry/db';
import { describe, expect, it } from 'vitest';
import { createReplicaSet, onReplica } from '../src/replicas';

/** A stand-in database whose every statement fails while `down` (as a refused connection would). */
function fakeDatabase(name: string) {
  const state = { down: false, statements: 0 };
  const refused = () =>
    new Error('Failed query: select 1', {
      cause: Object.assign(new Error(`connect ECONNREFUSED ${name}`), { code: 'ECONNREFUSED' }),
    });
  const database = {
    driver: 'postgres',
    pooled: false,
    db: {
      execute: () => {
        state.statements++;
        return state.down ? Promise.reject(refused()) : Promise.resolve([{ one: 1 }]);
      },
    },
    close: () => Promise.resolve(),
  } as unknown as Database;
  return { database, state, refused };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('read replicas with health', () => {
  it('a read that fails by connection on a replica runs on the primary, and the replica is marked unhealthy', async () => {
    const primary = fakeDatabase('primary');
    const replica = fakeDatabase('replica');
    const replicas = createReplicaSet([{ name: 'replica-1', database: replica.database }]);
    const ran: string[] = [];
    const answer = await onReplica({ database: primary.database, replicas }, (reader) => {
      if (reader === replica.database) {
        ran.push('replica');
        return Promise.reject(replica.refused());
      }
      ran.push('primary');
      return Promise.resolve('answered');
    });
    expect(answer).toBe('answered');
    expect(ran).toEqual(['replica', 'primary']);
    expect(replicas.status()).toEqual([
      expect.objectContaining({ name: 'replica-1', healthy: false, failures: 1 }),
    ]);
    expect(replicas.status()[0]?.detail).toContain('ECONNREFUSED');
    expect(replicas.candidates()).toEqual([]);
  });

  it("the request's own errors are thrown as they are, on the first server, and the replica stays healthy", async () => {
    const primary = fakeDatabase('primary');
    const replica = fakeDatabase('replica');
    const replicas = createReplicaSet([{ name: 'replica-1', database: replica.database }]);
    let runs = 0;
    await expect(
      onReplica({ database: primary.database, replicas }, () => {
        runs++;
        return Promise.reject(new QuarryError('FILTER_INVALID', 'bad filter'));
      }),
    ).rejects.toThrow('bad filter');
    expect(runs).toBe(1);
    expect(replicas.status()[0]?.healthy).toBe(true);
  });

  it('an unhealthy replica is probed after its backoff, which doubles per failed probe; a probe that answers brings it back', async () => {
    const replica = fakeDatabase('replica');
    const replicas = createReplicaSet([{ name: 'replica-1', database: replica.database }], {
      backoff: { initialMs: 50, maxMs: 1_000 },
    });
    replica.state.down = true;
    replicas.reportFailure(replica.database, replica.refused());
    expect(replicas.status()[0]?.retryInMs).toBeLessThanOrEqual(50);

    // Within the backoff nothing touches it.
    replicas.candidates();
    expect(replica.state.statements).toBe(0);
    await sleep(60);
    await replicas.check(1_000);
    expect(replica.state.statements).toBe(1);
    expect(replicas.status()[0]).toMatchObject({ healthy: false, failures: 2 });
    expect(replicas.status()[0]?.retryInMs).toBeGreaterThan(50);

    replica.state.down = false;
    await sleep(110);
    // A read's choice starts the probe in the background; the read itself does not wait for it.
    expect(replicas.candidates()).toEqual([]);
    await sleep(10);
    expect(replicas.status()[0]).toMatchObject({ healthy: true, failures: 0 });
    expect(replicas.candidates()).toEqual([replica.database]);
  });

  it('healthy replicas share the reads: each comes first about as often', () => {
    const [a, b] = [fakeDatabase('a'), fakeDatabase('b')];
    const replicas = createReplicaSet([
      { name: 'replica-1', database: a.database },
      { name: 'replica-2', database: b.database },
    ]);
    let aFirst = 0;
    for (let i = 0; i < 1_000; i++) if (replicas.candidates()[0] === a.database) aFirst++;
    expect(aFirst).toBeGreaterThan(400);
    expect(aFirst).toBeLessThan(600);
    expect(replicas.candidates()).toHaveLength(2);
  });
});
