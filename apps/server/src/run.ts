import { createApiKeyVerifier } from '@quarry/api';
import { startReembedWorker, type ReembedWorker } from '@quarry/api/reembed';
import { migrate } from '@quarry/db';
import { seedDemo, DEMO_COLLECTION } from './demo';
import { loadDemoDocuments } from './demo-corpus';
import type { ServerConfig } from './env';
import { createQuarryHttpServer } from './http/server';
import { defaultAdminDist } from './http/static';
import type { Logger } from './log';
import { createProgress } from './progress';
import { describeDatabase, openServices } from './services';

export interface RunningServer {
  url: URL;
  /** Resolves when start-up (migrations, demo data) is done and the API answers. */
  ready: Promise<void>;
  stop(reason: string): Promise<{ unfinished: number }>;
}

/**
 * Starts Quarry: opens the database, listens at once (so /healthz answers and /readyz can say
 * what it is waiting for), then applies migrations and fills the demo collection, then serves
 * the API. `stop` drains requests, interrupts start-up between batches and closes the pools.
 */
export async function runServer(
  config: ServerConfig,
  log: Logger,
  options: { interactive: boolean },
): Promise<RunningServer> {
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  log.info('opening the database', { database: describeDatabase(config.database) });
  const opened = await openServices({
    database: config.database,
    openai: config.openai,
    limits: config.limits,
    onNotice: (notice) =>
      log.info('database notice', { severity: notice.severity, notice: notice.message }),
  });
  log.info('database opened', { ms: elapsed() });

  const apiKeys = createApiKeyVerifier(config.apiKeys);
  if (apiKeys.open) {
    log.warn(
      'open access: no API keys are configured, so anyone who can reach this port can read, write and delete. Set QUARRY_API_KEYS before exposing it.',
      {
        host: config.host,
      },
    );
  }
  const http = createQuarryHttpServer({
    services: opened.services,
    apiKeys,
    corsOrigins: config.corsOrigins,
    maxBodyBytes: config.maxBodyBytes,
    headersTimeoutMs: config.headersTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    maxConnections: config.maxConnections,
    logRepeats: config.logRepeats,
    maxBatchCalls: config.maxBatchCalls,
    adminDist: config.adminDist ?? defaultAdminDist,
    log,
  });
  let url: URL;
  try {
    url = await http.listen(config.port, config.host);
  } catch (error) {
    await opened.close();
    throw error;
  }
  log.info('listening', { url: url.toString(), ms: elapsed() });

  const abortStartup = new AbortController();
  let reembedWorker: ReembedWorker | undefined;
  const ready = (async () => {
    if (config.autoMigrate) {
      http.setStartup({ ok: false, detail: 'applying migrations' });
      await migrate(opened.database);
      log.info('migrations applied', { ms: elapsed() });
    }
    if (config.demo && !abortStartup.signal.aborted) {
      http.setStartup({ ok: false, detail: `filling the demo collection '${DEMO_COLLECTION}'` });
      const progress = createProgress({
        label: `demo collection '${DEMO_COLLECTION}'`,
        interactive: options.interactive,
        write: (text) => process.stderr.write(text),
        report: (stats) =>
          log.info('demo progress', {
            documents: stats.done,
            total: stats.total,
            perSecond: Math.round(stats.perSecond),
            etaSeconds: stats.etaSeconds === undefined ? undefined : Math.round(stats.etaSeconds),
          }),
      });
      const outcome = await seedDemo({
        services: opened.services,
        load: loadDemoDocuments,
        signal: abortStartup.signal,
        onStart: (total, stored) => {
          log.info(
            `filling the demo collection '${DEMO_COLLECTION}' (State of the Union paragraphs, offline embeddings); later starts reuse it`,
            { total, alreadyStored: stored },
          );
          progress.setTotal(total);
          progress.update(stored);
        },
        onProgress: (stored) => {
          http.setStartup({
            ok: false,
            detail: `filling the demo collection '${DEMO_COLLECTION}': ${stored} documents`,
          });
          progress.update(stored);
        },
        onIndexBuild: () => {
          progress.finish();
          http.setStartup({ ok: false, detail: `building the HNSW index of '${DEMO_COLLECTION}'` });
          log.info(`building the HNSW index of '${DEMO_COLLECTION}'`);
        },
      });
      log.info(
        outcome.status === 'already-filled'
          ? 'demo collection already filled'
          : outcome.status === 'stopped'
            ? 'demo fill interrupted; the next start resumes it'
            : 'demo collection filled',
        {
          collection: DEMO_COLLECTION,
          documents: outcome.documents,
          inserted: outcome.inserted,
          seconds: outcome.seconds,
          perSecond:
            outcome.inserted > 0 && outcome.seconds > 0
              ? Math.round(outcome.inserted / outcome.seconds)
              : undefined,
        },
      );
    }
    if (abortStartup.signal.aborted) return;
    // Re-embed jobs left unfinished by a stopped process resume here (packages/api/src/reembed.ts).
    reembedWorker = startReembedWorker(opened.database, opened.services.embeddings, {
      log: (level, message, fields) => log[level](message, fields),
    });
    http.setStartup({ ok: true, detail: 'started' });
    log.info('ready', {
      url: url.toString(),
      dashboard: url.toString(),
      api: new URL('/trpc', url).toString(),
      startupMs: elapsed(),
    });
  })();
  ready.catch((error: unknown) => {
    http.setStartup({
      ok: false,
      detail: `start-up failed: ${error instanceof Error ? error.message : String(error)}`,
    });
  });

  return {
    url,
    ready,
    async stop(reason) {
      log.info('shutting down: no new connections; finishing requests in flight', {
        reason,
        timeoutMs: config.shutdownTimeoutMs,
      });
      abortStartup.abort();
      const drained = await http.drain(config.shutdownTimeoutMs);
      // A migration or demo batch that is running finishes before the database closes.
      await ready.catch(() => undefined);
      await reembedWorker?.stop();
      await opened.close();
      log.info('stopped', { unfinishedRequests: drained.unfinished });
      return drained;
    },
  };
}
