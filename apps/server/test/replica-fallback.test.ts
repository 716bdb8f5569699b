import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQuarryClient } from '@quarry/client';
import {
  describeOnPostgres,
  postgresUrl,
  runCli,
  scratchPostgres,
  type ServerProcess,
} from './harness';
import { startServerWithReplica } from './replication';

/**
 * A read replica that is down (issue 13: searches failed with 503 while /readyz said 200). The
 * "replica" is a port with nothing listening, and later a TCP relay on that port to the test
 * PostgreSQL, so the test sees exactly when the server talks to it.
 */
describeOnPostgres('a read replica that is down', () => {
  let database: Awaited<ReturnType<typeof scratchPostgres>>;
  let server: ServerProcess;
  let replicaPort: number;
  let relay: Server | undefined;
  const relayed = { connections: 0, bytes: 0 };
  const relaySockets = new Set<Socket>();
  const vector = [0.1, 0.2, 0.3];

  /** A port that was free a moment ago: nothing listens there until the relay does. */
  const closedPort = () =>
    new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });

  /** The replica comes up: a relay on its port to the real PostgreSQL, counting what passes. */
  const startRelay = (target: URL) =>
    new Promise<void>((resolve) => {
      relay = createServer((client) => {
        relayed.connections++;
        const upstream = connect(Number(target.port || 5432), target.hostname);
        for (const socket of [client, upstream]) {
          relaySockets.add(socket);
          socket.on('close', () => relaySockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.on('data', (chunk: Buffer) => (relayed.bytes += chunk.length));
        client.pipe(upstream).pipe(client);
      }).listen(replicaPort, '127.0.0.1', () => resolve());
    });

  const readyz = async () => {
    const response = await fetch(new URL('/readyz', server.url));
    return {
      status: response.status,
      body: (await response.json()) as {
        ready: boolean;
        degraded: boolean;
        replicas: Array<{ name: string; healthy: boolean; detail: string; failures: number }>;
      },
    };
  };

  const search = () =>
    createQuarryClient({ url: server.url }).search.query.query({
      collection: 'replicated',
      vector,
      k: 5,
      exact: true,
    });

  beforeAll(async () => {
    database = await scratchPostgres(postgresUrl ?? '');
    replicaPort = await closedPort();
    const replicaUrl = new URL(database.url);
    replicaUrl.host = `127.0.0.1:${replicaPort}`;
    server = await startServerWithReplica(database.url, replicaUrl.toString(), {
      content: 'on the primary',
      embedding: vector,
    });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    for (const socket of relaySockets) socket.destroy();
    await new Promise((resolve) => (relay ? relay.close(resolve) : resolve(undefined)));
    await database?.drop();
  });

  it('searches are answered from the primary, none fails', async () => {
    for (let i = 0; i < 10; i++) {
      const { results } = await search();
      expect(results.map((result) => result.content)).toEqual(['on the primary']);
    }
  });

  it('/readyz stays 200 and shows the replica unhealthy, with the reason', async () => {
    const { status, body } = await readyz();
    expect(status).toBe(200);
    expect(body.ready).toBe(true);
    expect(body.degraded).toBe(true);
    expect(body.replicas).toEqual([
      expect.objectContaining({
        name: `replica-1 (127.0.0.1:${replicaPort})`,
        healthy: false,
        detail: expect.stringContaining('ECONNREFUSED'),
      }),
    ]);
  });

  it('quarry doctor --url shows the replica as the server sees it', async () => {
    const run = await runCli(['doctor', '--url', server.url.toString()]);
    expect(run.stdout).toMatch(
      new RegExp(
        `^WARN\\s+replica-1 \\(127\\.0\\.0\\.1:${replicaPort}\\)\\s+unhealthy: .*ECONNREFUSED`,
        'm',
      ),
    );
  });

  it('once the replica is back, a probe marks it healthy and searches go to it again', async () => {
    await startRelay(new URL(database.url));
    const deadline = Date.now() + 15_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      healthy = (await readyz()).body.replicas[0]?.healthy ?? false;
    }
    expect(healthy).toBe(true);
    const { body } = await readyz();
    expect(body).toMatchObject({ ready: true, degraded: false });

    const before = relayed.bytes;
    for (let i = 0; i < 5; i++) {
      const { results } = await search();
      expect(results.map((result) => result.content)).toEqual(['on the primary']);
    }
    // Every search now went through the replica's port (readyz was not called meanwhile).
    expect(relayed.bytes - before).toBeGreaterThan(5 * 100);
  });
});
