import type { ReplicaStatus } from '@quarry/api';
import type { Finding } from './doctor';

/**
 * A running server's view of its read replicas, from its `/readyz` body: one line per replica. An
 * unhealthy one is a warning, not a failure: the server is still ready, and sends searches to the
 * other replicas or the primary until a probe finds the replica answering again.
 */
export function replicaHealthFindings(readyz: { replicas?: ReplicaStatus[] }): Finding[] {
  return (readyz.replicas ?? []).map((replica) =>
    replica.healthy
      ? { verdict: 'ok', check: replica.name, detail: 'healthy: serves searches' }
      : {
          verdict: 'warn',
          check: replica.name,
          detail: `unhealthy: ${replica.detail} (${replica.failures} failure${replica.failures === 1 ? '' : 's'} in a row${replica.retryInMs === null ? '; being probed' : `; next probe in ${(replica.retryInMs / 1000).toFixed(1)} s`})`,
        },
  );
}
