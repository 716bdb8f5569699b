import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createQuarryClient } from '@quarry/client';
import { loadSotuParagraphs } from '@quarry/corpus';
import { scratchDir, startServer, type LogRecord, type ServerProcess } from './harness';

/**
 * The newcomer's path: the first start on an empty data directory fills the demo collection from
 * the State of the Union corpus; a start interrupted halfway resumes; later starts reuse the data.
 */
describe('first start on the embedded database', () => {
  const data = scratchDir('quarry-demo');
  const env = { QUARRY_DATA_DIR: join(data.path, 'db'), QUARRY_DEMO: 'true' };
  const corpusSize = loadSotuParagraphs().length;
  const servers: ServerProcess[] = [];
  afterAll(async () => {
    for (const server of servers) await server.stop('SIGKILL');
    data.remove();
  });
  const start = async () => {
    const server = await startServer(env);
    servers.push(server);
    return server;
  };
  const startupMs = (server: ServerProcess) =>
    Number(server.logs.find((record) => record.msg === 'ready')?.startupMs);

  it('shows progress, stops cleanly when interrupted mid-fill, and the next start resumes where it stopped', async () => {
    const first = await start();
    const progress = await first.waitForLog(
      (record: LogRecord) => record.msg === 'demo progress' && Number(record.documents) > 0,
      300_000,
    );
    expect(progress.total).toBe(corpusSize);
    expect(progress.perSecond).toBeTypeOf('number');
    expect((await fetch(new URL('/readyz', first.url))).status).toBe(503);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.logs.some((record) => record.msg.startsWith('demo fill interrupted'))).toBe(true);

    const second = await start();
    const resumed = await second.waitForLog(
      (record) => record.msg.startsWith('filling the demo collection'),
      120_000,
    );
    expect(Number(resumed.alreadyStored)).toBeGreaterThan(0);
    await second.waitForReady(600_000);
    const filled = second.logs.find((record) => record.msg === 'demo collection filled');
    expect(Number(filled?.inserted)).toBe(corpusSize - Number(resumed.alreadyStored));

    const client = createQuarryClient({ url: second.url });
    expect(await client.documents.count.query({ collection: 'sotu' })).toEqual({
      count: corpusSize,
    });
    const { results } = await client.search.query.query({
      collection: 'sotu',
      text: 'emancipation of slaves',
      k: 5,
    });
    expect(results).toHaveLength(5);
    expect(Object.keys(results[0]?.metadata ?? {})).toEqual(
      expect.arrayContaining(['president', 'year', 'party']),
    );
    expect(
      results.some(
        (result) => Number(result.metadata.year) >= 1855 && Number(result.metadata.year) <= 1870,
      ),
    ).toBe(true);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('a later start reuses the data directory without re-ingesting, and is quick', async () => {
    const later = await start();
    await later.waitForReady(120_000);
    expect(
      later.logs.find((record) => record.msg === 'demo collection already filled'),
    ).toMatchObject({ documents: corpusSize, inserted: 0 });
    const resumedStart = servers[1];
    expect(resumedStart).toBeDefined();
    expect(startupMs(later)).toBeLessThan(startupMs(resumedStart as ServerProcess) / 3);
    console.log(`later start: ${startupMs(later)} ms to ready`);
  });
});
