import { afterAll, beforeAll, expect, it } from 'vitest';
import { testTargets, type TestDatabase } from '@quarry/db/testing';
import type { Finding } from '../src/cli/doctor';
import { describeUnless, runCli } from './harness';

const citus = testTargets().find((target) => target.name === 'citus');

/** `quarry doctor` on a Citus coordinator (tooling/scripts/start-citus.sh): the cluster, node by node. */
describeUnless(
  citus ? undefined : 'set QUARRY_TEST_CITUS_URL',
  'quarry doctor on a Citus cluster',
  () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await (citus?.createDatabase() ?? Promise.reject(new Error('no Citus target')));
    }, 120_000);
    afterAll(() => database?.close());

    it('reports the workers and the shards of documents on each', async () => {
      const run = await runCli(['doctor', '--json', '--database-url', database.url ?? '']);
      const findings = JSON.parse(run.stdout) as Finding[];
      const cluster = findings.find((finding) => finding.check === 'cluster');
      expect(cluster?.verdict).toBe('ok');
      expect(cluster?.detail).toMatch(
        /^Citus [\d.-]+: documents in \d+ shards by tenant_id over 2 workers \(/,
      );
      expect(cluster?.detail.match(/\d+ shards, /g)).toHaveLength(2);
    });
  },
);
